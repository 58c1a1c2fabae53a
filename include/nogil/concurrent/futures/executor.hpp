#pragma once
// concurrent.futures.Executor: submit(fn, args...) → Future, map(fn, iterables..., options), shutdown.

#include <nogil/concurrent/futures/future.hpp>
#include <nogil/concurrent/futures/detail/executor_map.hpp>
#include <nogil/concurrent/futures/detail/work_item.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace nogil::concurrent::futures {

/// Python's keyword arguments of Executor.map.
struct MapOptions {
    /// Time allowed for the whole iteration, measured from the call to map(); TimeoutError when
    /// a result is not ready by then: that call and every later one not yet started are
    /// cancelled and the iteration ends, as in Python.
    std::optional<std::chrono::duration<double>> timeout;
    /// Items per task; must be ≥ 1. Thread pools run one item per task (as Python's do); process
    /// pools send chunks.
    int chunksize = 1;
    /// Python 3.14: at most this many calls submitted ahead of the consumer; the iterables are then
    /// read lazily, so an infinite range works. Must be ≥ 1 when given.
    std::optional<int> buffersize;
};

template <class R>
class MapResults;

/// The interface every executor offers (Python's concurrent.futures.Executor).
///
/// submit() and map() are templates over the callable; a derived executor only provides enqueue()
/// and shutdown(). The destructor of every executor is shutdown(wait = true), Python's `with`.
///
/// Thread safety: submit(), map() and shutdown() may be called from any thread at once; where calls
/// and done callbacks run is each executor's (ThreadPoolExecutor, ProcessPoolExecutor).
class Executor {
public:
    Executor() = default;
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;
    virtual ~Executor() = default;

    /// Schedules `fn(args...)` and returns a Future for its result. The callable and arguments
    /// are decay-copied (moved when given as rvalues) and invoked once, on a worker thread.
    /// Throws std::runtime_error("cannot schedule new futures after shutdown") after shutdown(),
    /// or the executor's BrokenExecutor once it is broken.
    template <class F, class... Args>
        requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
    auto submit(F&& fn, Args&&... args) {
        using R = nogil::concurrent::futures::detail::result_of_call_t<F, Args...>;
        auto* item = new nogil::concurrent::futures::detail::WorkItem<R, std::decay_t<F>, std::decay_t<Args>...>(std::forward<F>(fn),
                                                                                              std::forward<Args>(args)...);
        item->retain_unpublished();  // the queue's reference, released by whoever runs or drops the item
        Future<R> future(detail::StateRef<detail::FutureState<R>>{item});
        try {
            enqueue(item);
        } catch (...) {
            item->release();
            throw;
        }
        return future;
    }

    /// Python's map: calls fn on the items of the ranges taken in step (as zip does, stopping at the
    /// shortest) and returns an input range of the results in order. Without a buffersize every
    /// call is submitted now and runs whether or not the results are read (`ex.map(f, xs);` runs
    /// f on every item); with one, at most `buffersize` ahead of the consumer. An exception of
    /// call k is thrown when result k is read, and ends the iteration: the later calls not yet
    /// started are cancelled and the range is at its end (Python's generator finishes). A timeout
    /// does the same to the late call and every later one. Leaving the range after begin()
    /// cancels the calls not started.
    template <class F, std::ranges::input_range... Rs>
        requires(sizeof...(Rs) >= 1 && std::invocable<std::decay_t<F>&, std::ranges::range_reference_t<Rs>...>)
    auto map(F&& fn, Rs&&... ranges) {
        return map_with(MapOptions{}, std::forward<F>(fn), std::forward<Rs>(ranges)...);
    }
    template <class F, std::ranges::input_range R1>
    auto map(F&& fn, R1&& r1, MapOptions options) {
        return map_with(std::move(options), std::forward<F>(fn), std::forward<R1>(r1));
    }
    template <class F, std::ranges::input_range R1, std::ranges::input_range R2>
    auto map(F&& fn, R1&& r1, R2&& r2, MapOptions options) {
        return map_with(std::move(options), std::forward<F>(fn), std::forward<R1>(r1), std::forward<R2>(r2));
    }
    template <class F, std::ranges::input_range R1, std::ranges::input_range R2, std::ranges::input_range R3>
    auto map(F&& fn, R1&& r1, R2&& r2, R3&& r3, MapOptions options) {
        return map_with(std::move(options), std::forward<F>(fn), std::forward<R1>(r1), std::forward<R2>(r2),
                        std::forward<R3>(r3));
    }

