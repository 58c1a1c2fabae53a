#pragma once
// Python's asyncio.locks: Lock, Event, Condition, Semaphore, BoundedSemaphore
// (Barrier is in <nogil/asyncio/barrier.hpp>).
//
//   asyncio::Lock lock;
//   {
//       auto guard = co_await lock.scoped();  // Python's `async with lock:`
//       ...                                   // released when `guard` leaves the scope
//   }
//   co_await lock.acquire();  // or by hand, as in Python
//   lock.release();
//
// Threading: like every asyncio object these belong to the thread of the loop that uses them
// (Python's rule); they are not thread-safe. From another thread, go through
// loop.call_soon_threadsafe().
//
// Waking (the same for every primitive here): waiters are served in FIFO order. A waiter that
// is woken is resumed by the event loop one loop turn later (never inline inside release(),
// set() or notify()), as Python resumes a task from its future's callback. A waiter cancelled
// while waiting leaves the queue at once and its co_await throws CancelledError; a wake-up given
// to a waiter that is cancelled before it runs is passed on to the next waiter (the lock, the
// semaphore unit, the notification), so a cancellation never loses one. Machinery:
// detail/waitqueue.hpp.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/detail/waitqueue.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace nogil::asyncio {

/// What `co_await x.scoped()` gives for a Lock, Condition, Semaphore or BoundedSemaphore: it
/// holds the acquisition and releases it when destroyed (Python's `async with x:`). Movable.
template <class Primitive>
class [[nodiscard]] Guard {
public:
    explicit Guard(Primitive& p) noexcept : p_(&p) {}
    Guard(Guard&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    Guard& operator=(Guard&&) = delete;
    /// Releases, unless release() was called or the guard was moved from.
    ~Guard() {
        if (p_) p_->release();
    }
    /// Releases now (Python's leaving the `async with` block early).
    void release() {
        if (p_) std::exchange(p_, nullptr)->release();
    }
    /// True while this guard still holds the acquisition.
    bool owns() const noexcept { return p_ != nullptr; }

private:
    Primitive* p_;
};

/// The awaitable of scoped(): acquires like Acquire, then gives a Guard.
template <class Primitive, class Acquire>
class [[nodiscard]] ScopedAcquire : public Acquire {
public:
    explicit ScopedAcquire(Primitive& p) noexcept : Acquire(p), p_(&p) {}
    ScopedAcquire(ScopedAcquire&& other) noexcept : Acquire(std::move(other)), p_(other.p_) {}
    Guard<Primitive> await_resume() {
        Acquire::await_resume();
        return Guard<Primitive>(*p_);
    }

private:
    Primitive* p_;
};

// ---------------------------------------------------------------------------------------- Lock

class Lock;

/// The awaitable of Lock::acquire(): co_await gives true once the lock is held. If it suspends,
/// the task is resumed by the loop one turn after release() handed the lock to it.
class [[nodiscard]] LockAcquire : public detail::WaitNode {
public:
    explicit LockAcquire(Lock& lock) noexcept : lock_(&lock) {}
    LockAcquire(LockAcquire&& other) noexcept : WaitNode(std::move(other)), lock_(other.lock_) {}
    bool await_ready() const noexcept;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h);
    bool await_resume();

private:
    Lock* lock_;
};

/// Python's asyncio.Lock: a non-reentrant mutex for tasks of one loop, FIFO-fair.
///
/// Like Python's, it has no owner: any task may release it. Between release() and the moment
/// the next waiter runs, locked() is false but a newcomer cannot take the lock (it queues
/// behind): the waiter woken first gets it.
///
/// Thread safety: loop thread only, like every asyncio object (Python's rule); from another thread
/// go through loop.call_soon_threadsafe(). Waiters resume on the loop's thread.
class Lock {
public:
    Lock() noexcept = default;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    /// co_await acquires the lock (true), waiting in FIFO order if it is held. CancelledError
    /// if the task is cancelled while waiting; the lock is then not held by it.
    LockAcquire acquire() noexcept { return LockAcquire(*this); }
    /// `auto guard = co_await lock.scoped();` acquires, and releases when `guard` is destroyed.
    ScopedAcquire<Lock, LockAcquire> scoped() noexcept { return ScopedAcquire<Lock, LockAcquire>(*this); }
    /// Releases the lock and wakes the first waiter (resumed on the next loop turn).
    /// Throws std::runtime_error("Lock is not acquired.") if it is not locked.
    void release();
    /// True if the lock is held.
    bool locked() const noexcept { return locked_; }
    /// Tasks waiting to acquire (diagnostics and tests; Python's len(lock._waiters)).
    std::size_t waiters() const noexcept { return waiters_.size() + waiters_.woken(); }

private:
    friend class LockAcquire;
    static void pass_on(void* self, detail::WaitNode&) noexcept;

