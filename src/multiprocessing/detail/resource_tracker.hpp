#pragma once
// The resource tracker (Python's multiprocessing.resource_tracker), for SharedMemory names.
//
// A small process, spawned on first need, reading "R<name>" / "U<name>" messages on a
// SOCK_SEQPACKET socket whose sending end every process of the program holds (children receive
// it with their start request). When the last holder is gone — the program ended, normally or
// killed, with all its children — it unlinks every name still registered, so nothing is left in
// /dev/shm. It does not die with its parent (that is its job) and ignores SIGINT and SIGTERM.

#include <nogil/multiprocessing/detail/fd.hpp>

#include <string>
#include <sys/types.h>
#include <utility>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


/// Registers / unregisters a POSIX shared memory name ("/psm_...") with this program's tracker,
/// starting the tracker if needed. Best effort: a tracker that cannot start is reported on stderr.
void tracker_register(const std::string& posix_name);
void tracker_unregister(const std::string& posix_name);

/// Starts this program's tracker if it is not running (Process::start calls it, as Python's
/// spawn and forkserver do, so that children share it and their names outlive them).
void tracker_ensure_running();

/// This process's connection to the tracker (-1: none yet), for passing to a child.
int tracker_fd() noexcept;
/// In a child: use the parent's tracker.
void tracker_adopt(UniqueFd fd);

/// Starts a new tracker process; returns its pid and the sending end. (Tests use it directly.)
std::pair<pid_t, UniqueFd> start_resource_tracker();

/// The tracker's body (runs in the tracker process). Never returns.
[[noreturn]] void resource_tracker_main(int fd);

}  // namespace nogil::multiprocessing::detail