    /// Stops accepting work. Queued calls still run unless cancel_futures is true (then they are
    /// cancelled). With wait = true, returns once every call has finished and the workers exited.
    /// Safe to call more than once and from several threads.
    virtual void shutdown(bool wait = true, bool cancel_futures = false) = 0;

protected:
    /// Takes one reference to a work item and arranges for item->run() to be called once, then
    /// item->release(). Throws (keeping no reference) when the executor cannot take work.
    virtual void enqueue(nogil::concurrent::futures::detail::FutureStateBase* item) = 0;

private:
    template <class F, class... Rs>
    auto map_with(MapOptions options, F&& fn, Rs&&... ranges);
};

namespace detail {
/// The work behind MapResults (see nogil::concurrent::futures::detail::MapRange): the submitted calls, and the result
/// of the front one once waited for.
template <class R>
struct MapState {
    using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

    nogil::concurrent::futures::detail::MapQueue<Future<R>> queue;
    std::optional<value_type> current;

    value_type take() {
        fetch();
        return std::move(*current);
    }
    void advance() {
        if (!current) fetch();  // ++ without * still consumes one result, in order
        current.reset();
        queue.pending.pop_front();
        if (queue.pending.empty()) queue.refill();
    }
    bool done() const { return queue.pending.empty(); }

private:
    void fetch() {
        if (current) return;
        if (queue.pending.empty()) throw std::out_of_range("StopIteration: map() has no result left");
        queue.refill();
        auto& f = queue.pending.front();
        try {
            if constexpr (std::is_void_v<R>) {
                queue.result_of(f);
                current.emplace();
            } else {
                current.emplace(queue.result_of(f));
            }
        } catch (...) {
            queue.end();  // Python's _result_or_cancel, then the generator's `finally`
            throw;
        }
    }
};
}  // namespace detail

/// The range returned by Executor::map: an input range of R (std::monostate for a void function),
/// read once, in submission order. Reading a result waits for it and throws the call's exception,
/// or TimeoutError; destroying the range cancels the calls not yet started.
///
/// Thread safety: an input range read by one thread at a time (its results are futures, themselves
/// safe from any thread).
template <class R>
class MapResults : public nogil::concurrent::futures::detail::MapRange<detail::MapState<R>> {
public:
    using State = detail::MapState<R>;
    using nogil::concurrent::futures::detail::MapRange<State>::MapRange;
};

template <class F, class... Rs>
auto Executor::map_with(MapOptions options, F&& fn, Rs&&... ranges) {
    nogil::concurrent::futures::detail::check_map_options(options.chunksize, options.buffersize);
    using Fn = std::decay_t<F>;
    using R = nogil::concurrent::futures::detail::result_of_call_t<Fn&, std::ranges::range_reference_t<Rs>...>;

    // One call per item: thread pools ignore chunksize, as Python's do.
    struct Feed {
        Executor& executor;
        Fn fn;
        nogil::concurrent::futures::detail::ZipRanges<Rs...> items;
        Feed(Executor& e, Fn f, Rs&&... rs) : executor(e), fn(std::move(f)), items(std::forward<Rs>(rs)...) {}
        bool exhausted() { return items.exhausted(); }
        Future<R> submit() {
            return items.take(
                [&](auto&&... item) { return executor.submit(fn, std::forward<decltype(item)>(item)...); });
        }
    };

    auto state = std::make_unique<typename MapResults<R>::State>();
    state->queue.start(options.timeout, options.buffersize,
                       std::make_shared<Feed>(*this, std::forward<F>(fn), std::forward<Rs>(ranges)...));
    return MapResults<R>(std::move(state));
}

}  // namespace nogil::concurrent::futures
