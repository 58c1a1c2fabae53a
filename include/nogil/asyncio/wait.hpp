#pragma once
// asyncio::wait_for, asyncio::wait and asyncio::as_completed.
//
// wait_for(aw, timeout) (Python 3.12's rules):
//   - the awaitable runs under asyncio::timeout(timeout) in the current task (a Coroutine inline,
//     a Task or Future by awaiting it);
//   - on timeout the inner task is cancelled and has fully finished before TimeoutError is
//     thrown; if it swallows the cancellation and returns a value, that value is returned;
//   - timeout <= 0: a done awaitable gives its result; otherwise it is cancelled, waited for,
//     and TimeoutError is thrown (its value if it swallowed the cancellation);
//   - cancelling the waiting task cancels the inner one and raises CancelledError, never
//     TimeoutError;
//   - the TimeoutError holds the inner CancelledError nested (Python's `from exc`);
//   - a Task or Future handle given to it is awaited as a copy: other handles to it keep the
//     value (Python: a task awaited twice gives its result twice).
//
// wait(fs, timeout, return_when) waits for tasks/futures (not coroutines: a compile error, as
// Python's TypeError) and returns {done, pending}; it never cancels them. Cancelling the waiting
// task leaves them running too.
//
// as_completed(aws, timeout) (Python 3.13's two forms, see AsCompleted below):
//   - `while (auto t = co_await it.next())` yields the original tasks/futures as they finish
//     (C++ has no `async for`: next() is __anext__, std::nullopt is StopAsyncIteration);
//   - plain iteration yields coroutines; awaiting the k-th gives the result of the k-th input to
//     finish (or throws its exception).
//   Inputs done before the call come first; a duplicate counts once; once the timeout passed,
//   each further await throws TimeoutError; nothing here cancels an input (neither the timeout
//   nor cancelling the iterating task).
//
// Every waiting task here is resumed by the loop, one turn after what it waits for happened.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/queues.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/timeouts.hpp>
#include <nogil/asyncio/detail/awaitables.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace nogil::asyncio::detail {

/// A Future<void> completed by the first of its links (Python's _release_waiter).
class ReleaseWaiter final : public FutureState<void> {
public:
    using FutureState<void>::FutureState;
    /// What this state's Link registers on the futures it watches (set by Link::add).
    DoneLink done_link{};
    void release_waiter(FutureBase&) {
        if (!done()) set_result();
    }
};

/// Python's _cancel_and_wait: cancels `fut` and waits until it is done, while staying
/// cancellable itself.
asyncio::Coroutine<> cancel_and_wait(Ref<FutureBase> fut);

template <class F>
decltype(auto) result_of(const F& fut) {
    return fut.result();
}

template <class A, class R>
asyncio::Coroutine<R> wait_for_impl(A aw, std::optional<Clock::duration> timeout) {
    if (timeout && *timeout <= Clock::duration::zero()) {
        auto fut = ensure_future(std::move(aw));
        if (!fut.done()) {
            co_await cancel_and_wait(Ref<FutureBase>(fut.state()));
            if (fut.cancelled()) {
                try {  // Python: `raise TimeoutError from exc`; the cause is nested
                    fut.result();
                } catch (const CancelledError&) {
                    std::throw_with_nested(TimeoutError());
                }
            }
        }
        if constexpr (std::is_void_v<R>)
            fut.result();
        else
            co_return R(fut.result());
    } else {
        asyncio::Timeout cm(timeout ? std::optional(Clock::now() + *timeout) : std::nullopt);
        if constexpr (is_coroutine<A>::value)
            co_return co_await cm.run(std::move(aw));
        else
            co_return co_await cm.run(await_in_coroutine(std::move(aw)));
    }
}

