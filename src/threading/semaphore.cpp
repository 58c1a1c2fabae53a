#include <nogil/threading/semaphore.hpp>

#include <limits>
#include <stdexcept>

namespace nogil::threading {

namespace {
constexpr std::uint32_t unbounded = std::numeric_limits<std::uint32_t>::max();

std::uint32_t checked_initial(long long value) {
    if (value < 0) throw std::invalid_argument("semaphore initial value must be >= 0");
    if (value > static_cast<long long>(unbounded)) throw std::overflow_error("semaphore initial value too large");
    return static_cast<std::uint32_t>(value);
}
}  // namespace

Semaphore::Semaphore(long long value) : Semaphore(value, unbounded, "semaphore value too large") {}

Semaphore::Semaphore(long long value, std::uint32_t bound, const char* overflow_message)
    : value_(checked_initial(value)), bound_(bound), overflow_message_(overflow_message) {}

BoundedSemaphore::BoundedSemaphore(long long value)
    : Semaphore(value, checked_initial(value), "Semaphore released too many times") {}

bool Semaphore::acquire_until(detail::Deadline deadline) noexcept {
    for (;;) {
        if (try_acquire()) return true;
        // Announce the sleep before re-checking the counter inside futex_wait; release() bumps the
        // counter before reading sleepers_, so one of the two sees the other (both seq_cst).
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        bool timed_out = !nogil::detail::futex_wait(value_, 0, deadline);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        // Released exactly at the deadline: take it rather than report a timeout.
        if (timed_out) return try_acquire();
    }
}

void Semaphore::release(long long n) {
    if (n < 1) throw std::invalid_argument("n must be one or more");
    std::uint32_t seen = value_.load(std::memory_order_relaxed);
    std::uint32_t next;
    do {
        if (n > static_cast<long long>(bound_ - seen)) {
            if (bound_ == unbounded) throw std::overflow_error(overflow_message_);
            throw std::invalid_argument(overflow_message_);
        }
        next = seen + static_cast<std::uint32_t>(n);
    } while (!value_.compare_exchange_weak(seen, next, std::memory_order_seq_cst, std::memory_order_relaxed));
    if (sleepers_.load(std::memory_order_seq_cst) != 0)
        nogil::detail::futex_wake(value_, n > 0x7fffffff ? 0x7fffffff : static_cast<int>(n));
}

}  // namespace nogil::threading
