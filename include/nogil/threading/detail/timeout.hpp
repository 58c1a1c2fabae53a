#pragma once
// How threading's blocking calls turn a Python `timeout=` into a steady-clock deadline.
// No timeout (Python's None) is the overload without a duration, which passes std::nullopt.

#include <nogil/detail/futex.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>

namespace nogil::threading {

/// Python's threading.TIMEOUT_MAX (Linux, 64-bit): the longest timeout the blocking calls of
/// threading and queue accept. A longer one throws OverflowError("timeout value is too large").
/// (std::chrono's try_lock_for / try_lock_until keep the standard's meaning and saturate.)
inline constexpr std::chrono::duration<double> TIMEOUT_MAX{9223372036.0};

}  // namespace nogil::threading

namespace nogil::threading::detail {

/// OverflowError for a timeout above TIMEOUT_MAX, as Python's acquire(timeout=...) raises.
template <class Rep, class Period>
void check_timeout_max(std::chrono::duration<Rep, Period> timeout) {
    if (std::chrono::duration<double>(timeout) > TIMEOUT_MAX) throw OverflowError("timeout value is too large");
}

/// A point after which a blocking call gives up; std::nullopt waits forever.
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

/// Lock.acquire's rules (Python's lock_PyThread_acquire_lock): a timeout with blocking=false and a
/// negative timeout are ValueErrors; anything else becomes a deadline.
template <class Rep, class Period>
std::chrono::steady_clock::time_point lock_deadline(bool blocking, std::chrono::duration<Rep, Period> timeout) {
    nogil::detail::check_not_nan(timeout);  // Python converts the timeout first
    if (!blocking) throw std::invalid_argument("can't specify a timeout for a non-blocking call");
    if (timeout < timeout.zero()) throw std::invalid_argument("timeout value must be a non-negative number");
    check_timeout_max(timeout);
    return nogil::detail::deadline_after(timeout);
}

/// Condition.wait/Event.wait rules: a negative or NaN timeout means "do not wait", as in Python;
/// one above TIMEOUT_MAX is an OverflowError.
template <class Rep, class Period>
std::chrono::steady_clock::time_point wait_deadline(std::chrono::duration<Rep, Period> timeout) {
    check_timeout_max(timeout);
    return nogil::detail::deadline_after(timeout);
}

/// Semaphore.acquire, Condition.wait_for, Barrier.wait, Thread.join: negative means "do not
/// wait"; NaN is std::invalid_argument (Python raises ValueError in Thread.join; its Semaphore,
/// wait_for and Barrier spin forever on NaN, which we do not copy).
template <class Rep, class Period>
std::chrono::steady_clock::time_point checked_wait_deadline(std::chrono::duration<Rep, Period> timeout) {
    check_timeout_max(timeout);
    return nogil::detail::checked_deadline_after(timeout);
}

}  // namespace nogil::threading::detail
