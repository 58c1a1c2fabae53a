#pragma once
// The timed acquire() overloads that Lock, RLock and Condition share: Python's
// `lock.acquire(blocking, timeout)` and `lock.acquire(timeout=t)`, with Lock.acquire's rules.

#include <nogil/threading/detail/lockable.hpp>
#include <nogil/threading/detail/timeout.hpp>

#include <chrono>

namespace nogil::threading::detail {

/// Gives `Derived` the timed acquire() overloads and (through StdLockable) the standard
/// Lockable / TimedLockable names. Derived provides `acquire(bool blocking = true)`, release(),
/// a private `bool acquire_until(Deadline)`, befriends StdLockable<Derived> and TimedAcquire<Derived>,
/// and says `using TimedAcquire<Derived>::acquire;` so that both overload sets are visible.
template <class Derived>
class TimedAcquire : public StdLockable<Derived> {
public:
    /// Blocks the calling thread at most `timeout`; returns false if the lock could not be taken
    /// before the timeout expired. Throws std::invalid_argument for a negative timeout or when
    /// blocking=false (Python: "can't specify a timeout for a non-blocking call").
    template <class Rep, class Period>
    bool acquire(bool blocking, std::chrono::duration<Rep, Period> timeout) {
        return static_cast<Derived&>(*this).acquire_until(lock_deadline(blocking, timeout));
    }
    /// Same as acquire(true, timeout): Python's `lock.acquire(timeout=t)`.
    template <class Rep, class Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return acquire(true, timeout);
    }

protected:
    TimedAcquire() = default;
};

}  // namespace nogil::threading::detail
