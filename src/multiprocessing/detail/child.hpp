#pragma once
// Starting a child process and what the child does first. Machinery behind Process and Pool.
//
// Every start method gives the child one end of a socket pair (the channel) and nothing else it
// must trust. The parent then sends one request frame: BootInfo (name, identity, daemon) and the
// EncodedCall to run. The child runs it and _exits: 0 when it returns, 1 when it throws (after
// reporting on stderr, as Python prints the traceback), or whatever the task passes to std::exit.
//
//   fork        fork() in the calling thread; the child runs child_main at once.
//   spawn       fork() + execve(/proc/self/exe) with NOGIL_MP_SPAWN=<fd>; a static initializer in
//               launch.cpp (the file that does the launching, hence always linked into a program
//               that can launch) sees the marker and runs child_main before main().
//   forkserver  a server spawned as above (NOGIL_MP_FORKSERVER=<fd>), single-threaded, forks on
//               request; it sends the child's pid, and later its wait status, on a per-child
//               status socket. The server exits, killing its children, when our control socket
//               closes (the parent process ended).
//
// Children get PR_SET_PDEATHSIG(SIGKILL): they die with the parent. Linux ties that signal to the
// thread that forked, so every fork runs on one launcher thread that lives as long as the process.

#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/fd.hpp>
#include "multiprocessing/detail/resource_tracker.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


enum class StartMethod { fork, spawn, forkserver };

/// Parses "fork" / "spawn" / "forkserver"; throws std::invalid_argument naming `method` otherwise.
StartMethod parse_start_method(std::string_view method);
std::string_view start_method_name(StartMethod method);

struct BootInfo {
    std::string name;
    std::string identity;  // "3", "3:1": position in the tree of processes (Python's _identity)
    bool daemon = false;
    int parent_pid = 0;

    // The program's resource tracker connection travels along (a child registers with the same
    // tracker as its parent, so that names outlive the child but not the program).
    template <class Archive>
    void save(Archive& ar) const {
        int tracker = tracker_fd();
        ar(name, identity, daemon, parent_pid, tracker >= 0);
        if (tracker >= 0) ar(serial::export_fd(tracker));
    }
    template <class Archive>
    void load(Archive& ar) {
        bool has_tracker = false;
        ar(name, identity, daemon, parent_pid, has_tracker);
        if (has_tracker) {
            std::uint32_t index = 0;
            ar(index);
            tracker_adopt(serial::import_fd(index));
        }
    }
};

/// The parent's view of a started child.
class ChildHandle {
public:
    ChildHandle(pid_t pid, UniqueFd sentinel, bool via_forkserver)
        : pid_(pid), sentinel_(std::move(sentinel)), via_forkserver_(via_forkserver) {}
    pid_t pid() const noexcept { return pid_; }
    /// Readable once the child has ended (a pidfd, or the fork server's status socket).
    int sentinel() const noexcept { return sentinel_.get(); }
    /// The exit code once the child has ended (reaping it), else nullopt at the deadline.
    /// Negative: killed by that signal. Not thread-safe: callers serialize.
    std::optional<int> wait(Deadline deadline);
    /// Sends `signal` unless the child is known to have been reaped.
    void send_signal(int signal);

private:
    pid_t pid_;
    UniqueFd sentinel_;
    bool via_forkserver_;
    std::optional<int> exitcode_;
};

struct Launched {
    ChildHandle child;
    UniqueFd channel;  // our end of the child's channel
};

/// Starts a child with `method`; it waits for its request frame on the channel.
Launched launch_child(StartMethod method);

/// Starts the fork server now if it is not running (set_start_method("forkserver") calls this).
void ensure_forkserver_running();

/// Registers (once) the exit handler that terminates daemonic children and joins the others.
/// Called before the first fork, so that no fork can copy glibc's exit-handler lock held.
void install_process_exit_handler();

/// Makes `mutex` (a process-wide singleton's, never destroyed) usable again in a forked child even
/// if another thread of the parent held it at the moment of fork() (CPython's _at_fork_reinit).
void reinit_after_fork(std::mutex* mutex);

/// The process-wide T, built on first use and never destroyed (a child _exits, and exit-time
/// users may race a destructor), with its `mutex` member registered with reinit_after_fork. A
/// function-local static: a spawned child runs before main, possibly before a file's
/// namespace-scope objects are initialized.
template <class T>
T& process_singleton() {
    static T* instance = [] {
        auto* created = new T;
        reinit_after_fork(&created->mutex);
        return created;
    }();
    return *instance;
}

/// Called first in a child made by fork() without exec (turns off exit-time leak checking there).
void mark_forked_child() noexcept;

/// The child side: reads the request from `channel_fd`, runs it, exits. Never returns.
[[noreturn]] void child_main(int channel_fd);

/// This process as a child sees it: "<name> (pid N)" ("MainProcess (pid N)" in the parent).
std::string describe_current_process();

/// In a child started by nogil: our end of the channel to the parent (-1 in the main process).
int channel_to_parent() noexcept;

}  // namespace nogil::multiprocessing::detail

namespace nogil::multiprocessing::detail {
/// The start method a Process or Pool uses when none is given (context.cpp).
StartMethod default_start_method();
}  // namespace nogil::multiprocessing::detail
