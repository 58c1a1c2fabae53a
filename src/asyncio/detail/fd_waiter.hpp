#pragma once
// Awaiting fd readiness inside a task (the building block for sockets, pipes and subprocess
// streams): `co_await detail::wait_readable(fd)` / `wait_writable(fd)`.
//
// Registers a one-shot reader/writer on the loop (Python's add_reader); when the fd is ready the
// loop calls it, it unregisters and steps the task inline. Cancelling the task unregisters the
// fd and throws CancelledError from the co_await. One waiter per fd and direction at a time.

#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include <coroutine>

namespace nogil::asyncio::detail {

class FdWaiter final : public Waiter {
public:
    FdWaiter(int fd, bool writable) noexcept : fd_(fd), writable_(writable) {}
    FdWaiter(const FdWaiter&) = delete;
    FdWaiter& operator=(const FdWaiter&) = delete;
    ~FdWaiter() { unregister(); }

    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h) {
        task_ = &TaskBase::current_or_throw("an fd wait");
        task_->loop().set_fd_callback(fd_, writable_, [this] {
            unregister();
            task_->wake_now();
        });
        registered_ = true;
        task_->suspend(this, h);
    }
    void await_resume() {
        task_->throw_if_cancel_requested();
        if (cancelled_) throw task_->make_cancelled_error();
    }
    bool cancel(const std::string&) override {
        if (!registered_) return false;
        unregister();
        cancelled_ = true;
        task_->wake();
        return true;
    }

private:
    void unregister() noexcept {
        if (!registered_) return;
        registered_ = false;
        try {
            if (!task_->loop().is_closed()) task_->loop().clear_fd_callback(fd_, writable_);
        } catch (...) {  // epoll_ctl failing on removal leaves nothing to undo
        }
    }

    int fd_;
    bool writable_;
    bool registered_ = false;
    bool cancelled_ = false;
    TaskBase* task_ = nullptr;
};

/// Suspends the current task until `fd` is readable (or at EOF / in error).
inline FdWaiter wait_readable(int fd) noexcept { return FdWaiter(fd, false); }
/// Suspends the current task until `fd` is writable (or in error).
inline FdWaiter wait_writable(int fd) noexcept { return FdWaiter(fd, true); }

}  // namespace nogil::asyncio::detail
