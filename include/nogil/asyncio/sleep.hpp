#pragma once
// asyncio::sleep(delay) and sleep(delay, value).
//
//   co_await asyncio::sleep(100ms);          // any std::chrono::duration
//   co_await asyncio::sleep(0.5);            // seconds as a double (NaN: std::invalid_argument)
//   int v = co_await asyncio::sleep(1s, 7);  // returns the value
//
// sleep(0) (or a negative delay) yields to the loop once, with no timer: the task is resumed on
// the next loop turn. Otherwise a timer is armed; the task is resumed by the loop one turn
// after it fires. Cancelling the sleeping task removes the timer from the heap and throws
// CancelledError from this co_await.

#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include <chrono>
#include <cmath>
#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace nogil::asyncio::detail {

/// The waiter behind sleep() (the smallest example of the waiter protocol). 16 bytes: it lives
/// in the awaiting coroutine's frame, and every sleeping task holds one, so its state is one
/// tagged word (the vtable pointer is the other):
///   odd      the delay, not yet awaited: (nanoseconds << 1) | 1;
///   pointer  the armed timer (one reference held), once suspended with a positive delay;
///   2        cancel() took the cancellation (the timer is gone).
/// A sleep(0) keeps its (odd) delay after suspending: it has no timer and nothing to cancel.
class SleepWaiter : public Waiter {
public:
    explicit SleepWaiter(Clock::duration delay) noexcept
        : word_((static_cast<std::uintptr_t>(delay.count()) << 1) | 1u) {}
    /// Moves a not yet awaited sleep (e.g. into a task by wait_for or gather).
    SleepWaiter(SleepWaiter&& other) noexcept : word_(other.word_) {}
    SleepWaiter(const SleepWaiter&) = delete;
    SleepWaiter& operator=(const SleepWaiter&) = delete;
    ~SleepWaiter() {
        if (HandleState* t = timer()) {
            t->cancel();
            t->release();
        }
    }
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h) {
        TaskBase& task = TaskBase::current_or_throw("asyncio::sleep()");
        const Clock::duration delay(static_cast<Clock::rep>(static_cast<std::intptr_t>(word_) >> 1));
        if (delay <= Clock::duration::zero()) {
            task.suspend(nullptr, h);  // a bare yield: a cancel becomes a pending one
            task.wake();
            return;
        }
        Ref<HandleState> t = task.loop().call_at(Clock::now() + delay, &on_timer, &task);
        if (t) word_ = reinterpret_cast<std::uintptr_t>(t.detach());
        task.suspend(this, h);
    }
    bool cancel(const std::string&) override {
        HandleState* t = timer();
        if (!t || t->heap_index == HandleState::not_in_heap) return false;  // already fired
        auto& task = *static_cast<TaskBase*>(t->ctx);
        task.loop().remove_timer(*t);
        t->release();
        word_ = cancelled_mark;
        task.wake();
        return true;
    }

protected:
    /// Runs inside the task's step (await_resume), so the current task is the sleeper.
    void resumed() {
        TaskBase& task = *TaskBase::current();
        task.throw_if_cancel_requested();
        if (word_ == cancelled_mark) throw task.make_cancelled_error();
    }

private:
    static void on_timer(void* task) { static_cast<TaskBase*>(task)->wake(); }
    static constexpr std::uintptr_t cancelled_mark = 2;
    HandleState* timer() const noexcept {
        return (word_ & 1u) || word_ == cancelled_mark ? nullptr : reinterpret_cast<HandleState*>(word_);
    }

    std::uintptr_t word_;
};

template <class Rep, class Period>
Clock::duration sleep_delay(std::chrono::duration<Rep, Period> d) {
    const double seconds = std::chrono::duration<double>(d).count();
    if (std::isnan(seconds)) throw std::invalid_argument("delay must not be NaN");
    // "Forever", without overflow (SleepWaiter keeps 62 bits of nanoseconds: 73 years).
    if (seconds > 1.5e9) return std::chrono::hours(24 * 365 * 47);
    if (d <= d.zero()) return Clock::duration::zero();
    return std::chrono::ceil<Clock::duration>(d);
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// The awaitable sleep() returns; co_await it once.
template <class T = void>
class [[nodiscard]] SleepAwaiter : public detail::SleepWaiter {
public:
    SleepAwaiter(detail::Clock::duration d, T value) : SleepWaiter(d), value_(std::move(value)) {}
    T await_resume() {
        resumed();
        return std::move(value_);
    }

private:
    T value_;
};

template <>
class [[nodiscard]] SleepAwaiter<void> : public detail::SleepWaiter {
public:
    explicit SleepAwaiter(detail::Clock::duration d) noexcept : SleepWaiter(d) {}
    void await_resume() { resumed(); }
};

/// Suspends the current task for `delay`; see the header comment.
template <class Rep, class Period>
SleepAwaiter<> sleep(std::chrono::duration<Rep, Period> delay) {
    return SleepAwaiter<>(detail::sleep_delay(delay));
}
/// Suspends the current task for `delay`, then returns `value`.
template <class Rep, class Period, class T>
SleepAwaiter<T> sleep(std::chrono::duration<Rep, Period> delay, T value) {
    return SleepAwaiter<T>(detail::sleep_delay(delay), std::move(value));
}
/// Suspends the current task for `seconds`.
inline SleepAwaiter<> sleep(double seconds) { return sleep(std::chrono::duration<double>(seconds)); }
/// Suspends the current task for `seconds`, then returns `value`.
template <class T>
SleepAwaiter<T> sleep(double seconds, T value) {
    return sleep(std::chrono::duration<double>(seconds), std::move(value));
}

}  // namespace nogil::asyncio
