#pragma once
// mpi4py.futures.MPIPoolExecutor: the Executor API when the work outgrows one machine. Calls run
// on the ranks of an MPI job; results come back as ordinary concurrent::futures::Future<T> (wait,
// as_completed, callbacks and co_await from asyncio work on them unchanged).
//
//   nogil::mpi::MPIPoolExecutor executor({.max_workers = 4});
//   cf::Future<long> f = executor.submit(fib, 30);
//   for (long r : executor.map(fib, std::vector<int>{20, 21, 22}, {.chunksize = 64})) use(r);
//   // leaving the scope is shutdown(wait = true)
//
// Where the workers come from: run alone (or `mpiexec -n 1`), the executor spawns them
// (MPI_Comm_spawn of this executable; nothing to change in main). Under `mpiexec -n N` with
// nogil::mpi::init(argc, argv) at the top of main, they are ranks 1..N-1 (init.hpp). Either way
// the calls and values are the process pool's: a plain function or captureless lambda, named
// relative to its loaded object, serializable arguments and results (API.md rule 5); a task's
// exception reaches result() with its type (RemoteError when the master does not know it).
//
// Thread safety: every member is safe to call from any thread. MPI is entered by one thread at a
// time (the pool's mutex), so MPI_THREAD_SERIALIZED is enough. Where callbacks run: on the thread
// that read the answer, the pool's manager thread or a thread waiting in a result() of the same
// pool. Design: detail/pool_core.hpp; docs/mpi.md.

#include <nogil/concurrent/futures/executor.hpp>
#include <nogil/concurrent/futures/future.hpp>
#include <nogil/concurrent/futures/process_pool.hpp>
#include <nogil/concurrent/futures/wait.hpp>
#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/errors.hpp>
#include <nogil/mpi/detail/pool_core.hpp>
#include <nogil/mpi/init.hpp>
#include <nogil/multiprocessing/pool.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace nogil::mpi {

namespace cf = nogil::concurrent::futures;

/// mpi4py's keyword arguments of MPIPoolExecutor.
struct MPIPoolOptions {
    /// Spawned workers: how many; default NOGIL_MPI_MAX_WORKERS, else the MPI universe size minus
    /// the world size when that is positive, else 1 (mpi4py's rule). Static form: at most this
    /// many of the ranks. An explicit value must be > 0.
    std::optional<int> max_workers;
    /// Runs once on each worker before its first task (multiprocessing::Initializer(f, args...)
    /// is mpi4py's initializer + initargs). If it throws, the pool is broken: pending futures and
    /// later submits fail with BrokenExecutor.
    multiprocessing::Initializer initializer;
    /// The workers' working directory ("" = where they started).
    std::string wdir;
    /// Environment variables set on each worker before the initializer.
    std::vector<std::pair<std::string, std::string>> env;
    /// Directories where a worker looks for a task's shared library when the master's path for
    /// it does not exist on the worker's host (mpi4py's `path`, which extends sys.path).
    std::vector<std::string> path;
    /// Spawned workers: the program to run ("" = this executable). It must be built from the same
    /// sources (functions are named by their offset in the executable): a copy on another host.
    std::string command;
};

/// mpi4py's keyword arguments of map/starmap: Executor.map's, plus `unordered`.
struct MPIMapOptions {
    /// Time allowed for the whole iteration, from the call to map(); TimeoutError when a result
    /// is not ready by then.
    std::optional<std::chrono::duration<double>> timeout;
    /// Items per task (≥ 1): chunks are what make map fast across ranks.
    int chunksize = 1;
    /// At most this many chunks submitted ahead of the consumer (the ranges are then read lazily).
    std::optional<int> buffersize;
    /// Results in the order they complete (chunk by chunk) instead of the order of the items.
    bool unordered = false;
};

/// What MPIPoolExecutor::map and starmap return: an input range of R (std::monostate for a void
/// function), read once, in order or (`unordered`) chunk by chunk as they complete. Reading the
/// first result of a chunk waits for it and throws the chunk's exception, or TimeoutError;
/// destroying the range cancels the chunks not yet started.
template <class R>
using MPIMapResults = cf::ProcessMapResults<R>;

/// A pool of MPI worker ranks running submitted calls (mpi4py.futures.MPIPoolExecutor).
///
/// Workers start at the first submit (or bootup()). Tasks travel in batches, a few ahead of what
/// each worker is running; map() sends `chunksize` items as one task. The destructor is
/// shutdown(wait = true), Python's `with` block.
///
/// submit() and map() hide Executor's: a call reached through `Executor&` carries a closure that
/// cannot be sent to another rank, so that path throws std::invalid_argument (see enqueue).
class MPIPoolExecutor final : public cf::Executor {
public:
    /// The default number of workers (MPIPoolOptions::max_workers).
    MPIPoolExecutor();
    /// Throws std::invalid_argument ("max_workers must be greater than 0") if max_workers <= 0.
    explicit MPIPoolExecutor(int max_workers);
    /// Throws std::invalid_argument naming the argument for a bad max_workers; std::runtime_error
    /// when MPI runs below MPI_THREAD_SERIALIZED.
    explicit MPIPoolExecutor(MPIPoolOptions options);
    ~MPIPoolExecutor() override;

