// asyncio Lock, Semaphore and Condition: the parts that are not on a fast path.
// The waking rules are stated at the top of include/nogil/asyncio/locks.hpp.
#include <nogil/asyncio/locks.hpp>

#include <exception>
#include <stdexcept>

namespace nogil::asyncio {

// ---------------------------------------------------------------------------------------- Lock

void Lock::release() {
    if (!locked_) throw std::runtime_error("Lock is not acquired.");
    locked_ = false;
    // The woken waiter sets locked_ when it runs; until then newcomers queue behind it.
    waiters_.wake_one();
}

void Lock::pass_on(void* self, detail::WaitNode&) noexcept {
    // The woken waiter will not take the lock (it was cancelled, or its frame destroyed,
    // before it ran): nobody holds it, so the next waiter gets it.
    static_cast<Lock*>(self)->waiters_.wake_one();
}

// ----------------------------------------------------------------------------------- Semaphore

Semaphore::Semaphore(std::int64_t value) : value_(value) {
    if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
}

void Semaphore::release() {
    ++value_;
    if (waiters_.wake_one()) --value_;  // the unit now belongs to the woken waiter
}

void Semaphore::wake_while_free() noexcept {
    while (value_ > 0 && waiters_.wake_one()) --value_;
}

void Semaphore::pass_on(void* self, detail::WaitNode&) noexcept {
    auto* sem = static_cast<Semaphore*>(self);
    ++sem->value_;  // the unit given to the woken waiter comes back...
    sem->wake_while_free();  // ...and goes to the next one
}

// ----------------------------------------------------------------------------------- Condition

Condition::Condition() : lock_(nullptr), own_lock_(std::make_unique<Lock>()) { lock_ = own_lock_.get(); }

Condition::~Condition() = default;

void Condition::pass_on(void* self, detail::WaitNode&) noexcept {
    // A notified waiter was cancelled before it ran: notify another instead.
    static_cast<Condition*>(self)->waiters_.wake_one();
}

Coroutine<bool> Condition::wait() {
    if (!locked()) throw std::runtime_error("cannot wait on un-acquired lock");
    release();
    std::exception_ptr error;
    bool notified = false;
    try {
        co_await detail::QueueWait(waiters_, "Condition.wait()");
        notified = true;
    } catch (const CancelledError&) {
        error = std::current_exception();
    }
    // Re-acquire even if cancelled (Python 3.12+): a cancel while re-acquiring is remembered
    // and acquiring starts again, so the caller always gets the lock back.
    for (;;) {
        try {
            co_await lock_->acquire();
            break;
        } catch (const CancelledError&) {
            error = std::current_exception();
        }
    }
    if (error) {
        // This task consumed a notification but leaves with an error: pass it on.
        if (notified) waiters_.wake_one();
        std::rethrow_exception(error);
    }
    co_return true;
}

void Condition::notify(std::size_t n) {
    if (!locked()) throw std::runtime_error("cannot notify on un-acquired lock");
    waiters_.wake(n);
}

void Condition::notify_all() {
    if (!locked()) throw std::runtime_error("cannot notify on un-acquired lock");
    waiters_.wake_all();
}

}  // namespace nogil::asyncio
