#pragma once
// threading.Lock: a primitive, non-recursive lock that any thread may release.

#include <nogil/threading/detail/lockable.hpp>
#include <nogil/threading/detail/timeout.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nogil::threading {

class RLock;
class Condition;

/// Python's threading.Lock. Not owned by a thread: a thread may release a lock that another
/// thread acquired (std::mutex forbids that, so this is a futex word with three states:
/// 0 unlocked, 1 locked, 2 locked with possible sleepers).
///
/// Python's `with lock:` is `std::scoped_lock guard(lock);` (Lock is TimedLockable, so
/// std::unique_lock, std::scoped_lock and std::unique_lock::try_lock_for work too).
/// Waiters are not served in any particular order, as in CPython.
class Lock : public detail::StdLockable<Lock> {
public:
    /// An unlocked lock.
    Lock() noexcept = default;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    /// Blocks the calling thread until it holds the lock; returns true.
    /// With blocking=false, takes the lock only if it is free at once and returns whether it did.
    bool acquire(bool blocking = true) {
        if (try_acquire()) return true;
        return blocking && acquire_until(std::nullopt);
    }

    /// Blocks the calling thread at most `timeout`; returns false if the lock was still held when
    /// the timeout expired. Throws std::invalid_argument for a negative timeout or when
    /// blocking=false (Python: "can't specify a timeout for a non-blocking call").
    template <class Rep, class Period>
    bool acquire(bool blocking, std::chrono::duration<Rep, Period> timeout) {
        return acquire_until(detail::lock_deadline(blocking, timeout));
    }
    /// Same as acquire(true, timeout): Python's `lock.acquire(timeout=t)`.
    template <class Rep, class Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return acquire(true, timeout);
    }

    /// Unlocks. May be called from any thread, not only the one that acquired the lock; wakes one
    /// blocked acquirer. Throws std::runtime_error("release unlocked lock") if it is not locked.
    void release() {
        std::uint32_t before = state_.exchange(0, std::memory_order_release);
        if (before != 1) release_slow(before);  // unlocked (an error) or sleepers to wake
    }

    /// Whether some thread holds the lock right now (a snapshot).
    bool locked() const noexcept { return state_.load(std::memory_order_relaxed) != 0; }

private:
    friend class detail::StdLockable<Lock>;
    friend class RLock;  // both build on the raw acquire paths
    friend class Condition;
    bool try_acquire() noexcept {
        std::uint32_t expected = 0;
        return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
    }
    bool acquire_until(detail::Deadline deadline) noexcept;
    void release_slow(std::uint32_t before);

    std::atomic<std::uint32_t> state_{0};
};

}  // namespace nogil::threading
