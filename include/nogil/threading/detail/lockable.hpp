#pragma once
// The C++ side of every threading lock: the standard Lockable / TimedLockable names, so that
// std::scoped_lock, std::unique_lock (and its try_lock_for) work, which is Python's `with`.

#include <nogil/threading/detail/timeout.hpp>

#include <chrono>

namespace nogil::threading::detail {

/// Gives `Derived` (Lock, RLock, Condition, Semaphore) lock/unlock/try_lock/try_lock_for/
/// try_lock_until in terms of its Python methods. Derived provides acquire(), acquire(false),
/// release(), and a private `bool acquire_until(Deadline)` that blocks until the deadline.
template <class Derived>
class StdLockable {
public:
    /// Lockable: acquire() — blocks the calling thread until it holds the lock.
    void lock() { self().acquire(); }
    /// Lockable: release().
    void unlock() { self().release(); }
    /// Lockable: acquire(false) — never blocks.
    bool try_lock() { return self().acquire(false); }
    /// TimedLockable: acquire(timeout), a negative duration meaning "do not wait" (where
    /// Python's acquire(timeout=-1s) is a ValueError).
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
        return self().acquire_until(nogil::detail::deadline_after(timeout));
    }
    /// TimedLockable: acquires before `deadline` or returns false.
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) {
        return try_lock_for(deadline - Clock::now());
    }

protected:
    StdLockable() = default;

private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace nogil::threading::detail
