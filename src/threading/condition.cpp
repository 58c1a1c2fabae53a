#include <nogil/threading/condition.hpp>

#include <nogil/detail/futex.hpp>

#include <mutex>
#include <stdexcept>

namespace nogil::threading {

// One waiting thread. It lives on that thread's stack for the duration of wait(); notify()
// unlinks it and sets `notified` while holding waiters_lock_, and the waiter takes waiters_lock_
// once before returning, so the notifier's futex_wake never touches a dead Waiter.
struct Condition::Waiter {
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    std::atomic<std::uint32_t> notified{0};
    bool linked = false;
};

Condition::Condition() : own_lock_(std::make_unique<RLock>()), recursive_(own_lock_.get()) {}
Condition::Condition(Lock& lock) noexcept : plain_(&lock) {}
Condition::Condition(RLock& lock) noexcept : recursive_(&lock) {}
Condition::~Condition() = default;

bool Condition::acquire(bool blocking) { return plain_ ? plain_->acquire(blocking) : recursive_->acquire(blocking); }

bool Condition::acquire_until(detail::Deadline deadline) {
    return plain_ ? plain_->acquire_until(deadline) : recursive_->acquire_until(deadline);
}

void Condition::release() {
    if (plain_)
        plain_->release();
    else
        recursive_->release();
}

// A Lock has no owner, so "owned" means "locked by someone", exactly CPython's fallback.
bool Condition::is_owned() const {
    if (recursive_) return recursive_->is_owned();
    return plain_->locked();
}

bool Condition::wait_until(detail::Deadline deadline) {
    if (!is_owned()) throw std::runtime_error("cannot wait on un-acquired lock");
    Waiter me;
    {
        std::scoped_lock guard(waiters_lock_);
        me.prev = tail_;
        (tail_ ? tail_->next : head_) = &me;
        tail_ = &me;
        me.linked = true;
    }
    RLock::Saved saved{};
    if (plain_)
        plain_->release();
    else
        saved = recursive_->release_save();

    while (me.notified.load(std::memory_order_acquire) == 0) {
        if (!nogil::detail::futex_wait(me.notified, 0, deadline)) break;
    }
    bool notified;
    {
        std::scoped_lock guard(waiters_lock_);
        notified = !me.linked;
        if (me.linked) {
            (me.prev ? me.prev->next : head_) = me.next;
            (me.next ? me.next->prev : tail_) = me.prev;
        }
    }

    if (plain_)
        plain_->lock();
    else
        recursive_->acquire_restore(saved);
    return notified;
}

void Condition::notify(std::size_t n) {
    if (!is_owned()) throw std::runtime_error("cannot notify on un-acquired lock");
    std::scoped_lock guard(waiters_lock_);
    while (n-- > 0 && head_) {
        Waiter* w = head_;
        head_ = w->next;
        (head_ ? head_->prev : tail_) = nullptr;
        w->linked = false;
        w->notified.store(1, std::memory_order_release);
        nogil::detail::futex_wake(w->notified, 1);
    }
}

void Condition::notify_all() { notify(static_cast<std::size_t>(-1)); }

}  // namespace nogil::threading
