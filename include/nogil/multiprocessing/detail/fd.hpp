#pragma once
// The poll-based waits multiprocessing uses on pipes, sockets and pidfds, and the owned fd type
// (unique_fd.hpp) they go with. Machinery: users never include this.

#include <nogil/detail/unique_fd.hpp>

#include <chrono>
#include <optional>

namespace nogil::multiprocessing::detail {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

/// Waits until `fd` is readable (data, EOF or hang-up) or the deadline passes; false on timeout.
/// EINTR is retried with the remaining time.
bool wait_readable(int fd, Deadline deadline);

/// Index of the first readable descriptor among `fds`, or -1 on timeout.
int wait_any_readable(const int* fds, int count, Deadline deadline);

/// Throws OSError naming `what` when `rc == -1` (errno), else returns rc.
long check_os(long rc, const char* what);

}  // namespace nogil::multiprocessing::detail
