#include <nogil/threading/event.hpp>

namespace nogil::threading {

void Event::set() noexcept {
    std::uint32_t seen = word_.load(std::memory_order_relaxed);
    std::uint32_t next;
    do {
        if (seen & flag_bit) return;
        // A new generation tells sleepers a set() happened; the sleepers bit is dropped because
        // the wake below takes every sleeper off the futex.
        next = ((seen & ~(flag_bit | sleepers_bit)) + generation_one) | flag_bit;
    } while (!word_.compare_exchange_weak(seen, next, std::memory_order_acq_rel, std::memory_order_relaxed));
    if (seen & sleepers_bit) nogil::detail::futex_wake_all(word_);
}

void Event::clear() noexcept { word_.fetch_and(~flag_bit, std::memory_order_relaxed); }

bool Event::wait_until(detail::Deadline deadline) noexcept {
    std::uint32_t seen = word_.load(std::memory_order_acquire);
    if (seen & flag_bit) return true;
    const std::uint32_t generation = seen & ~(flag_bit | sleepers_bit);
    for (;;) {
        if (!(seen & sleepers_bit)) {
            if (!word_.compare_exchange_weak(seen, seen | sleepers_bit, std::memory_order_acquire,
                                             std::memory_order_acquire)) {
                if ((seen & flag_bit) || (seen & ~(flag_bit | sleepers_bit)) != generation) return true;
                continue;
            }
            seen |= sleepers_bit;
        }
        bool timed_out = !nogil::detail::futex_wait(word_, seen, deadline);
        seen = word_.load(std::memory_order_acquire);
        if ((seen & flag_bit) || (seen & ~(flag_bit | sleepers_bit)) != generation) return true;
        if (timed_out) return false;
    }
}

}  // namespace nogil::threading
