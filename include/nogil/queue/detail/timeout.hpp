#pragma once
// The one check every nogil::queue class applies to a `timeout` argument, and the deadline it means.

#include <nogil/detail/futex.hpp>
#include <nogil/threading/detail/timeout.hpp>

#include <chrono>
#include <stdexcept>

namespace nogil::queue::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::deadline_after;


/// Python's rule for `timeout`: negative (or NaN) is std::invalid_argument (Python's ValueError),
/// checked before anything else so that bad input never blocks; above threading::TIMEOUT_MAX it
/// is OverflowError. Otherwise returns the steady-clock deadline.
template <class Rep, class Period>
std::chrono::steady_clock::time_point queue_deadline(std::chrono::duration<Rep, Period> timeout) {
    if (!(timeout >= timeout.zero())) throw std::invalid_argument("'timeout' must be a non-negative number");
    threading::detail::check_timeout_max(timeout);  // Python's Condition.wait raises OverflowError
    return deadline_after(timeout);
}

}  // namespace nogil::queue::detail
