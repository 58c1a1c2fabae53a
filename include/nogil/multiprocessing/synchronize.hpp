#pragma once
// multiprocessing.synchronize: Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
// that work between processes.
//
// Their state lives in shared memory (an anonymous memfd: nothing in /dev/shm) and they block on
// process-shared futexes. Pass one to a child as a Process/Pool argument or through a Connection
// or Queue: the child's copy is the same lock. Copies are shared handles. Every member is safe to
// call from any thread of any process holding the object. A process that dies holding a lock
// leaves it held (as in Python): use timeouts where that matters.

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/sem_lock.hpp>
#include <nogil/multiprocessing/detail/shared_handle.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <cstdint>
#include <optional>

namespace nogil::multiprocessing {

/// A non-recursive lock. Satisfies Lockable (std::scoped_lock works). Any process may release it.
///
/// Thread safety: every member from any thread of any process holding it; any process may release
/// it.
class Lock : public detail::SharedHandle<Lock>, public detail::SemLock<Lock> {
public:
    Lock();
    /// Blocks until acquired (blocking) or tries once (!blocking); true if acquired.
    bool acquire(bool blocking = true);
    /// acquire(timeout): waits at most `timeout`; true if acquired (a negative one tries once).
    using detail::SemLock<Lock>::acquire;
    /// Throws std::invalid_argument if not locked ("released too many times", as Python).
    void release();

private:
    friend class detail::SharedHandle<Lock>;
    friend class detail::SemLock<Lock>;
    explicit Lock(std::shared_ptr<detail::SharedBlock> block);
    bool acquire_until(detail::Deadline deadline);
};

/// A recursive lock: the owning thread (of the owning process) may acquire it again.
///
/// Thread safety: every member from any thread of any process holding it; release() only by the
/// owner.
class RLock : public detail::SharedHandle<RLock>, public detail::SemLock<RLock> {
public:
    RLock();
    bool acquire(bool blocking = true);
    using detail::SemLock<RLock>::acquire;
    /// Throws std::runtime_error if the calling thread does not own it.
    void release();

private:
    friend class detail::SharedHandle<RLock>;
    friend class detail::SemLock<RLock>;
    friend class Condition;
    explicit RLock(std::shared_ptr<detail::SharedBlock> block);
    bool acquire_until(detail::Deadline deadline);
    bool is_mine() const;
    std::uint32_t release_all();           // for Condition::wait: returns the recursion depth
    void acquire_restore(std::uint32_t n);  // and restores it
};

/// A counter that acquire() decrements, blocking at zero, and release() increments.
///
/// Thread safety: every member from any thread of any process holding it.
class Semaphore : public detail::SharedHandle<Semaphore>, public detail::SemLock<Semaphore> {
public:
    /// Throws std::invalid_argument for a negative value.
    explicit Semaphore(int value = 1);
    bool acquire(bool blocking = true);
    using detail::SemLock<Semaphore>::acquire;
    /// Adds `n`; a BoundedSemaphore throws std::invalid_argument past its initial value.
    void release(int n = 1);
    /// The current value (Python's get_value()).
    int get_value() const;

protected:
    Semaphore(int value, int max_value);
    explicit Semaphore(std::shared_ptr<detail::SharedBlock> block);

private:
    friend class detail::SharedHandle<Semaphore>;
    friend class detail::SemLock<Semaphore>;
    bool acquire_until(detail::Deadline deadline);
};

/// A Semaphore whose value may never exceed its initial value.
///
/// Thread safety: as Semaphore.
class BoundedSemaphore : public Semaphore {
public:
    explicit BoundedSemaphore(int value = 1) : Semaphore(value, value) {}
    static BoundedSemaphore nogil_load(nogil::detail::serial::InputArchive& ar) {
        return BoundedSemaphore(detail::SharedBlock::load(ar));
    }

private:
    explicit BoundedSemaphore(std::shared_ptr<detail::SharedBlock> block) : Semaphore(std::move(block)) {}
};

/// A flag that processes wait for.
///
/// Thread safety: every member from any thread of any process holding it.
class Event : public detail::SharedHandle<Event> {
public:
    Event();
    bool is_set() const;
    /// Sets the flag and wakes every waiter, in every process.
    void set();
    void clear();
    /// Waits until the flag is set; returns true.
    bool wait();
    /// Waits at most `timeout`; returns the flag.
    template <class Rep, class Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(nogil::detail::checked_deadline_after(timeout));
    }

private:
    friend class detail::SharedHandle<Event>;
    explicit Event(std::shared_ptr<detail::SharedBlock> block);
    bool wait_until(detail::Deadline deadline);
};

