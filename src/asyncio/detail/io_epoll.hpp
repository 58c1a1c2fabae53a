#pragma once
// epoll implementation of IoBackend: level-triggered interest per fd, and an eventfd that
// wakeup() writes to so that a sleeping epoll_wait returns (call_soon_threadsafe, signals).

#include <nogil/asyncio/detail/io_backend.hpp>

#include <unordered_map>

namespace nogil::asyncio::detail {

class EpollBackend final : public IoBackend {
public:
    /// Creates the epoll instance and the wake-up eventfd. Throws OSError.
    EpollBackend();
    ~EpollBackend() override;
    EpollBackend(const EpollBackend&) = delete;
    EpollBackend& operator=(const EpollBackend&) = delete;

    void watch(int fd, std::uint32_t events) override;
    std::size_t watched() const noexcept override { return interest_.size(); }
    void poll(std::optional<std::chrono::nanoseconds> timeout, std::vector<IoEvent>& out) override;
    void wakeup() noexcept override;
    IoBackendKind kind() const noexcept override { return IoBackendKind::epoll; }

private:
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::unordered_map<int, std::uint32_t> interest_;
};

}  // namespace nogil::asyncio::detail
