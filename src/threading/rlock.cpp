#include <nogil/threading/rlock.hpp>
#include <nogil/threading/thread.hpp>

#include <stdexcept>

namespace nogil::threading {

// owner_ is written only by the thread that holds lock_ (or is about to release it), so a thread
// reading its own ident there really is the owner; a relaxed load suffices for that test.
bool RLock::try_acquire() {
    const unsigned long me = get_ident();
    return acquire_as(me, owner_.load(std::memory_order_relaxed) == me || lock_.try_acquire());
}

bool RLock::acquire_until(detail::Deadline deadline) {
    const unsigned long me = get_ident();
    return acquire_as(me, owner_.load(std::memory_order_relaxed) == me || lock_.acquire_until(deadline));
}

// Called with got == true once `me` owns lock_ (just now, or already: then one level deeper).
bool RLock::acquire_as(unsigned long me, bool got) {
    if (!got) return false;
    if (owner_.load(std::memory_order_relaxed) == me) {
        ++count_;
    } else {
        owner_.store(me, std::memory_order_relaxed);
        count_ = 1;
    }
    return true;
}

void RLock::release() {
    if (!is_owned()) throw std::runtime_error("cannot release un-acquired lock");
    if (--count_ == 0) {
        owner_.store(0, std::memory_order_relaxed);
        lock_.release();
    }
}

bool RLock::is_owned() const noexcept { return owner_.load(std::memory_order_relaxed) == get_ident(); }

RLock::Saved RLock::release_save() {
    if (!is_owned()) throw std::runtime_error("cannot release un-acquired lock");
    Saved saved{owner_.load(std::memory_order_relaxed), count_};
    count_ = 0;
    owner_.store(0, std::memory_order_relaxed);
    lock_.release();
    return saved;
}

void RLock::acquire_restore(Saved saved) {
    lock_.lock();
    owner_.store(saved.owner, std::memory_order_relaxed);
    count_ = saved.count;
}

}  // namespace nogil::threading
