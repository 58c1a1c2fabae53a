#pragma once
// asyncio::Future<T>: Python's asyncio.Future, a loop-bound result that coroutines await.
// A shared handle: copies refer to one future. Loop thread only (use call_soon_threadsafe to
// complete one from another thread).
//
// Awaiting: `T v = co_await fut;` suspends the task until the future is done; the task is
// resumed by the loop one turn after completion (from the done callbacks), and gets the value
// (a copy; `co_await std::move(fut)` moves it out, and is the only way for a move-only T), the
// exception, or CancelledError. Cancelling the awaiting task cancels the future. The value
// rules are Task's (asyncio/task.hpp). A future that got an exception nobody retrieved is
// reported when destroyed ("Future exception was never retrieved").

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/detail/future_awaiter.hpp>
#include <nogil/asyncio/detail/future_base.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace nogil::asyncio::detail {

/// A Future's state; composite futures (gather, shield) derive from it and override cancel().
template <class T>
class FutureState : public FutureBase {
public:
    using FutureBase::FutureBase;
    template <class U>
    void set_result(U&& v) {
        throw_if_done("invalid state");
        value_.emplace(std::forward<U>(v));
        finish();
    }
    const T& value() const {
        check_result();
        return *value_;
    }
    T take_value() {
        check_result();
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

template <>
class FutureState<void> : public FutureBase {
public:
    using FutureBase::FutureBase;
    void set_result() { finish(); }
    void value() const { check_result(); }
    void take_value() { check_result(); }
};

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// Thread safety: loop thread only; complete or cancel one from another thread through
/// loop.call_soon_threadsafe(). Done callbacks never run inline: they are queued on the loop
/// (call_soon), in registration order, and run on its thread.
template <class T = void>
class Future {
public:
    /// A new pending future on the running loop (throws std::runtime_error if none runs).
    Future() : Future(detail::running_loop_or_throw()) {}
    /// A new pending future on `loop` (Python's loop.create_future()).
    explicit Future(EventLoop& loop) : Future(loop.core()) {}

    /// Python's result(): the value; throws InvalidStateError("Result is not set.") if pending,
    /// CancelledError if cancelled, or the exception it was completed with.
    decltype(auto) result() const& { return state_->value(); }
    /// Same, moving the value out of the future (other handles then see a moved-from value).
    T result() && { return state_->take_value(); }
    /// Null on success; throws CancelledError if cancelled, InvalidStateError if pending.
    std::exception_ptr exception() const { return state_->exception(); }
    bool done() const noexcept { return state_->done(); }
    bool cancelled() const noexcept { return state_->cancelled(); }
    /// Cancels a pending future (callbacks scheduled); false if it was already done.
    bool cancel(std::string msg = {}) const { return state_->cancel(std::move(msg)); }

    /// Completes the future. Throws InvalidStateError if it is already done.
    template <class U = T>
        requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
    void set_result(U&& value) const {
        state_->set_result(std::forward<U>(value));
    }
    /// Completes a Future<void>. Throws InvalidStateError if it is already done.
    void set_result() const
        requires std::is_void_v<T>
    {
        state_->set_result();
    }
    /// Completes with an exception. Throws InvalidStateError if done.
    void set_exception(std::exception_ptr e) const { state_->set_exception(std::move(e)); }
    /// Same, from an exception object.
    template <class E>
        requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
    void set_exception(E&& e) const {
        state_->set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }

    /// fn(future) is scheduled on the loop (call_soon) when the future is done, or at once if it
    /// is. Returns an id for remove_done_callback (std::function has no equality to remove by).
    std::uint64_t add_done_callback(std::function<void(Future)> fn) const {
        return state_->add_done_callback(
            [fn = std::move(fn)](detail::FutureBase& f) { fn(Future(detail::Ref<State>(static_cast<State*>(&f)))); });
    }
    /// Removes a callback not yet scheduled; returns the number removed.
    std::size_t remove_done_callback(std::uint64_t id) const { return state_->remove_done_callback(id); }
    /// The loop this future belongs to.
    EventLoop& get_loop() const { return *state_->loop().owner(); }

    /// Waits and copies the value; see the header comment.
    detail::FutureAwaiter<detail::FutureState<T>, T, false> operator co_await() const& noexcept {
        static_assert(std::is_void_v<T> || std::is_copy_constructible_v<T>,
                      "co_await on a Future<T> lvalue copies the result, and T is move-only: write "
                      "co_await std::move(future) to move the result out");
        return detail::FutureAwaiter<State, T, false>(state_);
    }
    /// Waits and moves the value out; see the header comment.
    detail::FutureAwaiter<detail::FutureState<T>, T, true> operator co_await() && noexcept {
        return detail::FutureAwaiter<State, T, true>(state_);
    }
    friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_ == b.state_; }

    /// The machinery; not part of the public API.
    detail::FutureBase* state() const noexcept { return state_.get(); }
    using State = detail::FutureState<T>;
    /// The machinery: a handle to a derived state (gather, shield).
    template <class Derived>
    static Future from_state(detail::Ref<Derived> s) noexcept {
        return Future(detail::Ref<State>(std::move(s)));
    }

private:
    explicit Future(detail::LoopCore& core) : state_(detail::Ref<State>::adopt(new State(core))) {}
    explicit Future(detail::Ref<State> s) noexcept : state_(std::move(s)) {}
    detail::Ref<State> state_;
};

template <class T>
Future<T> EventLoop::create_future() {
    return Future<T>(*this);
}

}  // namespace nogil::asyncio
