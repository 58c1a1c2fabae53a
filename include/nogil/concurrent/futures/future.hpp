#pragma once
// concurrent.futures.Future: the result of work that runs somewhere else.

#include <nogil/concurrent/futures/detail/future_state.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <concepts>
#include <cstdio>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

namespace nogil::concurrent::futures {

template <class T>
class Future;

namespace detail {
using nogil::concurrent::futures::detail::CompletionNode;
using nogil::concurrent::futures::detail::FutureState;
using nogil::concurrent::futures::detail::FutureStateBase;
using nogil::concurrent::futures::detail::StateRef;

/// Reports an exception that escaped a done callback; the next callback still runs (Python logs it).
void report_callback_exception(std::exception_ptr exception) noexcept;
}  // namespace detail

/// A shared handle to the eventual result of a computation (Python's concurrent.futures.Future).
///
/// Copies refer to one state, as Python references do. Every member is safe to call from any
/// thread at once. States: pending → running → finished, or pending → cancelled.
/// `Future<void>` holds no value; its result() returns nothing.
///
/// Thread safety: every member may be called from any thread at once. Done callbacks run in the
/// thread that completes the future (the executor's worker or manager thread,
/// set_result()/set_exception(), or the thread whose cancel() cancelled it), outside the future's
/// lock, in the order they were added; one added to a done future runs at once in the adding
/// thread.
template <class T>
class Future {
public:
    using value_type = T;

    /// A new pending future, for code that implements an executor (as in Python).
    Future() : state_(new detail::FutureState<T>()) {}

    /// Cancels the call if it has not started: true if the future is now cancelled (also when it
    /// already was), false when it is running or finished.
    bool cancel() { return state().cancel(); }
    bool cancelled() const { return state().status() == nogil::concurrent::futures::detail::FutureStatus::cancelled; }
    /// True while an executor is running the call.
    bool running() const { return state().status() == nogil::concurrent::futures::detail::FutureStatus::running; }
    /// True once the future is finished (value or exception) or cancelled.
    bool done() const { return state().done(); }

    /// Waits for the result and returns it; re-throws the call's exception with its own type;
    /// throws CancelledError if the future was cancelled. On an lvalue the value stays in the
    /// shared state (the reference lives as long as any copy of the future); on an rvalue
    /// (`executor.submit(f).result()`) it is moved out, which is how move-only results are taken.
    std::add_lvalue_reference_t<T> result() const& { return get_ref(std::nullopt); }
    T result() && { return take(std::nullopt); }
    /// As result(), but throws TimeoutError if the future is not done within `timeout`.
    template <class Rep, class Period>
    std::add_lvalue_reference_t<T> result(std::chrono::duration<Rep, Period> timeout) const& {
        return get_ref(nogil::detail::deadline_after(timeout));
    }
    template <class Rep, class Period>
    T result(std::chrono::duration<Rep, Period> timeout) && {
        return take(nogil::detail::deadline_after(timeout));
    }

    /// Waits, then returns the call's exception (null if it returned normally). Throws
    /// CancelledError if cancelled.
    std::exception_ptr exception() const { return state().get_exception(std::nullopt); }
    /// As exception(), but throws TimeoutError if the future is not done within `timeout`.
    template <class Rep, class Period>
    std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
        return state().get_exception(nogil::detail::deadline_after(timeout));
    }

    /// Calls `fn(future)` once the future is finished or cancelled: in the thread that completes
    /// it, or at once in this thread if it already is done. Callbacks run in the order added; an
    /// exception from one is reported on stderr and does not stop the next.
    template <std::invocable<Future<T>> F>
    void add_done_callback(F fn) {
        struct Node final : detail::CompletionNode {
            explicit Node(F f) : fn(std::move(f)) {}
            void on_complete(detail::FutureStateBase& s) noexcept override {
                try {
                    s.retain();
                    fn(Future<T>(detail::StateRef<detail::FutureState<T>>(static_cast<detail::FutureState<T>*>(&s))));
                } catch (...) {
                    detail::report_callback_exception(std::current_exception());
                }
            }
            F fn;
        };
        state().add_callback(new Node(std::move(fn)));
    }

    /// Executor side: marks the future running (true), or returns false if it was cancelled, in
    /// which case the call must not run. Throws InvalidStateError if already running or finished.
    bool set_running_or_notify_cancel() { return state().set_running_or_notify_cancel(); }

    /// Executor side: stores the value and wakes every waiter. Throws InvalidStateError if the
    /// future is already finished or cancelled.
    template <class... Args>
        requires(std::is_void_v<T> ? sizeof...(Args) == 0 : std::is_constructible_v<T, Args...>)
    void set_result(Args&&... args) {
        state().set_value(std::forward<Args>(args)...);
    }
    /// Executor side: stores an exception, re-thrown by result(). Throws InvalidStateError if the
    /// future is already finished or cancelled, std::invalid_argument for a null pointer.
    void set_exception(std::exception_ptr exception) { state().set_exception(std::move(exception)); }

    /// True when both handles refer to the same future.
    friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_.get() == b.state_.get(); }

    /// For nogil's own executors and wait functions.
    explicit Future(detail::StateRef<detail::FutureState<T>> state) noexcept : state_(std::move(state)) {}
    detail::FutureState<T>& state() const {
        if (!state_) throw std::logic_error("use of a moved-from concurrent::futures::Future");
        return *state_.get();
    }

private:
    using Deadline = std::optional<std::chrono::steady_clock::time_point>;
    std::add_lvalue_reference_t<T> get_ref(Deadline deadline) const {
        auto& s = state();
        s.check_result(deadline);
        if constexpr (!std::is_void_v<T>) return s.value();
    }
    T take(Deadline deadline) const {
        auto& s = state();
        s.check_result(deadline);
        if constexpr (!std::is_void_v<T>) return std::move(s.value());
    }

    detail::StateRef<detail::FutureState<T>> state_;
};

}  // namespace nogil::concurrent::futures