    bool locked_ = false;
    detail::WaitQueue waiters_{&pass_on, this};
};

inline bool LockAcquire::await_ready() const noexcept {
    // A woken waiter not yet run still owns the next turn: newcomers queue behind it.
    if (lock_->locked_ || !lock_->waiters_.empty() || lock_->waiters_.woken() != 0) return false;
    lock_->locked_ = true;
    return true;
}
inline void LockAcquire::suspend_task(std::coroutine_handle<> h) { suspend_in(lock_->waiters_, h, "Lock.acquire()"); }
inline bool LockAcquire::await_resume() {
    if (suspended()) {
        resume_or_throw();
        lock_->locked_ = true;
    }
    return true;
}

// --------------------------------------------------------------------------------------- Event

class Event;

/// The awaitable of Event::wait(): co_await gives true once the event is set. If it suspends,
/// the task is resumed by the loop one turn after set().
class [[nodiscard]] EventWait : public detail::WaitNode {
public:
    explicit EventWait(Event& event) noexcept : event_(&event) {}
    EventWait(EventWait&& other) noexcept : WaitNode(std::move(other)), event_(other.event_) {}
    bool await_ready() const noexcept;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h);
    bool await_resume() {
        if (suspended()) resume_or_throw();
        return true;
    }

private:
    Event* event_;
};

/// Python's asyncio.Event: a flag that tasks can wait for.
///
/// Thread safety: loop thread only; set() from another thread through loop.call_soon_threadsafe().
class Event {
public:
    Event() noexcept = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    /// Sets the flag and wakes every waiting task (each resumed on the next loop turn, even if
    /// clear() is called before it runs).
    void set() noexcept {
        if (flag_) return;
        flag_ = true;
        waiters_.wake_all();
    }
    /// Resets the flag.
    void clear() noexcept { flag_ = false; }
    /// True if the flag is set.
    bool is_set() const noexcept { return flag_; }
    /// co_await returns true at once if the flag is set, else when set() is called.
    EventWait wait() noexcept { return EventWait(*this); }
    /// Tasks waiting (diagnostics and tests).
    std::size_t waiters() const noexcept { return waiters_.size() + waiters_.woken(); }

private:
    friend class EventWait;
    bool flag_ = false;
    detail::WaitQueue waiters_;
};

inline bool EventWait::await_ready() const noexcept { return event_->flag_; }
inline void EventWait::suspend_task(std::coroutine_handle<> h) { suspend_in(event_->waiters_, h, "Event.wait()"); }

// ----------------------------------------------------------------------------------- Semaphore

class Semaphore;

/// The awaitable of Semaphore::acquire(): co_await gives true once a unit was taken. If it
/// suspends, the task is resumed by the loop one turn after release() gave it a unit.
class [[nodiscard]] SemaphoreAcquire : public detail::WaitNode {
public:
    explicit SemaphoreAcquire(Semaphore& sem) noexcept : sem_(&sem) {}
    SemaphoreAcquire(SemaphoreAcquire&& other) noexcept : WaitNode(std::move(other)), sem_(other.sem_) {}
    bool await_ready() const noexcept;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h);
    bool await_resume();

private:
    Semaphore* sem_;
};

/// Python's asyncio.Semaphore: a counter of available units, FIFO-fair.
///
/// release() gives the unit straight to the first waiter (Python's bookkeeping): while woken
/// waiters have not run yet, locked() stays true and newcomers queue behind them.
///
/// Thread safety: loop thread only (see Lock).
class Semaphore {
public:
    /// Throws std::invalid_argument("Semaphore initial value must be >= 0") if value < 0.
    explicit Semaphore(std::int64_t value = 1);
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;
    virtual ~Semaphore() = default;

    /// co_await takes a unit (true), waiting in FIFO order if none is free or others wait.
    /// CancelledError if cancelled while waiting; no unit is then taken.
    SemaphoreAcquire acquire() noexcept { return SemaphoreAcquire(*this); }
    /// `auto guard = co_await sem.scoped();` takes a unit and gives it back on destruction.
    ScopedAcquire<Semaphore, SemaphoreAcquire> scoped() noexcept {
        return ScopedAcquire<Semaphore, SemaphoreAcquire>(*this);
    }
    /// Adds a unit, waking the first waiter if there is one. (Virtual: BoundedSemaphore checks
    /// its bound even when released through a Semaphore&.)
    virtual void release();
    /// True if acquire() would wait: no unit, or tasks waiting ahead (Python 3.13's rule).
    bool locked() const noexcept { return value_ == 0 || !waiters_.empty() || waiters_.woken() != 0; }
    /// Units free now (Python's _value).
    std::int64_t value() const noexcept { return value_; }
    /// Tasks waiting (diagnostics and tests).
    std::size_t waiters() const noexcept { return waiters_.size() + waiters_.woken(); }

protected:
    friend class SemaphoreAcquire;
    static void pass_on(void* self, detail::WaitNode&) noexcept;
    /// Python's "wake up as many as are allowed" after a waiter ran or left.
    void wake_while_free() noexcept;

