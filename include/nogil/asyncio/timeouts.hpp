#pragma once
// asyncio::timeout / timeout_at: a deadline for a block of the current task (Python 3.11's
// `async with asyncio.timeout(delay)`).
//
// C++ has no `async with`, so the block is a Coroutine run inline, in the current task, by the
// Timeout object:
//
//   auto cm = asyncio::timeout(5s);                  // not yet entered
//   int v = co_await cm.run(fetch(url));             // fetch runs in this task, under the deadline
//   if (cm.expired()) ...                            // (after TimeoutError was caught)
//
//   int w = co_await asyncio::timeout(5s, fetch(url));  // the same, when the object is not needed
//
// Why this spelling: the block stays in the current task (cancelling it is cancelling us, as in
// Python); the Timeout object has an address the block can use for reschedule(); run() can be
// entered once (RuntimeError otherwise); and no lambda temporary is built inside the co_await
// (g++ 12 miscompiles that). To write the block inline, name the lambda first:
//   auto body = [&]() -> asyncio::Coroutine<int> { ... };
//   co_await cm.run(body());
//
// Rules (Python's): when the deadline passes, the task is cancelled; if the block then ends
// with CancelledError and no other cancel request is pending (uncancel() brings the count back
// to what it was on entry), the CancelledError becomes TimeoutError. So a cancel from outside
// stays a CancelledError, and of nested timeouts with the same deadline only the outermost
// raises TimeoutError. A block that swallows the cancellation and returns normally returns its
// value. The deadline timer runs on the loop; expiry is seen by the task on its next loop turn.
// The TimeoutError carries the CancelledError it replaced nested (Python's `raise TimeoutError
// from exc`: std::rethrow_if_nested(e) throws it; docs/asyncio-cancellation.md, section 6). A
// negative delay is a deadline in the past (it expires at once).

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include <chrono>
#include <cmath>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace nogil::asyncio {

/// Python's asyncio.Timeout; see the header comment.
///
/// Thread safety: loop thread only; the deadline timer runs on the loop.
class Timeout {
public:
    using clock = std::chrono::steady_clock;

    /// A deadline on the steady clock (nullopt: none, until rescheduled).
    explicit Timeout(std::optional<clock::time_point> when) noexcept : when_(when) {}
    Timeout(const Timeout&) = delete;
    Timeout& operator=(const Timeout&) = delete;
    ~Timeout() {
        if (handle_) handle_->cancel();
    }

    /// The deadline in loop.time() seconds, or nullopt.
    std::optional<double> when() const noexcept {
        if (!when_) return std::nullopt;
        return std::chrono::duration<double>(when_->time_since_epoch()).count();
    }
    /// Moves the deadline (nullopt: none). Only while entered: RuntimeError otherwise.
    void reschedule(std::optional<clock::time_point> when);
    /// Same, in loop.time() seconds (NaN: std::invalid_argument).
    void reschedule(double when);
    /// True once the deadline passed while the block ran.
    bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }

    /// Runs `body` inline in the current task under this deadline; returns its value, or
    /// throws TimeoutError (see the rules in the header comment). Enter once: a second run()
    /// throws RuntimeError.
    template <class T>
    Coroutine<T> run(Coroutine<T> body) {
        enter();
        std::exception_ptr error;
        if constexpr (std::is_void_v<T>) {
            try {
                co_await std::move(body);
            } catch (...) {
                error = std::current_exception();
            }
            exit(error);
        } else {
            std::optional<T> value;
            try {
                value.emplace(co_await std::move(body));
            } catch (...) {
                error = std::current_exception();
            }
            exit(error);
            co_return std::move(*value);
        }
    }

private:
    enum class State { created, entered, expiring, expired, exited };
    void enter();
    /// Python's __aexit__: throws TimeoutError, re-throws `error`, or returns.
    void exit(const std::exception_ptr& error);
    void on_timeout();

    State state_ = State::created;
    std::optional<clock::time_point> when_;
    detail::Ref<detail::HandleState> handle_;
    detail::Ref<detail::TaskBase> task_;
    std::uint32_t cancelling_ = 0;
};

namespace detail {
template <class Rep, class Period>
Timeout::clock::time_point deadline(std::chrono::duration<Rep, Period> delay) {
    const double seconds = std::chrono::duration<double>(delay).count();
    if (std::isnan(seconds)) throw std::invalid_argument("delay must not be NaN");
    if (seconds > 3.2e9) return Timeout::clock::time_point::max();
    if (seconds < -3.2e9) return Timeout::clock::time_point{};
    // A negative delay is a deadline in the past (Python: loop.time() + delay); it expires at
    // once all the same.
    return Timeout::clock::now() + std::chrono::ceil<Timeout::clock::duration>(delay);
}
Timeout::clock::time_point from_loop_time(double when);

template <class T>
Coroutine<T> timeout_block(std::optional<Timeout::clock::time_point> when, Coroutine<T> body) {
    Timeout cm(when);
    co_return co_await cm.run(std::move(body));
}
}  // namespace detail

/// A Timeout expiring `delay` from now (any duration; NaN seconds: std::invalid_argument).
template <class Rep, class Period>
Timeout timeout(std::chrono::duration<Rep, Period> delay) {
    return Timeout(detail::deadline(delay));
}
/// A Timeout expiring `seconds` from now.
inline Timeout timeout(double seconds) { return timeout(std::chrono::duration<double>(seconds)); }
/// A Timeout without a deadline (until rescheduled): Python's timeout(None).
inline Timeout timeout(std::nullopt_t) { return Timeout(std::nullopt); }
/// A Timeout expiring at `when` on the steady clock.
inline Timeout timeout_at(Timeout::clock::time_point when) { return Timeout(when); }
/// A Timeout expiring at `when` in loop.time() seconds.
inline Timeout timeout_at(double when) { return Timeout(detail::from_loop_time(when)); }

/// Runs `body` in the current task with a deadline `delay` from now; see the header comment.
template <class Rep, class Period, class T>
Coroutine<T> timeout(std::chrono::duration<Rep, Period> delay, Coroutine<T> body) {
    return detail::timeout_block(std::optional(detail::deadline(delay)), std::move(body));
}
/// Same, with the delay in seconds.
template <class T>
Coroutine<T> timeout(double seconds, Coroutine<T> body) {
    return timeout(std::chrono::duration<double>(seconds), std::move(body));
}
/// Runs `body` in the current task with a deadline at `when` (steady clock).
template <class T>
Coroutine<T> timeout_at(Timeout::clock::time_point when, Coroutine<T> body) {
    return detail::timeout_block(std::optional(when), std::move(body));
}

}  // namespace nogil::asyncio