template <class Rep, class Period>
Clock::duration wait_timeout(std::chrono::duration<Rep, Period> timeout) {
    const double seconds = std::chrono::duration<double>(timeout).count();
    if (std::isnan(seconds)) throw std::invalid_argument("timeout must not be NaN");
    if (seconds > 3.2e9) return std::chrono::hours(24 * 365 * 100);
    if (timeout <= timeout.zero()) return Clock::duration::zero();
    return std::chrono::ceil<Clock::duration>(timeout);
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// Python's FIRST_COMPLETED / FIRST_EXCEPTION / ALL_COMPLETED.
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// What wait() returns: `auto [done, pending] = co_await asyncio::wait(tasks);`
template <class F>
struct WaitResult {
    std::vector<F> done;
    std::vector<F> pending;
};

/// Awaits `aw` for at most `timeout`; see the header comment.
template <class A, class Rep, class Period>
Coroutine<detail::future_value_t<detail::future_t<A>>> wait_for(A aw, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_for_impl<A, detail::future_value_t<detail::future_t<A>>>(std::move(aw),
                                                                                detail::wait_timeout(timeout));
}
/// Same, with the timeout in seconds.
template <class A>
Coroutine<detail::future_value_t<detail::future_t<A>>> wait_for(A aw, double timeout) {
    return wait_for(std::move(aw), std::chrono::duration<double>(timeout));
}
/// Python's wait_for(aw, None): no timeout.
template <class A>
Coroutine<detail::future_value_t<detail::future_t<A>>> wait_for(A aw, std::nullopt_t) {
    return detail::wait_for_impl<A, detail::future_value_t<detail::future_t<A>>>(std::move(aw), std::nullopt);
}

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

/// The state of one wait() call (Python's _wait closure).
class WaitState final : public FutureState<void> {
public:
    WaitState(LoopCore& loop, std::size_t count, asyncio::ReturnWhen when)
        : FutureState<void>(loop), counter_(count), return_when_(when) {}
    /// What this state's Link registers on the futures it watches (set by Link::add).
    DoneLink done_link{};
    ~WaitState() override {
        if (timer_) timer_->cancel();
    }
    void arm(Clock::duration timeout) { timer_ = loop().call_at(Clock::now() + timeout, &on_timeout, this); }
    void disarm() noexcept {
        if (timer_) std::exchange(timer_, nullptr)->cancel();
    }
    void on_completion(FutureBase& f) {
        --counter_;
        if (counter_ == 0 || return_when_ == asyncio::FIRST_COMPLETED ||
            (return_when_ == asyncio::FIRST_EXCEPTION && !f.cancelled() && f.stored_exception())) {
            disarm();
            if (!done()) set_result();
        }
    }

private:
    static void on_timeout(void* self) {
        auto* s = static_cast<WaitState*>(self);
        s->timer_ = nullptr;
        if (!s->done()) s->set_result();
    }
    std::size_t counter_;
    asyncio::ReturnWhen return_when_;
    Ref<HandleState> timer_;
};

template <class F>
asyncio::Coroutine<asyncio::WaitResult<F>> wait_impl(std::vector<F> fs, std::optional<Clock::duration> timeout,
                                                     asyncio::ReturnWhen return_when) {
    using L = Link<WaitState, &WaitState::on_completion>;
    auto state = Ref<WaitState>::adopt(new WaitState(running_loop_or_throw(), fs.size(), return_when));
    if (timeout) state->arm(*timeout);
    for (auto& f : fs) L::add(*f.state(), *state);
    std::exception_ptr error;
    try {
        co_await asyncio::Future<>::from_state(state);
    } catch (...) {
        error = std::current_exception();
    }
    state->disarm();
    for (auto& f : fs) L::remove(*f.state(), *state);
    if (error) std::rethrow_exception(error);
    asyncio::WaitResult<F> result;
    for (auto& f : fs) (f.done() ? result.done : result.pending).push_back(std::move(f));
    co_return result;
}

template <class R>
auto distinct_futures(R&& fs) {
    using F = std::decay_t<std::ranges::range_value_t<R>>;
    static_assert(is_task<F>::value || is_future<F>::value,
                  "asyncio::wait() takes Tasks or Futures, not coroutines: create_task() them first");
    std::vector<F> out;
    std::unordered_set<FutureBase*> seen;
    for (auto&& f : fs)
        if (seen.insert(f.state()).second) out.push_back(f);
    if (out.empty()) throw std::invalid_argument("Set of Tasks/Futures is empty.");
    return out;
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// Waits until `return_when` holds for the tasks/futures in `fs` (a duplicate counts once).
/// Throws std::invalid_argument("Set of Tasks/Futures is empty.") for an empty range.
template <std::ranges::input_range R>
auto wait(R&& fs, ReturnWhen return_when = ALL_COMPLETED) {
    return detail::wait_impl(detail::distinct_futures(fs), std::nullopt, return_when);
}
/// Same, returning after `timeout` at the latest (what is not done is in `pending`).
template <std::ranges::input_range R, class Rep, class Period>
auto wait(R&& fs, std::chrono::duration<Rep, Period> timeout, ReturnWhen return_when = ALL_COMPLETED) {
    return detail::wait_impl(detail::distinct_futures(fs), std::optional(detail::wait_timeout(timeout)), return_when);
}
/// Same, with the timeout in seconds.
template <std::ranges::input_range R>
auto wait(R&& fs, double timeout, ReturnWhen return_when = ALL_COMPLETED) {
    return wait(std::forward<R>(fs), std::chrono::duration<double>(timeout), return_when);
}

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

/// Python's _AsCompletedIterator minus the iteration: the inputs not done yet (todo_) and the
/// done ones in completion order (done_, a nullopt per input left when the timeout passed).
/// Shared by the AsCompleted object and every coroutine it handed out; each link on an input
/// holds a reference too, so it lives until the last input finished or the last user let go.
template <class F>
class AsCompletedState final : public FrameAllocated {
public:
    explicit AsCompletedState(std::vector<F> todo) : left(todo.size()), todo_(std::move(todo)) {}
    /// What this state's Link registers on the futures it watches (set by Link::add).
    DoneLink done_link{};
    ~AsCompletedState() {
        if (timer_) timer_->cancel();
    }
    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }
    void start(std::optional<Clock::duration> timeout) {
        // An input already done gets its callback queued now, so it comes before any input
        // that finishes later (the inputs done before the call come first, in input order).
        for (auto& f : todo_) L::add(*f.state(), *this);
        if (!todo_.empty() && timeout)
            timer_ = running_loop_or_throw().call_at(Clock::now() + *timeout, &on_timeout, this);
    }
    void on_completion(FutureBase& f) {
        if (todo_.empty()) return;  // the timeout came first
        for (auto it = todo_.begin(); it != todo_.end(); ++it)
            if (it->state() == &f) {
                done_.put_nowait(std::move(*it));
                todo_.erase(it);
                break;
            }
        if (todo_.empty() && timer_) std::exchange(timer_, nullptr)->cancel();
    }
    /// The next input to finish (FIFO among concurrent callers); throws TimeoutError once the
    /// timeout passed. A caller cancelled while waiting takes no input and gives its draw back
    /// (Python keeps it counted, so its last `async for` would end one input early).
    static asyncio::Coroutine<F> wait_for_one(Ref<AsCompletedState> self) {
        std::optional<F> f;
        try {
            f = co_await self->done_.get();
        } catch (const asyncio::CancelledError&) {
            ++self->left;
            throw;
        }
        if (!f) throw TimeoutError();
        co_return std::move(*f);
    }

    /// Inputs not handed out yet: what next() and plain iteration may still draw.
    std::size_t left;

private:
    using L = Link<AsCompletedState, &AsCompletedState::on_completion>;
    static void on_timeout(void* self) {
        auto* s = static_cast<AsCompletedState*>(self);
        s->timer_ = nullptr;
        Ref<AsCompletedState> keep(s);
        for (auto& f : s->todo_) {
            L::remove(*f.state(), *s);
            s->done_.put_nowait(std::nullopt);
        }
        s->todo_.clear();
    }
    std::size_t refs_ = 1;
    std::vector<F> todo_;
    asyncio::Queue<std::optional<F>> done_;
    Ref<HandleState> timer_;
};

// Coroutines take their arguments by value (g++ 12 hygiene): the state, never the AsCompleted.
// The draw happens when awaited, as in Python's `async def __anext__`: a next() never awaited
// takes nothing.
template <class F>
asyncio::Coroutine<std::optional<F>> next_done(Ref<AsCompletedState<F>> s) {
    if (s->left == 0) co_return std::nullopt;
    --s->left;
    co_return co_await AsCompletedState<F>::wait_for_one(s);
}
template <class F, class R = future_value_t<F>>
asyncio::Coroutine<R> next_result(Ref<AsCompletedState<F>> s) {
    F f = co_await AsCompletedState<F>::wait_for_one(s);
    if constexpr (std::is_void_v<R>)
        f.result();
    else
        co_return R(f.result());
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// What as_completed() returns (Python 3.13's _AsCompletedIterator), for both ways of using it:
///
///   // Python 3.13: `async for t in as_completed(tasks):` -- the ORIGINAL tasks, as they finish
///   auto it = asyncio::as_completed(tasks, 5s);
///   while (auto t = co_await it.next()) use(*t, t->result());
///
///   // Python 3.12: `for aw in as_completed(tasks): v = await aw` -- results, as they come
///   for (auto& aw : asyncio::as_completed(tasks)) int v = co_await std::move(aw);
///
/// Both draw from one count of the inputs (duplicates counted once), so they can be mixed and
/// resumed (break, then iterate again) and never wait for more than there is.
/// `F` is the Task or Future type: Tasks and Futures given are yielded as they are (compare
/// them with ==); Coroutines given become Tasks (scheduled by as_completed()), yielded instead.
/// Move-only; the coroutines it hands out stay valid after it is destroyed.
///
/// Thread safety: loop thread only.
template <class F>
class AsCompleted {
public:
    /// The Task<T> / Future<T> type next() yields.
    using future_type = F;
    /// What awaiting a plain-iteration coroutine gives.
    using result_type = detail::future_value_t<F>;

    /// Plain iteration (a C++20 input iterator): each position holds one Coroutine, drawn
    /// (counted) the first time it is dereferenced, like Python's __next__.
    class iterator {
    public:
        using value_type = Coroutine<result_type>;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(AsCompleted* owner) noexcept : owner_(owner) {}
        iterator(iterator&&) noexcept = default;
        iterator& operator=(iterator&&) noexcept = default;
        /// The coroutine of this position; co_await std::move(it) gives the next result.
        value_type& operator*() const {
            if (!current_) current_.emplace(owner_->draw());
            return *current_;
        }
        /// Moves on; a position never dereferenced still counts as drawn (as next(it) in Python).
        iterator& operator++() {
            if (!current_) (void)owner_->draw();
            current_.reset();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return !it.current_ && it.owner_->remaining() == 0;
        }

    private:
        AsCompleted* owner_ = nullptr;
        mutable std::optional<value_type> current_;
    };

    explicit AsCompleted(detail::Ref<detail::AsCompletedState<F>> state) noexcept : state_(std::move(state)) {}
    AsCompleted(AsCompleted&&) noexcept = default;
    AsCompleted& operator=(AsCompleted&&) noexcept = default;

    /// Python 3.13's `async for` step (__anext__: it counts when awaited, not when called):
    /// co_await gives the next input to finish (the original
    /// Task/Future), or std::nullopt once every input was given. Throws TimeoutError if the
    /// timeout passes first (the inputs keep running: nothing here cancels them). Cancelling
    /// the awaiting task raises CancelledError in it and leaves the inputs running too; the
    /// call takes no input and does not count (a later call gets it). The awaiting task is
    /// resumed by the loop one turn after the input finished.
    [[nodiscard]] Coroutine<std::optional<F>> next() { return detail::next_done<F>(state_); }
    /// Plain iteration (Python 3.12's form): coroutines giving the results in completion order.
    iterator begin() noexcept { return iterator(this); }
    /// The end of plain iteration.
    std::default_sentinel_t end() const noexcept { return {}; }
    /// How many inputs next() or the iteration have yet to give.
    std::size_t remaining() const noexcept { return state_->left; }

private:
    Coroutine<result_type> draw() {
        if (state_->left == 0) throw std::out_of_range("as_completed: iterated past the end");
        --state_->left;
        return detail::next_result<F>(state_);
    }

    detail::Ref<detail::AsCompletedState<F>> state_;
};

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

template <class R>
auto as_completed_impl(R&& aws, std::optional<Clock::duration> timeout) {
    using F = future_t<std::ranges::range_value_t<R>>;
    std::vector<F> todo;
    std::unordered_set<FutureBase*> seen;
    for (auto&& a : aws) {
        F f = ensure_future_from_range(a);
        if (seen.insert(f.state()).second) todo.push_back(std::move(f));
    }
    auto state = Ref<AsCompletedState<F>>::adopt(new AsCompletedState<F>(std::move(todo)));
    state->start(timeout);
    return asyncio::AsCompleted<F>(std::move(state));
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// Python's as_completed(aws): see AsCompleted. Coroutines in `aws` are moved out into tasks
/// (scheduled now); duplicates count once.
template <std::ranges::input_range R>
AsCompleted<detail::future_t<std::ranges::range_value_t<R>>> as_completed(R&& aws) {
    return detail::as_completed_impl(std::forward<R>(aws), std::nullopt);
}
/// Same; the await that is still waiting when `timeout` (from now) passes throws TimeoutError,
/// and so does every later one while inputs are left.
template <std::ranges::input_range R, class Rep, class Period>
AsCompleted<detail::future_t<std::ranges::range_value_t<R>>> as_completed(R&& aws,
                                                                        std::chrono::duration<Rep, Period> timeout) {
    return detail::as_completed_impl(std::forward<R>(aws), std::optional(detail::wait_timeout(timeout)));
}
/// Same, with the timeout in seconds.
template <std::ranges::input_range R>
AsCompleted<detail::future_t<std::ranges::range_value_t<R>>> as_completed(R&& aws, double timeout) {
    return as_completed(std::forward<R>(aws), std::chrono::duration<double>(timeout));
}

}  // namespace nogil::asyncio
