#pragma once
// Python's asyncio.Barrier (3.11): `parties` tasks wait until all of them have arrived.
//
//   asyncio::Barrier barrier(3);
//   std::size_t i = co_await barrier.wait();  // 0 .. parties-1, in order of arrival
//
// States (Python's): filling -> (last arrival) draining -> (every waiter has left) filling.
// reset() moves to resetting (waiters get BrokenBarrierError; filling again once they have
// left), abort() to broken (every wait, now and later, throws BrokenBarrierError until reset()).
// Tasks that arrive while the barrier drains or resets wait until it fills again.
//
// Waking: the last arrival returns at once; the others are resumed by the loop one turn later,
// in FIFO order. A task cancelled while waiting leaves (n_waiting goes down) and gets
// CancelledError; one cancelled after the barrier was passed, but before it ran, still counts
// as having passed (the others are not held back) and gets CancelledError.
//
// Python's reset() and abort() are coroutines because they take the barrier's internal
// Condition lock; this barrier needs no such lock, so they are plain calls.
//
// Threading: belongs to the loop's thread, like every asyncio object.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/detail/waitqueue.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <cstdint>

namespace nogil::asyncio {

/// Thread safety: loop thread only, like every asyncio object; waiters resume on the loop's thread.
class Barrier {
public:
    /// Throws std::invalid_argument("parties must be >= 1") if parties < 1.
    explicit Barrier(std::int64_t parties);
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;

    /// Waits until `parties` tasks are waiting, then returns this task's arrival index.
    /// Throws BrokenBarrierError if the barrier is broken, or is reset or aborted while this
    /// task waits; CancelledError if the task is cancelled.
    Coroutine<std::size_t> wait();
    /// Back to the empty filling state; tasks waiting now get BrokenBarrierError.
    void reset() noexcept;
    /// Puts the barrier in the broken state: current and future wait() calls throw
    /// BrokenBarrierError until reset().
    void abort() noexcept;

    /// Number of tasks required to pass the barrier.
    std::size_t parties() const noexcept { return parties_; }
    /// Number of tasks waiting while it fills (0 while draining, resetting or broken).
    std::size_t n_waiting() const noexcept { return state_ == State::filling ? count_ : 0; }
    /// True if the barrier is broken.
    bool broken() const noexcept { return state_ == State::broken; }

private:
    enum class State : std::uint8_t { filling, draining, resetting, broken };
    /// A task leaves the barrier; the last one out re-opens it for the next round.
    void leave() noexcept;

    std::size_t parties_;
    std::size_t count_ = 0;  // tasks inside the barrier (arrived, not yet left)
    State state_ = State::filling;
    detail::WaitQueue arrived_;  // waiting for the barrier to fill
    detail::WaitQueue blocked_;  // arrived while draining or resetting
};

}  // namespace nogil::asyncio
