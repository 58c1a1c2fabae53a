#pragma once
// threading.RLock: a reentrant lock owned by the thread that acquired it.

#include <nogil/threading/detail/timed_acquire.hpp>
#include <nogil/threading/lock.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <pthread.h>

namespace nogil::threading {

class Condition;

/// Python's threading.RLock. The owning thread may acquire it again; it is free once released as
/// many times as acquired. Only the owner may release it. `with rlock:` is
/// `std::scoped_lock guard(rlock);` (Lockable and TimedLockable).
///
/// Thread safety: every member may be called from any thread at once; release() only by the owning
/// thread (std::runtime_error otherwise).
class RLock : public detail::TimedAcquire<RLock> {
public:
    using detail::TimedAcquire<RLock>::acquire;  // acquire(blocking, timeout), acquire(timeout)

    /// An unlocked, unowned lock.
    RLock() noexcept = default;
    RLock(const RLock&) = delete;
    RLock& operator=(const RLock&) = delete;

    /// If the calling thread owns the lock, counts one more level and returns true at once.
    /// Otherwise blocks until the lock is free (blocking=false: only tries) and returns whether
    /// the calling thread now owns it.
    bool acquire(bool blocking = true) {
        const unsigned long me = self_ident();
        if (owner_.load(std::memory_order_relaxed) == me) {
            ++count_;
            return true;
        }
        if (lock_.try_acquire()) {
            take(me);
            return true;
        }
        return blocking && acquire_until(std::nullopt);
    }

    /// Drops one level of recursion; at zero the lock is free and one blocked acquirer wakes.
    /// Throws std::runtime_error("cannot release un-acquired lock") unless the calling thread
    /// owns the lock.
    void release() {
        if (owner_.load(std::memory_order_relaxed) != self_ident()) throw_unacquired();
        if (--count_ == 0) {
            owner_.store(0, std::memory_order_relaxed);
            lock_.release();
        }
    }

    /// Whether any thread owns the lock right now (Python 3.14's RLock.locked()).
    bool locked() const noexcept { return lock_.locked(); }

private:
    friend class detail::StdLockable<RLock>;
    friend class detail::TimedAcquire<RLock>;
    friend class Condition;
    /// What Condition::wait saves while it has fully released the lock (CPython's _release_save).
    struct Saved {
        unsigned long owner;
        std::size_t count;
    };
    // owner_ is written only by the thread that holds lock_, so a thread that reads its own
    // ident there really is the owner: relaxed loads suffice for that test.
    static unsigned long self_ident() noexcept { return static_cast<unsigned long>(::pthread_self()); }  // get_ident()
    void take(unsigned long me) noexcept {
        owner_.store(me, std::memory_order_relaxed);
        count_ = 1;
    }
    [[noreturn]] static void throw_unacquired();
    bool acquire_until(detail::Deadline deadline);
    bool is_owned() const noexcept;
    Saved release_save();
    void acquire_restore(Saved saved);

    Lock lock_;
    std::atomic<unsigned long> owner_{0};  // get_ident() of the owner, 0 when free
    std::size_t count_ = 0;                // touched only by the owner
};

}  // namespace nogil::threading
