#include "asyncio/detail/io_epoll.hpp"

#include <nogil/errors.hpp>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

namespace {
std::uint32_t to_epoll(std::uint32_t events) {
    std::uint32_t e = 0;
    if (events & io_readable) e |= EPOLLIN;
    if (events & io_writable) e |= EPOLLOUT;
    return e;
}
}  // namespace

EpollBackend::EpollBackend() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw OSError(errno, "epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        int e = errno;
        ::close(epoll_fd_);
        throw OSError(e, "eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) {
        int e = errno;
        ::close(wake_fd_);
        ::close(epoll_fd_);
        throw OSError(e, "epoll_ctl(eventfd)");
    }
}

EpollBackend::~EpollBackend() {
    ::close(wake_fd_);
    ::close(epoll_fd_);
}

void EpollBackend::watch(int fd, std::uint32_t events) {
    auto it = interest_.find(fd);
    epoll_event ev{};
    ev.events = to_epoll(events);
    ev.data.fd = fd;
    if (events == 0) {
        if (it == interest_.end()) return;
        interest_.erase(it);
        // The fd may already be closed by its owner; epoll dropped it then, which is what we want.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
        return;
    }
    int op = it == interest_.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (::epoll_ctl(epoll_fd_, op, fd, &ev) < 0) throw OSError(errno, "epoll_ctl(fd=" + std::to_string(fd) + ")");
    interest_[fd] = events;
}

void EpollBackend::poll(std::optional<std::chrono::nanoseconds> timeout, std::vector<IoEvent>& out) {
    int ms = -1;
    if (timeout) {
        // Round up so that a timer is never polled for before it is due (no busy spinning).
        auto t = (timeout->count() + 999'999) / 1'000'000;
        ms = t > INT_MAX ? INT_MAX : static_cast<int>(t < 0 ? 0 : t);
    }
    epoll_event events[256];  // a busy server with hundreds of connections drains them in one call
    int n = ::epoll_wait(epoll_fd_, events, 256, ms);
    if (n < 0) {
        if (errno == EINTR) return;
        throw OSError(errno, "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_fd_) {
            std::uint64_t v;
            while (::read(wake_fd_, &v, sizeof v) > 0) {
            }
            continue;
        }
        std::uint32_t e = 0;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) e |= io_readable;
        if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) e |= io_writable;
        out.push_back({fd, e});
    }
}

void EpollBackend::wakeup() noexcept {
    std::uint64_t one = 1;
    // EAGAIN means the counter is saturated: the loop is woken anyway.
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace nogil::asyncio::detail
