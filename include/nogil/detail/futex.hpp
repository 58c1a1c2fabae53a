#pragma once
// The one place nogil blocks a thread on a word of memory: Linux futexes on a std::atomic<uint32_t>.
// Everything that sleeps (futures, locks, events, pool workers) is built on these two calls.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace nogil::detail {

/// Sleeps while `word == expected`, at most until `deadline` (none: no limit). Returns false only
/// when the deadline passed; true on a wake-up, a changed value or a spurious return. Callers
/// re-check their condition in a loop either way.
bool futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) noexcept;

/// Wakes up to `count` threads sleeping on `word` (INT32_MAX: all of them).
void futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept;

inline void futex_wake_all(const std::atomic<std::uint32_t>& word) noexcept { futex_wake(word, INT32_MAX); }

/// Converts a relative timeout to a deadline on the steady clock. Negative, zero and NaN count as
/// zero (do not wait: what Python's Condition.wait does with `timeout > 0` false, and so
/// Event.wait and concurrent.futures' result()); too long to represent waits without limit.
/// Never an out-of-range conversion (undefined behaviour for NaN or 1e300 seconds).
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
    auto now = std::chrono::steady_clock::now();
    if (!(timeout > timeout.zero())) return now;
    // Saturate instead of overflowing for very long timeouts (a day of seconds as double, say).
    using namespace std::chrono;
    if (duration<double>(timeout).count() > 1e9) return steady_clock::time_point::max();
    return now + duration_cast<steady_clock::duration>(timeout);
}

/// Python's time conversion (_PyTime_FromSecondsObject) refuses NaN with ValueError("Invalid value
/// NaN (not a number)"): std::invalid_argument here. For the waits whose Python version raises
/// it (Lock.acquire, Thread.join, Process.join, Connection.poll) or whose Python version has no
/// defined answer (it spins forever, or converts NaN to an integer in C): see docs/guarantees.md.
template <class Rep, class Period>
void check_not_nan(std::chrono::duration<Rep, Period> timeout) {
    if constexpr (std::is_floating_point_v<Rep>) {
        if (timeout.count() != timeout.count()) throw std::invalid_argument("Invalid value NaN (not a number)");
    }
}

/// check_not_nan, then deadline_after.
template <class Rep, class Period>
std::chrono::steady_clock::time_point checked_deadline_after(std::chrono::duration<Rep, Period> timeout) {
    check_not_nan(timeout);
    return deadline_after(timeout);
}

}  // namespace nogil::detail
