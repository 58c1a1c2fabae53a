#pragma once
// threading.Condition: lets threads wait, with a lock released, until another thread notifies.

#include <nogil/threading/detail/timed_acquire.hpp>
#include <nogil/threading/lock.hpp>
#include <nogil/threading/rlock.hpp>

#include <chrono>
#include <memory>

namespace nogil::threading {

/// Python's threading.Condition. Built on a Lock or an RLock (by default its own RLock, as in
/// Python); `with cond:` is `std::scoped_lock guard(cond);`. Waiters are woken in FIFO order:
/// each waiter sleeps on its own word, which notify() sets in the order the waits began.
///
/// Thread safety: any number of threads may share a Condition. wait*() and notify*() must be called
/// by a thread that holds the lock (std::runtime_error otherwise); acquire()/release() follow the
/// rules of the underlying lock.
class Condition : public detail::TimedAcquire<Condition> {
public:
    using detail::TimedAcquire<Condition>::acquire;  // acquire(blocking, timeout), acquire(timeout)

    /// A condition with its own RLock.
    Condition();
    /// A condition using `lock`, which must outlive the condition.
    explicit Condition(Lock& lock) noexcept;
    /// A condition using `lock`, which must outlive the condition.
    explicit Condition(RLock& lock) noexcept;
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;
    ~Condition();

    /// Acquires the underlying lock (same arguments and results as Lock/RLock::acquire).
    bool acquire(bool blocking = true);
    /// Releases the underlying lock.
    void release();

    /// Releases the lock (fully, for an RLock), blocks the calling thread until notify() or
    /// notify_all() picks it, then re-acquires the lock before returning true. Throws
    /// std::runtime_error("cannot wait on un-acquired lock") unless the caller holds the lock.
    bool wait() { return wait_until(std::nullopt); }

    /// As wait(), giving up after `timeout` (negative: at once). Returns false on timeout; the
    /// lock is re-acquired in either case. A notify() that picked this waiter is never lost: it
    /// returns true even if the timeout expired at the same moment.
    template <class Rep, class Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::wait_deadline(timeout));
    }

    /// Waits until `predicate()` is true (checked first, then after each wake-up, with the lock
    /// held) and returns its last result.
    template <class Predicate>
    auto wait_for(Predicate predicate) {
        auto result = predicate();
        while (!result) {
            wait();
            result = predicate();
        }
        return result;
    }

    /// As wait_for(predicate), giving up once `timeout` has passed in total; returns the last
    /// result of predicate(), which is false-like on timeout.
    template <class Predicate, class Rep, class Period>
    auto wait_for(Predicate predicate, std::chrono::duration<Rep, Period> timeout) {
        const auto deadline = detail::checked_wait_deadline(timeout);
        auto result = predicate();
        while (!result) {
            if (std::chrono::steady_clock::now() >= deadline) break;
            wait_until(deadline);
            result = predicate();
        }
        return result;
    }

    /// Wakes up to `n` threads waiting on this condition, oldest first; they resume inside their
    /// wait() once they re-acquire the lock (after the caller releases it). Throws
    /// std::runtime_error("cannot notify on un-acquired lock") unless the caller holds the lock.
    void notify(std::size_t n = 1);

    /// Wakes every thread waiting on this condition.
    void notify_all();

private:
    friend class detail::StdLockable<Condition>;
    friend class detail::TimedAcquire<Condition>;
    struct Waiter;
    bool acquire_until(detail::Deadline deadline);
    bool wait_until(detail::Deadline deadline);
    bool is_owned() const;

    std::unique_ptr<RLock> own_lock_;  // only when constructed without a lock
    Lock* plain_ = nullptr;
    RLock* recursive_ = nullptr;
    Lock waiters_lock_;  // guards the FIFO below; held only for list edits
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
};

}  // namespace nogil::threading