/// A condition variable over an RLock (Python's default lock for Condition). Waiters are never
/// woken spuriously: notify(n) wakes at most n of those waiting when it is called.
///
/// Thread safety: any thread of any process holding it; wait*()/notify*() only with the lock held
/// by the caller (std::runtime_error otherwise).
class Condition {
public:
    explicit Condition(RLock lock = RLock());
    bool acquire(bool blocking = true) { return lock_.acquire(blocking); }
    void release() { lock_.release(); }
    void lock() { lock_.acquire(); }
    bool try_lock() { return lock_.acquire(false); }
    void unlock() { lock_.release(); }

    /// Releases the lock, waits for a notify, re-acquires. Throws std::runtime_error if the
    /// caller does not hold the lock. Returns true.
    bool wait() { return wait_until(std::nullopt); }
    /// As wait(), at most `timeout`; false if it timed out.
    template <class Rep, class Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(nogil::detail::checked_deadline_after(timeout));
    }
    /// Waits until predicate() is true; returns its last value.
    template <class Predicate>
    bool wait_for(Predicate predicate) {
        while (!predicate()) wait();
        return true;
    }
    template <class Predicate, class Rep, class Period>
    bool wait_for(Predicate predicate, std::chrono::duration<Rep, Period> timeout) {
        auto deadline = nogil::detail::checked_deadline_after(timeout);
        bool result = predicate();
        while (!result) {
            if (!wait_until(deadline)) return predicate();
            result = predicate();
        }
        return result;
    }
    /// Wakes up to n waiters (the caller must hold the lock).
    void notify(int n = 1);
    void notify_all();

    template <class Archive>
    void save(Archive& ar) const {
        ar(lock_);
        detail::SharedBlock::save(ar, block_);
    }
    static Condition nogil_load(nogil::detail::serial::InputArchive& ar) {
        RLock lock = RLock::nogil_load(ar);
        return Condition(std::move(lock), detail::SharedBlock::load(ar));
    }

private:
    Condition(RLock lock, std::shared_ptr<detail::SharedBlock> block);
    bool wait_until(detail::Deadline deadline);
    RLock lock_;
    std::shared_ptr<detail::SharedBlock> block_;  // three semaphores: sleeping, woken, wait
};

/// A barrier for `parties` participants in any processes.
///
/// Thread safety: every member from any thread of any process holding it.
class Barrier : public detail::SharedHandle<Barrier> {
public:
    /// Throws std::invalid_argument unless parties >= 1. `timeout`: the default for wait().
    explicit Barrier(int parties, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// Waits for all parties; returns this waiter's arrival index in [0, parties). Throws
    /// BrokenBarrierError if the barrier is or becomes broken (abort, reset, a timeout).
    int wait();
    template <class Rep, class Period>
    int wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(nogil::detail::checked_deadline_after(timeout));
    }
    /// Returns the barrier to its empty state; current waiters get BrokenBarrierError.
    void reset();
    /// Breaks the barrier: current and future waiters get BrokenBarrierError until reset().
    void abort();
    int parties() const;
    int n_waiting() const;
    bool broken() const;

private:
    friend class detail::SharedHandle<Barrier>;
    explicit Barrier(std::shared_ptr<detail::SharedBlock> block);
    int wait_until(detail::Deadline deadline);
};

}  // namespace nogil::multiprocessing
