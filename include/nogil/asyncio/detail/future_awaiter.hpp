#pragma once
// The awaiter for anything future-like (Future<T>, Task<T>, gather's result): a waiter in the
// sense of task_base.hpp. Suspending registers a done callback on the future; the
// callback steps the task inline (Python's Task.__wakeup), one loop turn after completion.
// Cancelling the awaiting task cancels the awaited future or task (Python's rule).

#include <nogil/asyncio/detail/future_base.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include <coroutine>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace nogil::asyncio::detail {

class FutureWaiter : public Waiter {
public:
    explicit FutureWaiter(FutureBase& fut) noexcept : fut_(&fut) {}
    FutureWaiter(const FutureWaiter&) = delete;
    FutureWaiter& operator=(const FutureWaiter&) = delete;
    ~FutureWaiter() { detach(); }

    /// A done future does not suspend (and, as in Python, does not see a pending cancel).
    bool await_ready() const noexcept { return fut_->done(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h) {
        TaskBase& task = TaskBase::current_or_throw("a Future or Task");
        if (&task == fut_) throw std::runtime_error("Task cannot await on itself: " + task.describe());
        if (&fut_->loop() != &task.loop())
            throw std::runtime_error("Task " + task.describe() + " got Future " + fut_->describe() +
                                     " attached to a different loop");
        link_.ctx = &task;
        fut_->add_callback(link_);
        task_ = &task;
        task.suspend(this, h);
    }
    /// Cancelling the awaiting task cancels what it awaits; the completion then wakes it.
    bool cancel(const std::string& msg) override { return fut_->cancel(msg); }
    /// Leaves the future's callbacks; the task is stepped by whoever abandoned the wait and
    /// throws its pending CancelledError in resumed() (an await cycle broken by cancel()).
    /// False when the future is already done: its callback has the task's step scheduled, and
    /// a second step would resume the frame twice.
    bool stop_waiting() noexcept override {
        if (!task_ || fut_->done()) return false;
        fut_->remove_callback(link_);
        return true;
    }

protected:
    /// Leaves the future, if still registered on it. Called by the destructor of a derived
    /// awaiter that owns the future (its reference may be the last), before it lets go. A
    /// frame destroyed by close() (the loop is closed) also drops the future's callbacks: none
    /// can run any more, and they may hold the future's source in a cycle (wrap_future).
    void detach() noexcept {
        if (!task_) return;
        if (!fut_->done()) {
            fut_->remove_callback(link_);
            if (fut_->loop().is_closed()) fut_->drop_callbacks();
        }
        task_ = nullptr;
    }

    /// First step of every await_resume: a cancel nobody took is thrown here.
    void resumed() {
        if (task_) task_->throw_if_cancel_requested();
    }

private:
    friend struct DebugLayout;  // on_done's context is the awaiting task (introspection.hpp rule 1)
    static void on_done(void* task, FutureBase&) { static_cast<TaskBase*>(task)->wake_now(); }

    FutureBase* fut_;
    TaskBase* task_ = nullptr;
    DoneLink link_{&on_done, nullptr};  // registered on fut_ while suspended (this frame holds it)
};

/// Typed result: State provides value() (a const T&) and take_value() (moves it out); both
/// throw what result() throws. Take: the awaited handle was an rvalue, move the value out.
template <class State, class T, bool Take = false>
class FutureAwaiter final : public FutureWaiter {
public:
    explicit FutureAwaiter(Ref<State> state) noexcept : FutureWaiter(*state), state_(std::move(state)) {}
    ~FutureAwaiter() { detach(); }  // while state_ still holds the future
    T await_resume() {
        resumed();
        if constexpr (std::is_void_v<T>)
            state_->check_result();
        else if constexpr (Take)
            return state_->take_value();
        else
            return state_->value();
    }

private:
    Ref<State> state_;
};

}  // namespace nogil::asyncio::detail
