// asyncio::Barrier: Python's state machine (see include/nogil/asyncio/barrier.hpp), with the
// internal Condition replaced by two wait queues: tasks waiting for the barrier to fill, and
// tasks that arrived while it drained or reset.
#include <nogil/asyncio/barrier.hpp>

#include <stdexcept>

namespace nogil::asyncio {

Barrier::Barrier(std::int64_t parties) : parties_(static_cast<std::size_t>(parties)) {
    if (parties < 1) throw std::invalid_argument("parties must be >= 1");
}

Coroutine<std::size_t> Barrier::wait() {
    while (state_ == State::draining || state_ == State::resetting)
        co_await detail::QueueWait(blocked_, "Barrier.wait()");
    if (state_ == State::broken) throw BrokenBarrierError("Barrier aborted");

    const std::size_t index = count_++;
    if (index + 1 == parties_) {
        state_ = State::draining;
        arrived_.wake_all();
    } else {
        try {
            while (state_ == State::filling) co_await detail::QueueWait(arrived_, "Barrier.wait()");
        } catch (...) {
            leave();
            throw;
        }
        if (state_ == State::broken || state_ == State::resetting) {
            leave();
            throw BrokenBarrierError("Abort or reset of barrier");
        }
    }
    leave();
    co_return index;
}

void Barrier::leave() noexcept {
    if (--count_ != 0) return;
    if (state_ == State::resetting || state_ == State::draining) state_ = State::filling;
    blocked_.wake_all();
}

void Barrier::reset() noexcept {
    if (count_ > 0) {
        state_ = State::resetting;
        arrived_.wake_all();
    } else {
        state_ = State::filling;
        blocked_.wake_all();
    }
}

void Barrier::abort() noexcept {
    state_ = State::broken;
    arrived_.wake_all();
    blocked_.wake_all();
}

}  // namespace nogil::asyncio
