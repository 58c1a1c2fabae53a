#pragma once
// threading.Event: a flag that threads wait to see set.

#include <nogil/threading/detail/timeout.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nogil::threading {

class Thread;

/// Python's threading.Event. One futex word holds the flag, a "someone sleeps" bit and a count
/// of set() calls, so a waiter woken by set() returns true even if clear() ran before it woke
/// (CPython's test_set_and_clear guarantee), and set() makes no system call when nobody waits.
///
/// Thread safety: every member may be called from any thread at once.
class Event {
public:
    /// A cleared event.
    Event() noexcept = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    /// Whether the flag is set (a snapshot).
    bool is_set() const noexcept { return (word_.load(std::memory_order_acquire) & flag_bit) != 0; }

    /// Sets the flag and wakes every thread blocked in wait(); they resume inside their wait().
    /// Later wait() calls return at once until clear(). Callable from any thread.
    void set() noexcept;

    /// Resets the flag; later wait() calls block until the next set().
    void clear() noexcept;

    /// Blocks the calling thread until the flag is set; returns true.
    bool wait() noexcept { return wait_until(std::nullopt); }

    /// Blocks the calling thread at most `timeout` (negative: not at all); returns true if the
    /// flag was set (or set() was called while this thread waited), false on timeout.
    template <class Rep, class Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::wait_deadline(timeout));
    }

private:
    friend class Thread;  // join(timeout) waits with a deadline it already computed
    static constexpr std::uint32_t flag_bit = 1;
    static constexpr std::uint32_t sleepers_bit = 2;
    // set() adds this: its count lives above the two bits. It wraps after 2^30 set() calls; only
    // a waiter that sleeps through exactly that many set/clear cycles could miss one.
    static constexpr std::uint32_t generation_one = 4;

    bool wait_until(detail::Deadline deadline) noexcept;

    std::atomic<std::uint32_t> word_{0};
};

}  // namespace nogil::threading
