#pragma once
// threading.Lock: a primitive, non-recursive lock that any thread may release.

#include <nogil/threading/detail/timed_acquire.hpp>
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
///
/// Thread safety: every member may be called from any thread at once; release() need not come from
/// the thread that acquired.
class Lock : public detail::TimedAcquire<Lock> {
public:
    using detail::TimedAcquire<Lock>::acquire;  // acquire(blocking, timeout), acquire(timeout)

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
    friend class detail::TimedAcquire<Lock>;
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
