// A round: `filling` until the last thread arrives and runs the action; then `draining` while
// the released threads leave wait(); the last to leave sets `filling` again. reset() during a
// round sets `resetting` (drained the same way); a timeout, a throwing action or abort() sets
// `broken`. New arrivals wait in enter() while a round drains, so rounds never mix.

#include <nogil/threading/barrier.hpp>

#include <mutex>
#include <stdexcept>

namespace nogil::threading {

namespace {
std::size_t checked_parties(long long parties) {
    if (parties < 1) throw std::invalid_argument("parties must be >= 1");
    return static_cast<std::size_t>(parties);
}
}  // namespace

Barrier::Barrier(long long parties, std::function<void()> action)
    : parties_(checked_parties(parties)), action_(std::move(action)) {}

std::size_t Barrier::wait() {
    return wait_until(default_timeout_ ? detail::Deadline(nogil::detail::deadline_after(*default_timeout_))
                                       : std::nullopt);
}

std::size_t Barrier::wait_until(detail::Deadline deadline) {
    std::scoped_lock guard(cond_);
    enter();
    const std::size_t index = count_++;
    try {
        if (index + 1 == parties_)
            release_round();
        else
            wait_for_release(deadline);
    } catch (...) {
        --count_;
        leave();
        throw;
    }
    --count_;
    leave();
    return index;
}

void Barrier::enter() {
    while (state_ == State::draining || state_ == State::resetting) cond_.wait();
    if (state_ == State::broken) throw BrokenBarrierError("barrier is broken");
}

void Barrier::release_round() {
    try {
        if (action_) action_();
    } catch (...) {
        break_barrier();
        throw;
    }
    state_ = State::draining;
    cond_.notify_all();
}

void Barrier::wait_for_release(detail::Deadline deadline) {
    auto released = [this] { return state_ != State::filling; };
    bool done = deadline ? cond_.wait_for(released, *deadline - std::chrono::steady_clock::now())
                         : cond_.wait_for(released);
    if (!done) {
        break_barrier();
        throw BrokenBarrierError("barrier wait timed out");
    }
    if (state_ == State::broken || state_ == State::resetting) throw BrokenBarrierError("barrier is broken");
}

void Barrier::leave() {
    if (count_ == 0 && (state_ == State::draining || state_ == State::resetting)) {
        state_ = State::filling;
        cond_.notify_all();
    }
}

void Barrier::break_barrier() {
    state_ = State::broken;
    cond_.notify_all();
}

void Barrier::reset() {
    std::scoped_lock guard(cond_);
    if (count_ > 0) {
        if (state_ == State::filling || state_ == State::broken) state_ = State::resetting;
    } else {
        state_ = State::filling;
    }
    cond_.notify_all();
}

void Barrier::abort() {
    std::scoped_lock guard(cond_);
    break_barrier();
}

std::size_t Barrier::n_waiting() {
    std::scoped_lock guard(cond_);
    return state_ == State::filling ? count_ : 0;
}

bool Barrier::broken() {
    std::scoped_lock guard(cond_);
    return state_ == State::broken;
}

}  // namespace nogil::threading
