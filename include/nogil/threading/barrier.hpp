#pragma once
// threading.Barrier: a fixed number of threads wait for each other, then all go on together.

#include <nogil/errors.hpp>
#include <nogil/threading/condition.hpp>
#include <nogil/threading/lock.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>

namespace nogil::threading {

/// Python's threading.Barrier, reusable for any number of rounds. A round fills as `parties`
/// threads call wait(); the last to arrive runs `action` (if any) and releases the others, who
/// resume inside their wait(). A barrier breaks when a waiter times out, the action throws,
/// or abort() is called: every current and later wait() then throws BrokenBarrierError until
/// reset().
///
/// Thread safety: every member may be called from any thread at once. The action runs in the last
/// thread to arrive, before the others are released; if it throws, the barrier breaks and that
/// thread gets the exception.
class Barrier {
public:
    /// A barrier for `parties` threads (>= 1, else std::invalid_argument), with an optional
    /// action run by the last arriving thread of each round, and no default timeout.
    explicit Barrier(long long parties, std::function<void()> action = {});

    /// As above, with a default timeout for wait() (Python's `timeout=`).
    template <class Rep, class Period>
    Barrier(long long parties, std::function<void()> action, std::chrono::duration<Rep, Period> timeout)
        : Barrier(parties, std::move(action)) {
        nogil::detail::check_not_nan(timeout);
        default_timeout_ = timeout;
    }
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;

    /// Blocks the calling thread until `parties` threads have called wait() in this round, then
    /// returns this thread's arrival index (0 .. parties-1; the last arrival gets parties-1 and
    /// runs the action). Uses the default timeout, if one was given. Throws BrokenBarrierError if
    /// the barrier is or becomes broken (including by this wait timing out), and rethrows the
    /// action's exception in the thread that ran it (breaking the barrier for the others).
    std::size_t wait();

    /// As wait(), with this timeout instead of the default one (negative: do not wait).
    template <class Rep, class Period>
    std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::checked_wait_deadline(timeout));
    }

    /// Returns the barrier to its empty, unbroken state. Threads waiting in the current round
    /// get BrokenBarrierError.
    void reset();

    /// Breaks the barrier: current and future wait() calls throw BrokenBarrierError until reset().
    void abort();

    /// The number of threads the barrier requires.
    std::size_t parties() const noexcept { return parties_; }

    /// How many threads are waiting in the current round.
    std::size_t n_waiting();

    /// Whether the barrier is broken.
    bool broken();

private:
    enum class State { filling, draining, resetting, broken };
    std::size_t wait_until(detail::Deadline deadline);
    void enter();
    void release_round();
    void wait_for_release(detail::Deadline deadline);
    void leave();
    void break_barrier();

    Lock lock_;
    Condition cond_{lock_};
    std::size_t parties_;
    std::function<void()> action_;
    std::optional<std::chrono::duration<double>> default_timeout_;  // seconds, any range
    State state_ = State::filling;
    std::size_t count_ = 0;  // threads inside wait(): arriving, or leaving while draining/resetting
};

}  // namespace nogil::threading
