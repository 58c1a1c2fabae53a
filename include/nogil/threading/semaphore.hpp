#pragma once
// threading.Semaphore and threading.BoundedSemaphore: a counter that acquire() decrements and
// release() increments, blocking at zero.

#include <nogil/threading/detail/lockable.hpp>
#include <nogil/threading/detail/timeout.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nogil::threading {

/// Python's threading.Semaphore. The counter is a futex word; waiters are not served in any
/// guaranteed order. `with sem:` is `std::scoped_lock guard(sem);` (Lockable).
///
/// Thread safety: every member may be called from any thread at once.
class Semaphore : public detail::StdLockable<Semaphore> {
public:
    /// A semaphore whose counter starts at `value`. Throws std::invalid_argument
    /// ("semaphore initial value must be >= 0") for a negative value, and std::overflow_error
    /// above 2^32 - 1 (the counter is one futex word; Python's is unbounded).
    explicit Semaphore(long long value = 1);
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    /// Decrements the counter, first blocking the calling thread while it is zero; returns true.
    /// With blocking=false, decrements only if that needs no wait and returns whether it did.
    bool acquire(bool blocking = true) {
        return try_acquire() || (blocking && acquire_until(std::nullopt));
    }
    /// As acquire(), waiting at most `timeout` (negative: not at all); false on timeout.
    /// Throws std::invalid_argument when blocking=false, as Python does.
    template <class Rep, class Period>
    bool acquire(bool blocking, std::chrono::duration<Rep, Period> timeout) {
        if (!blocking) throw std::invalid_argument("can't specify timeout for non-blocking acquire");
        return acquire_until(detail::checked_wait_deadline(timeout));
    }
    /// Same as acquire(true, timeout).
    template <class Rep, class Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return acquire(true, timeout);
    }

    /// Adds `n` to the counter and wakes up to `n` blocked acquirers (they resume inside their
    /// acquire()). Callable from any thread. Throws std::invalid_argument for n < 1
    /// ("n must be one or more") and std::overflow_error past 2^32 - 1.
    void release(long long n = 1);

protected:
    /// The most the counter may hold; release() beyond it throws (BoundedSemaphore's bound).
    Semaphore(long long value, std::uint32_t bound, const char* overflow_message);

private:
    friend class detail::StdLockable<Semaphore>;
    bool try_acquire() noexcept {
        std::uint32_t seen = value_.load(std::memory_order_relaxed);
        while (seen != 0) {
            if (value_.compare_exchange_weak(seen, seen - 1, std::memory_order_acquire, std::memory_order_relaxed))
                return true;
        }
        return false;
    }
    bool acquire_until(detail::Deadline deadline) noexcept;

    std::atomic<std::uint32_t> value_;
    std::atomic<std::uint32_t> sleepers_{0};
    std::uint32_t bound_;
    const char* overflow_message_;
};

/// Python's threading.BoundedSemaphore: a Semaphore whose release() throws
/// std::invalid_argument("Semaphore released too many times") if the counter would exceed
/// its initial value.
///
/// Thread safety: as Semaphore.
class BoundedSemaphore : public Semaphore {
public:
    /// A semaphore bounded by, and starting at, `value` (>= 0, else std::invalid_argument).
    explicit BoundedSemaphore(long long value = 1);
};

}  // namespace nogil::threading
