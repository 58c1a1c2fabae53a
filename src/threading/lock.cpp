#include <nogil/threading/lock.hpp>

#include <stdexcept>

namespace nogil::threading {

namespace {
constexpr std::uint32_t unlocked = 0;
constexpr std::uint32_t locked_alone = 1;  // the inline fast paths in lock.hpp spell these 0 and 1
constexpr std::uint32_t locked_contended = 2;
}  // namespace

// Drepper's "Futexes are tricky" mutex #3: a sleeper always leaves the word at 2, so the release
// that clears it knows it must wake someone.
bool Lock::acquire_until(detail::Deadline deadline) noexcept {
    std::uint32_t seen = unlocked;
    if (state_.compare_exchange_strong(seen, locked_alone, std::memory_order_acquire, std::memory_order_relaxed))
        return true;
    if (seen != locked_contended) seen = state_.exchange(locked_contended, std::memory_order_acquire);
    while (seen != unlocked) {
        bool timed_out = !nogil::detail::futex_wait(state_, locked_contended, deadline);
        seen = state_.exchange(locked_contended, std::memory_order_acquire);
        // A lock freed exactly at the deadline is still taken: the caller gets it rather than false.
        if (timed_out && seen != unlocked) return false;
    }
    return true;
}

// The inline release() already stored `unlocked`; storing it over `unlocked` changed nothing.
void Lock::release_slow(std::uint32_t before) {
    if (before == unlocked) throw std::runtime_error("release unlocked lock");
    nogil::detail::futex_wake(state_, 1);
}

}  // namespace nogil::threading
