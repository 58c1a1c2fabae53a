#pragma once
// The I/O backend interface behind the asyncio event loop: fd readiness and a cross-thread
// wake-up. Timers are not here: the loop keeps them in its own heap and turns the nearest
// deadline into poll()'s timeout. epoll is the implementation today (io_epoll.hpp); an io_uring
// backend would implement the same four calls.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace nogil::asyncio::detail {

/// Interest/readiness bits.
enum : std::uint32_t { io_readable = 1u, io_writable = 2u };

/// One readiness report: `events` is a mask of io_readable/io_writable (errors and hang-ups count
/// as both, so that the waiting side tries the call and sees the error).
struct IoEvent {
    int fd;
    std::uint32_t events;
};

class IoBackend {
public:
    virtual ~IoBackend() = default;
    /// Sets the interest mask for `fd` (0 removes it). Loop thread only. Throws OSError.
    virtual void watch(int fd, std::uint32_t events) = 0;
    /// Number of fds with a non-zero interest mask.
    virtual std::size_t watched() const noexcept = 0;
    /// Waits until an fd is ready, wakeup() is called or `timeout` passes (nullopt: no limit,
    /// zero: just look). Appends readiness to `out`. Loop thread only.
    virtual void poll(std::optional<std::chrono::nanoseconds> timeout, std::vector<IoEvent>& out) = 0;
    /// Makes a current or the next poll() return. Any thread; async-signal-safe.
    virtual void wakeup() noexcept = 0;
};

/// The platform's backend (epoll on Linux).
std::unique_ptr<IoBackend> make_io_backend();

}  // namespace nogil::asyncio::detail
