#pragma once
// An owned file descriptor, closed on destruction: the one RAII fd type of the library
// (multiprocessing's pipes, sockets and pidfds; asyncio's subprocess pipes and sockets).
// Machinery: users never include this.

#include <unistd.h>
#include <utility>

namespace nogil::detail {

/// Owns one file descriptor; -1 means none. Move-only. Not thread-safe: one owner at a time.
class UniqueFd {
public:
    UniqueFd() noexcept = default;
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
    /// Closes the current descriptor (if any; errors ignored: the fd is gone either way on Linux)
    /// and owns `fd` instead. Async-signal-safe, so usable in a forked child before exec.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace nogil::detail
