#pragma once
// An owned file descriptor (closed on destruction) and the poll-based waits multiprocessing uses
// on pipes, sockets and pidfds. Machinery: users never include this.

#include <chrono>
#include <optional>
#include <utility>

namespace nogil::detail {

/// Owns one file descriptor; -1 means none. Move-only.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the current descriptor (if any) and owns `fd` instead.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

/// Waits until `fd` is readable (data, EOF or hang-up) or the deadline passes; false on timeout.
/// EINTR is retried with the remaining time.
bool wait_readable(int fd, Deadline deadline);

/// Index of the first readable descriptor among `fds`, or -1 on timeout.
int wait_any_readable(const int* fds, int count, Deadline deadline);

/// Throws OSError naming `what` when `rc == -1` (errno), else returns rc.
long check_os(long rc, const char* what);

}  // namespace nogil::detail
