#pragma once
// The one check every nogil::queue class applies to a `timeout` argument, and the deadline it means.

#include <nogil/detail/futex.hpp>

#include <chrono>
#include <stdexcept>

namespace nogil::queue::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::deadline_after;


/// Python's rule for `timeout`: negative (or NaN) is std::invalid_argument (Python's ValueError),
/// checked before anything else so that bad input never blocks. Otherwise returns the steady-clock
/// deadline (time_point::max() for timeouts too long to represent: wait without limit).
template <class Rep, class Period>
std::chrono::steady_clock::time_point queue_deadline(std::chrono::duration<Rep, Period> timeout) {
    if (!(timeout >= timeout.zero())) throw std::invalid_argument("'timeout' must be a non-negative number");
    return deadline_after(timeout);
}

}  // namespace nogil::queue::detail