    std::int64_t value_;
    detail::WaitQueue waiters_{&pass_on, this};
};

inline bool SemaphoreAcquire::await_ready() const noexcept {
    if (sem_->locked()) return false;
    --sem_->value_;
    return true;
}
inline void SemaphoreAcquire::suspend_task(std::coroutine_handle<> h) {
    suspend_in(sem_->waiters_, h, "Semaphore.acquire()");
}
inline bool SemaphoreAcquire::await_resume() {
    if (!suspended()) return true;
    struct Finally {  // runs on success and on CancelledError, like Python's finally
        Semaphore* sem;
        ~Finally() { sem->wake_while_free(); }
    } finally{sem_};
    resume_or_throw();
    return true;
}

/// Python's asyncio.BoundedSemaphore: a Semaphore whose release() refuses to go above the
/// initial value.
///
/// Thread safety: loop thread only (see Lock).
class BoundedSemaphore : public Semaphore {
public:
    /// Throws std::invalid_argument if value < 0.
    explicit BoundedSemaphore(std::int64_t value = 1) : Semaphore(value), bound_(value) {}
    /// `auto guard = co_await sem.scoped();`
    ScopedAcquire<BoundedSemaphore, SemaphoreAcquire> scoped() noexcept {
        return ScopedAcquire<BoundedSemaphore, SemaphoreAcquire>(*this);
    }
    /// Throws std::invalid_argument("BoundedSemaphore released too many times") if the value
    /// would exceed the initial one.
    void release() override {
        if (value_ >= bound_) throw std::invalid_argument("BoundedSemaphore released too many times");
        Semaphore::release();
    }

private:
    std::int64_t bound_;
};

// ----------------------------------------------------------------------------------- Condition

/// Python's asyncio.Condition: waiting for a notification while holding a Lock.
///
/// wait() releases the lock, waits for notify(), then re-acquires the lock before returning;
/// it re-acquires it even when the task is cancelled (Python 3.12+): the CancelledError is
/// thrown with the lock held. A notification given to a waiter that is cancelled before it
/// runs is passed to another waiter.
///
/// Thread safety: loop thread only (see Lock).
class Condition {
public:
    /// A condition with its own Lock.
    Condition();
    /// A condition over `lock` (Python's Condition(lock)); `lock` must outlive it.
    explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;
    ~Condition();

    /// Acquires the underlying lock (see Lock::acquire).
    LockAcquire acquire() noexcept { return lock_->acquire(); }
    /// `auto guard = co_await cond.scoped();` (Python's `async with cond:`).
    ScopedAcquire<Lock, LockAcquire> scoped() noexcept { return lock_->scoped(); }
    /// Releases the underlying lock.
    void release() { lock_->release(); }
    /// True if the underlying lock is held.
    bool locked() const noexcept { return lock_->locked(); }

    /// Waits until notified, with the lock released meanwhile; returns true with the lock held.
    /// Throws std::runtime_error("cannot wait on un-acquired lock") if the lock is not held.
    /// If suspended, the task is resumed by the loop one turn after notify(), then after
    /// re-acquiring the lock.
    Coroutine<bool> wait();
    /// Waits until predicate() is truthy (checked first, then after each notification) and
    /// returns its value. The lock must be held unless the predicate is true at once.
    template <class Predicate>
    Coroutine<std::invoke_result_t<Predicate&>> wait_for(Predicate predicate) {
        auto result = predicate();
        while (!result) {
            co_await wait();
            result = predicate();
        }
        co_return result;
    }
    /// Wakes up to n waiting tasks. Throws std::runtime_error("cannot notify on un-acquired
    /// lock") if the lock is not held.
    void notify(std::size_t n = 1);
    /// Wakes every waiting task (same precondition).
    void notify_all();
    /// Tasks waiting for a notification (diagnostics and tests).
    std::size_t waiters() const noexcept { return waiters_.size() + waiters_.woken(); }

private:
    static void pass_on(void* self, detail::WaitNode&) noexcept;

    Lock* lock_;
    std::unique_ptr<Lock> own_lock_;
    detail::WaitQueue waiters_{&pass_on, this};
};

}  // namespace nogil::asyncio
