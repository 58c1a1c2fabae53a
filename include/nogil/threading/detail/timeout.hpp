#pragma once
// How threading's blocking calls turn a Python `timeout=` into a steady-clock deadline.
// No timeout (Python's None) is the overload without a duration, which passes std::nullopt.

#include <nogil/detail/futex.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>

namespace nogil::threading::detail {

/// A point after which a blocking call gives up; std::nullopt waits forever.
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

/// Lock.acquire's rules (Python's lock_PyThread_acquire_lock): a timeout with blocking=false and a
/// negative timeout are ValueErrors; anything else becomes a deadline.
template <class Rep, class Period>
std::chrono::steady_clock::time_point lock_deadline(bool blocking, std::chrono::duration<Rep, Period> timeout) {
    nogil::detail::check_not_nan(timeout);  // Python converts the timeout first
    if (!blocking) throw std::invalid_argument("can't specify a timeout for a non-blocking call");
    if (timeout < timeout.zero()) throw std::invalid_argument("timeout value must be a non-negative number");
    return nogil::detail::deadline_after(timeout);
}

/// Condition.wait/Event.wait rules: a negative or NaN timeout means "do not wait", as in Python.
template <class Rep, class Period>
std::chrono::steady_clock::time_point wait_deadline(std::chrono::duration<Rep, Period> timeout) noexcept {
    return nogil::detail::deadline_after(timeout);
}

/// Semaphore.acquire, Condition.wait_for, Barrier.wait, Thread.join: negative means "do not
/// wait"; NaN is std::invalid_argument (Python raises ValueError in Thread.join; its Semaphore,
/// wait_for and Barrier spin forever on NaN, which we do not copy).
template <class Rep, class Period>
std::chrono::steady_clock::time_point checked_wait_deadline(std::chrono::duration<Rep, Period> timeout) {
    return nogil::detail::checked_deadline_after(timeout);
}

}  // namespace nogil::threading::detail
