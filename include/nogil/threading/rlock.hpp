#pragma once
// threading.RLock: a reentrant lock owned by the thread that acquired it.

#include <nogil/threading/lock.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>

namespace nogil::threading {

class Condition;

/// Python's threading.RLock. The owning thread may acquire it again; it is free once released as
/// many times as acquired. Only the owner may release it. `with rlock:` is
/// `std::scoped_lock guard(rlock);` (Lockable and TimedLockable).
class RLock {
public:
    /// An unlocked, unowned lock.
    RLock() noexcept = default;
    RLock(const RLock&) = delete;
    RLock& operator=(const RLock&) = delete;

    /// If the calling thread owns the lock, counts one more level and returns true at once.
    /// Otherwise blocks until the lock is free (blocking=false: only tries) and returns whether
    /// the calling thread now owns it.
    bool acquire(bool blocking = true) {
        return acquire_impl(blocking, std::nullopt);
    }
    /// As acquire(), waiting at most `timeout` for another owner to let go; false on timeout.
    /// Throws std::invalid_argument for a negative timeout or for blocking=false.
    template <class Rep, class Period>
    bool acquire(bool blocking, std::chrono::duration<Rep, Period> timeout) {
        return acquire_impl(true, detail::lock_deadline(blocking, timeout));
    }
    /// Same as acquire(true, timeout).
    template <class Rep, class Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return acquire(true, timeout);
    }

    /// Drops one level of recursion; at zero the lock is free and one blocked acquirer wakes.
    /// Throws std::runtime_error("cannot release un-acquired lock") unless the calling thread
    /// owns the lock.
    void release();

    /// Whether any thread owns the lock right now (Python 3.14's RLock.locked()).
    bool locked() const noexcept { return owner_.load(std::memory_order_relaxed) != 0; }

    /// Lockable: acquire().
    void lock() { acquire(); }
    /// Lockable: release().
    void unlock() { release(); }
    /// Lockable: acquire(false).
    bool try_lock() { return acquire(false); }
    /// TimedLockable: acquire(timeout), a negative duration meaning "do not wait".
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
        return acquire_impl(true, nogil::detail::deadline_after(timeout));
    }
    /// TimedLockable: acquires before `deadline` or returns false.
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) {
        return try_lock_for(deadline - Clock::now());
    }

private:
    friend class Condition;
    /// What Condition::wait saves while it has fully released the lock (CPython's _release_save).
    struct Saved {
        unsigned long owner;
        std::size_t count;
    };
    bool acquire_impl(bool blocking, detail::Deadline deadline);
    bool is_owned() const noexcept;
    Saved release_save();
    void acquire_restore(Saved saved);

    Lock lock_;
    std::atomic<unsigned long> owner_{0};  // get_ident() of the owner, 0 when free
    std::size_t count_ = 0;                // touched only by the owner
};

}  // namespace nogil::threading
