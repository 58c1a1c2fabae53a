#pragma once
// What multiprocessing's Lock, RLock and Semaphore share, as Python's do through SemLock: the
// timed acquire() and the standard Lockable names (std::scoped_lock works, Python's `with`).

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/fd.hpp>

#include <chrono>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::deadline_after;


/// Gives `Derived` acquire(timeout), lock(), try_lock() and unlock() in terms of its own
/// `acquire(bool blocking = true)`, `release()` and private `bool acquire_until(Deadline)`.
/// Derived befriends SemLock<Derived> and says `using SemLock<Derived>::acquire;` so that both
/// overload sets are visible.
template <class Derived>
class SemLock {
public:
    /// Blocks the calling thread at most `timeout`; true if acquired. A negative timeout counts as
    /// zero (one try), as in Python's _multiprocessing.SemLock.acquire — unlike threading.Lock,
    /// where it is a ValueError.
    template <class Rep, class Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return self().acquire_until(nogil::detail::checked_deadline_after(timeout));
    }
    /// Lockable: acquire() — blocks until acquired.
    void lock() { self().acquire(); }
    /// Lockable: acquire(false) — never blocks.
    bool try_lock() { return self().acquire(false); }
    /// Lockable: release().
    void unlock() { self().release(); }

protected:
    SemLock() = default;

private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace nogil::multiprocessing::detail