    /// Schedules fn(args...) on a worker and returns its Future. Arguments are serialized now.
    /// Throws BrokenExecutor once the pool is broken, std::runtime_error after shutdown().
    template <class F, class... Args>
    auto submit(F&& fn, const Args&... args) {
        return nogil::concurrent::futures::detail::submit_call<detail::PoolFutureState, F>(*core_, std::forward<F>(fn), args...);
    }

    /// mpi4py's map: fn over the items of the ranges taken in step, in order (or as completed
    /// with `unordered`), `chunksize` items per task. A chunk's exception is thrown when its first
    /// result is read; leaving the range early cancels the chunks not yet started.
    template <class F, std::ranges::input_range... Rs>
        requires(sizeof...(Rs) >= 1)
    auto map(F&& fn, Rs&&... ranges) {
        return map_with(MPIMapOptions{}, std::forward<F>(fn), std::forward<Rs>(ranges)...);
    }
    template <class F, std::ranges::input_range R1>
    auto map(F&& fn, R1&& r1, MPIMapOptions options) {
        return map_with(std::move(options), std::forward<F>(fn), std::forward<R1>(r1));
    }
    template <class F, std::ranges::input_range R1, std::ranges::input_range R2>
    auto map(F&& fn, R1&& r1, R2&& r2, MPIMapOptions options) {
        return map_with(std::move(options), std::forward<F>(fn), std::forward<R1>(r1), std::forward<R2>(r2));
    }

    /// mpi4py's starmap: fn(args...) for each tuple (or pair) of `items`.
    template <class F, std::ranges::input_range R>
    auto starmap(F&& fn, R&& items, MPIMapOptions options = {}) {
        static_assert(nogil::multiprocessing::detail::check_callable<F>());
        using Fn = nogil::multiprocessing::detail::function_pointer_t<F>;
        using Item = typename AsTuple<std::decay_t<std::ranges::range_reference_t<R>>>::type;
        using Res = decltype(std::apply(std::declval<Fn>(), std::declval<Item&>()));
        return start<std::decay_t<Res>, Item>(options, +fn, std::forward<R>(items));
    }

    /// Stops accepting work. Tasks already submitted still run unless cancel_futures (then those
    /// not yet sent to a worker are cancelled). With wait, returns once all have finished and the
    /// workers were told to stop (spawned ones exit; static ones wait for the next executor).
    void shutdown(bool wait = true, bool cancel_futures = false) override;

    /// Starts the workers now (mpi4py's bootup); with wait, returns once every worker ran its
    /// initializer. Throws BrokenExecutor if they could not be started or an initializer failed.
    MPIPoolExecutor& bootup(bool wait = true);

    /// The number of workers (starts them and waits if needed, as mpi4py does); 0 after
    /// shutdown() of a pool that never started.
    int num_workers() const;

protected:
    /// Executor::submit's path: always throws std::invalid_argument (a type-erased closure cannot
    /// cross a process boundary; call MPIPoolExecutor::submit on the pool itself).
    void enqueue(nogil::concurrent::futures::detail::FutureStateBase* item) override;

private:
    friend class MPICommExecutor;
    MPIPoolExecutor(detail::PoolSettings settings, std::nullptr_t internal);

    template <class T>
    struct AsTuple {
        using type = T;
    };
    template <class A, class B>
    struct AsTuple<std::pair<A, B>> {
        using type = std::tuple<A, B>;
    };

    template <class F, class... Rs>
    auto map_with(MPIMapOptions options, F&& fn, Rs&&... ranges) {
        static_assert(nogil::multiprocessing::detail::check_callable<F>());
        using Fn = nogil::multiprocessing::detail::function_pointer_t<F>;
        using Item = std::tuple<std::decay_t<std::ranges::range_reference_t<Rs>>...>;
        using R = std::invoke_result_t<Fn, std::decay_t<std::ranges::range_reference_t<Rs>>&...>;
        return start<R, Item>(options, +fn, std::forward<Rs>(ranges)...);
    }

    template <class R, class Item, class Fn, class... Rs>
    MPIMapResults<R> start(const MPIMapOptions& options, Fn target, Rs&&... ranges) {
        cf::MapOptions base{options.timeout, options.chunksize, options.buffersize};
        auto state = cf::detail::start_chunked_map<typename MPIMapResults<R>::State, Item>(
            *this, base, target, std::forward<Rs>(ranges)...);
        state->unordered = options.unordered;
        return MPIMapResults<R>(std::move(state));
    }

    std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace nogil::mpi
