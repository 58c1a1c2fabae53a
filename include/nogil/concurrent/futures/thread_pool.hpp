#pragma once
// concurrent.futures.ThreadPoolExecutor: a pool of worker threads running submitted calls.

#include <nogil/concurrent/futures/executor.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace nogil::concurrent::futures {

namespace detail {
class ThreadPoolCore;
}

/// Python's keyword arguments of ThreadPoolExecutor.
struct ThreadPoolOptions {
    /// Most threads the pool will run; default min(32, cores + 4) as in Python. An explicit value
    /// must be > 0 (std::invalid_argument otherwise).
    std::optional<int> max_workers;
    /// Workers are named "<prefix>_<n>"; default "ThreadPoolExecutor-<pool number>".
    std::string thread_name_prefix;
    /// Run once at the start of each worker thread (Python's initializer with its initargs: bind
    /// the arguments into the callable). If it throws, the pool is broken: pending futures fail
    /// with BrokenThreadPool and later submits throw it.
    std::function<void()> initializer;
};

/// A pool of at most max_workers threads running submitted calls (Python's ThreadPoolExecutor).
///
/// Threads are started lazily by submit(), one at a time, and only when no started thread is idle.
/// Every member is safe to call from any thread. The destructor is shutdown(wait = true): leaving
/// the scope waits for all submitted calls, as Python's `with` block does. The executor may be
/// destroyed by one of its own calls (a call holding the last owner of the executor): that worker
/// is not joined by itself; it finishes, runs what is still queued and then exits, alone. A pool
/// still alive at program exit (main returning, std::exit) is shut down the same way, so exit
/// waits for the calls submitted to it; a submit after exit has begun throws std::runtime_error("cannot
/// schedule new futures after interpreter shutdown"), as in Python.
///
/// Calls run in submission order as workers free up; a worker takes a small batch of calls at
/// once when many are queued, and an idle worker takes from a busy worker's batch (work stealing),
/// so no call waits behind another while a worker is idle. See docs/executors.md.
///
/// Thread safety: every member may be called from any thread at once. Calls run on the pool's
/// worker threads; a call may shut its own pool down (shutdown(wait) joins every worker but the
/// calling one). Done callbacks run on the worker that ran the call, or in the thread that cancels
/// the future (shutdown(cancel_futures = true): the thread calling shutdown).
class ThreadPoolExecutor final : public Executor {
public:
    ThreadPoolExecutor();
    explicit ThreadPoolExecutor(int max_workers);
    explicit ThreadPoolExecutor(ThreadPoolOptions options);
    ~ThreadPoolExecutor() override;

    void shutdown(bool wait = true, bool cancel_futures = false) override;

    /// The most worker threads this pool runs.
    int max_workers() const noexcept;
    /// How many worker threads have been started so far (Python keeps them in `_threads`).
    std::size_t thread_count() const noexcept;

    /// Python's default: min(32, os.process_cpu_count() + 4).
    static int default_max_workers() noexcept;

protected:
    void enqueue(nogil::concurrent::futures::detail::FutureStateBase* item) override;

private:
    std::shared_ptr<detail::ThreadPoolCore> core_;  // shared with the worker threads and (weakly) program exit's hook
};

}  // namespace nogil::concurrent::futures
