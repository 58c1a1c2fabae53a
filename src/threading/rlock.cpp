#include <nogil/threading/rlock.hpp>

#include <stdexcept>

namespace nogil::threading {

bool RLock::acquire_until(detail::Deadline deadline) {
    const unsigned long me = self_ident();
    if (owner_.load(std::memory_order_relaxed) == me) {
        ++count_;
        return true;
    }
    if (!lock_.acquire_until(deadline)) return false;
    take(me);
    return true;
}

void RLock::throw_unacquired() { throw std::runtime_error("cannot release un-acquired lock"); }

bool RLock::is_owned() const noexcept { return owner_.load(std::memory_order_relaxed) == self_ident(); }

RLock::Saved RLock::release_save() {
    if (!is_owned()) throw_unacquired();
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
