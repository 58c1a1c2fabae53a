#pragma once
// concurrent.futures.ProcessPoolExecutor: calls run in worker processes; results come back as
// ordinary Futures (wait, as_completed and co_await work on them unchanged).
//
//   cf::ProcessPoolExecutor executor({.max_workers = 4});
//   cf::Future<long> f = executor.submit(fib, 30);
//   for (long r : executor.map(fib, std::vector<int>{20, 21, 22}, {.chunksize = 64})) use(r);
//   // leaving the scope is shutdown(wait = true)
//
// The callable must be a plain function or a captureless lambda, and arguments and results must
// be serializable (docs/api.md, rule 5): checked at compile time, with messages in words. A task's
// exception reaches result() with its type (multiprocessing/exceptions.hpp). A worker that dies
// breaks the pool: what was pending or running fails with BrokenProcessPool, later submits throw
// it. Every member is safe to call from any thread. Design: detail/process_pool_core.hpp.

#include <nogil/concurrent/futures/executor.hpp>
#include <nogil/concurrent/futures/future.hpp>
#include <nogil/concurrent/futures/wait.hpp>
#include <nogil/concurrent/futures/detail/executor_map.hpp>
#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/concurrent/futures/detail/process_pool_core.hpp>
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/pool.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace nogil::concurrent::futures {

/// Python's keyword arguments of ProcessPoolExecutor.
struct ProcessPoolOptions {
    /// Worker processes; default cpu_count(). An explicit value must be > 0.
    std::optional<int> max_workers;
    /// Python's mp_context: "fork", "spawn" or "forkserver"; "" = multiprocessing's default
    /// (get_start_method(): forkserver unless set_start_method changed it).
    std::string start_method;
    /// Runs once in each worker before its first task: multiprocessing::Initializer(f, args...)
    /// is Python's initializer + initargs. If it throws, the pool is broken (BrokenProcessPool).
    multiprocessing::Initializer initializer;
    /// A worker exits after this many tasks and a fresh one takes its place (its pid changes).
    /// Must be ≥ 1; not allowed with the "fork" start method, as in Python.
    std::optional<int> max_tasks_per_child;
};

template <class R>
class ProcessMapResults;

/// A pool of worker processes running submitted calls (Python's ProcessPoolExecutor).
///
/// Workers start at the first submit. Tasks are sent to them in batches, a few ahead of what each
/// worker is running; map() sends `chunksize` items as one task. The destructor is
/// shutdown(wait = true), Python's `with` block.
///
/// submit() and map() hide Executor's: a call reached through `Executor&` carries a closure that
/// cannot be sent to another process, so that path throws std::invalid_argument (see enqueue).
///
/// Thread safety: every member may be called from any thread at once. Done callbacks of its futures
/// run on the pool's manager thread (or in the thread that cancels the future) and must not wait on
/// the same pool without a timeout: nobody reads the workers' answers while a callback runs. A
/// callback may submit, shut the pool down and destroy it. Two exceptions, as for every Future: a
/// callback added to a done future runs at once in the adding thread, and one added while a thread
/// waiting in result() is completing the future (it read the answer and saw no callback) runs in
/// that thread.
class ProcessPoolExecutor final : public Executor {
public:
    /// cpu_count() workers, the default start method.
    ProcessPoolExecutor();
    /// Throws std::invalid_argument ("max_workers must be greater than 0") if max_workers <= 0.
    explicit ProcessPoolExecutor(int max_workers);
    /// Throws std::invalid_argument naming the argument for a bad max_workers,
    /// max_tasks_per_child or start_method.
    explicit ProcessPoolExecutor(ProcessPoolOptions options);
    ~ProcessPoolExecutor() override;

    /// Schedules fn(args...) in a worker and returns its Future. Arguments are serialized now.
    /// Throws BrokenProcessPool once the pool is broken, std::runtime_error after shutdown().
    template <class F, class... Args>
    auto submit(F&& fn, const Args&... args) {
        return detail::submit_call<detail::ProcessFutureState, F>(*core_, std::forward<F>(fn), args...);
    }

    /// Python's map: fn over the items of the ranges taken in step (zip), results in order.
    /// Items travel in tasks of options.chunksize (batching is what makes map fast); without a
    /// buffersize every chunk is submitted now, with one at most `buffersize` chunks ahead of the
    /// consumer (the ranges are then read lazily). A chunk's exception is thrown when its first
    /// result is read and ends the iteration (later chunks not started are cancelled); timeout
    /// counts from the call to map() and does the same. The calls run even if the results are
    /// never read; leaving the range after begin() cancels the chunks not yet started.
    template <class F, std::ranges::input_range... Rs>
        requires(sizeof...(Rs) >= 1)
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

    /// Stops accepting work. Tasks already submitted still run unless cancel_futures (then those
    /// not yet sent to a worker are cancelled). With wait, returns once all have finished and the
    /// workers have exited. A worker dying meanwhile breaks the pool instead of hanging this.
    void shutdown(bool wait = true, bool cancel_futures = false) override;

    /// Python 3.14: shutdown(wait = false, cancel_futures = true), then SIGTERM to every worker.
    /// Tasks that were running fail with BrokenProcessPool.
    void terminate_workers();
    /// As terminate_workers(), with SIGKILL.
    void kill_workers();

    /// The number of worker processes.
    int max_workers() const noexcept;
    /// The pids of the live workers (nogil's view of Python's `_processes`; empty before the
    /// first submit).
    std::vector<int> worker_pids() const;

protected:
    /// Executor::submit's path: always throws std::invalid_argument (a type-erased closure cannot
    /// cross a process boundary; call ProcessPoolExecutor::submit on the pool itself).
    void enqueue(nogil::concurrent::futures::detail::FutureStateBase* item) override;

private:
    template <class F, class... Rs>
    auto map_with(MapOptions options, F&& fn, Rs&&... ranges);

    std::unique_ptr<nogil::concurrent::futures::detail::ProcessPoolCore> core_;
};

namespace detail {
/// The work behind ProcessMapResults (see MapRange): the submitted chunks, taken in order or
/// (`unordered`, mpi4py's map option) as each completes, and the chunk being read.
template <class R>
struct ProcessMapState {
    using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
    using Wire = std::conditional_t<std::is_void_v<R>, std::uint8_t, R>;

    MapQueue<Future<std::vector<Wire>>> queue;  // of chunks
    bool unordered = false;
    std::vector<Wire> current;  // the chunk being read
    std::size_t index = 0;

    value_type take() {
        fetch();
        if constexpr (std::is_void_v<R>) {
            return {};
        } else {
            return std::move(current[index]);
        }
    }
    void advance() {
        if (fetch()) ++index;
    }
    bool done() { return !fetch(); }

private:
    // True when an item is ready at current[index]; throws the chunk's exception/TimeoutError.
    bool fetch() {
        while (index >= current.size()) {
            if (queue.pending.empty()) return false;
            auto it = unordered ? first_done() : queue.pending.begin();
            auto f = std::move(*it);
            queue.pending.erase(it);
            queue.refill();
            current.clear();
            index = 0;
            try {
                current = queue.result_of(f);
            } catch (...) {
                f.cancel();
                queue.end();  // the iteration ends, as Python's generator does
                throw;
            }
        }
        return true;
    }
    // The first chunk done, waiting for one until the deadline (TimeoutError after it).
    auto first_done() {
        auto is_done = [](const auto& f) { return f.done(); };
        auto it = std::find_if(queue.pending.begin(), queue.pending.end(), is_done);
        if (it != queue.pending.end()) return it;
        if (queue.deadline) {
            auto left = std::max(*queue.deadline - std::chrono::steady_clock::now(),
                                 std::chrono::steady_clock::duration::zero());
            futures::wait(queue.pending, left, FIRST_COMPLETED);
        } else {
            futures::wait(queue.pending, FIRST_COMPLETED);
        }
        it = std::find_if(queue.pending.begin(), queue.pending.end(), is_done);
        if (it == queue.pending.end()) throw TimeoutError();
        return it;
    }
};
}  // namespace detail

/// The range returned by ProcessPoolExecutor::map: an input range of R (std::monostate for a
/// void function), read once, in order. Chunks arrive as Futures of vectors; reading the first
/// result of a chunk waits for it and throws the chunk's exception, or TimeoutError.
///
/// Thread safety: an input range read by one thread at a time.
template <class R>
class ProcessMapResults : public nogil::concurrent::futures::detail::MapRange<detail::ProcessMapState<R>> {
public:
    using State = detail::ProcessMapState<R>;
    using Wire = typename State::Wire;
    using nogil::concurrent::futures::detail::MapRange<State>::MapRange;
};

namespace detail {
/// The map task of a chunk of `Item`s (a std::tuple of the call's arguments).
template <class Fn, class Item>
struct ChunkTask;
template <class Fn, class... Args>
struct ChunkTask<Fn, std::tuple<Args...>> {
    static constexpr auto fn = &process_chunk<Fn, Args...>;
};

/// Starts a chunked map on a process-boundary executor E (anything with submit(fn, args...)
/// returning a Future): one task per `chunksize` items, each item an `Item` tuple built from the
/// items of the ranges taken in step (map: one value per range; starmap: one tuple-like value).
/// Returns the State (whose `queue` holds the chunks' futures) for a MapRange.
template <class State, class Item, class E, class Fn, class... Rs>
std::unique_ptr<State> start_chunked_map(E& executor, const MapOptions& options, Fn target, Rs&&... ranges) {
    check_map_options(options.chunksize, options.buffersize);
    using ::nogil::multiprocessing::detail::FunctionId;
    struct Feed {
        E& executor;
        FunctionId fn;
        std::size_t chunksize;
        ZipRanges<Rs...> items;
        Feed(E& e, FunctionId f, std::size_t n, Rs&&... rs)
            : executor(e), fn(std::move(f)), chunksize(n), items(std::forward<Rs>(rs)...) {}
        bool exhausted() { return items.exhausted(); }
        auto submit() {
            std::vector<Item> chunk;
            chunk.reserve(chunksize);
            while (chunk.size() < chunksize && !items.exhausted()) {
                items.take([&](auto&&... item) { chunk.emplace_back(std::forward<decltype(item)>(item)...); });
            }
            return executor.submit(ChunkTask<Fn, Item>::fn, fn, chunk);
        }
    };
    auto state = std::make_unique<State>();
    state->queue.start(options.timeout, options.buffersize,
                       std::make_shared<Feed>(executor, ::nogil::multiprocessing::detail::identify(target),
                                              static_cast<std::size_t>(options.chunksize), std::forward<Rs>(ranges)...));
    return state;
}
}  // namespace detail

template <class F, class... Rs>
auto ProcessPoolExecutor::map_with(MapOptions options, F&& fn, Rs&&... ranges) {
    static_assert(nogil::multiprocessing::detail::check_callable<F>());
    using Fn = nogil::multiprocessing::detail::function_pointer_t<F>;
    using Item = std::tuple<std::decay_t<std::ranges::range_reference_t<Rs>>...>;
    using R = std::invoke_result_t<Fn, std::decay_t<std::ranges::range_reference_t<Rs>>&...>;
    using Results = ProcessMapResults<R>;
    Fn target = +fn;
    return Results(detail::start_chunked_map<typename Results::State, Item>(*this, options, target,
                                                                           std::forward<Rs>(ranges)...));
}

}  // namespace nogil::concurrent::futures
