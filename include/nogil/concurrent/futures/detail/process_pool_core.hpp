#pragma once
// The untyped engine of concurrent::futures::ProcessPoolExecutor.
//
// Unlike multiprocessing::Pool's PoolCore (one task per idle worker), this core keeps a small
// pipeline of tasks in flight per worker and batches them: one request frame carries several
// tasks, one response frame carries several results. That is where the per-task cost goes from
// a few context switches to a fraction of a syscall. The pipeline depth adapts to the measured
// task duration (about 200 µs of queued work per worker, between 2 and 64 tasks), so long tasks
// are not stuck behind a busy worker while another is idle. The core knows exactly which tasks
// each worker holds (in order: a worker answers in the order it was asked), so a response that
// is not the one expected is garbage and is not trusted.
//
// Transport: each worker has a shared-memory channel (two rings, process_pool_channel.hpp) next to
// its socket. Batches travel through the rings; the socket carries what the rings cannot
// (descriptors, messages above a quarter of a ring) and tells of the worker's end. A worker spins
// briefly for its next request before sleeping on a futex (adaptively: Spinner); the manager sleeps
// in poll() and is woken through its wake-up pipe (a pipe, not an eventfd: see Impl::wake).
// Wake-ups are paid only when the other side announced that it sleeps.
//
// Who does what:
//   - submit() (any thread) queues the task and, when a worker has room in its pipeline, writes
//     the batch to that worker itself: a lone task does not wait for the manager thread to wake.
//   - A thread waiting in a future's result() or exception() reads the rings itself for a short
//     spin (help(), reached through FutureStateBase::help_wait) when no other thread is reading
//     them: it completes the futures the answers are for, and the manager is not woken at all.
//     That is the serial round trip's fast path: two spinning threads (the caller and the
//     worker) on two CPUs, no third one to wake. Answers for futures with done callbacks are
//     handed to the manager, so user callbacks run on the manager thread, as before.
//   - The manager thread starts the workers, reads every response nobody waiting read, completes
//     those futures (done callbacks run on it), replaces workers that exit after
//     max_tasks_per_child, notices deaths, and takes over whatever a helping thread does not
//     handle (a message behind a marker, garbage).
//
// Reading the rings (the `reading` mutex, taken before `mutex`, never the other way): one
// thread at a time reads the response rings, the manager or a helper (which only try_locks it).
// `workers` changes only under both. While the manager sleeps in poll() every ring carries its
// sleep announcement, so a worker wakes it; a helper withdraws them while it holds `reading`
// (the worker then does not pay for a wake-up nobody needs) and puts them back, re-checking the
// rings, before it lets go. Futures are completed after `reading` is released, so a done
// callback may shut the pool down. A done callback runs on the manager thread and must not wait
// for another future of the pool without a timeout: nobody reads answers while it runs (help()
// does nothing there), as in Python, where such a wait deadlocks the management thread.
// Pinned by tests/concurrent_futures_process_pool_test.cpp: ProcessPoolHelpingWaiter.
// DoneCallbacksRunOnTheManagerNotOnTheWaiter, CallbackWaitingForAnotherFutureTimesOut,
// CallbackMayShutDownAndDestroyThePool.
//
// Breakage (Python's terminate_broken): a worker that exits when not asked to (killed, _exit,
// crash, a failing initializer) or speaks garbage breaks the pool: every worker is killed and
// reaped, every task in flight or pending fails with BrokenProcessPool, and later submits throw
// it. Detection takes one poll wake-up of the manager thread: nothing waits for a task.
//
// Shutdown protocol (shutdown(wait, cancel_futures)):
//   1. Under the lock: from here on submit() throws "cannot schedule new futures after shutdown";
//      with cancel_futures, every task not yet sent to a worker is cancelled.
//      (tests: ProcessPoolExecutor.SubmitAfterShutdownThrows, CancelFuturesCancelsWhatWasNotSent)
//   2. The manager keeps dispatching and reading until nothing is pending or in flight, then
//      sends each worker the stop request, closes its connection and reaps it, and returns.
//      A death during this phase breaks the pool as above, so shutdown never hangs on it.
//      (tests: ProcessPoolExecutor.ShutdownWithoutWaitStillRunsTheTasks,
//      ProcessPoolDeadlock.PendingFuturesFailTooAndShutdownReturns)
//   3. With wait: join the manager thread (unless called on it, from a done callback).
//      (tests: ProcessPoolExecutor.ShutdownWaitFinishesEverything,
//      ProcessPoolHelpingWaiter.CallbackMayShutDownAndDestroyThePool)
//   terminate_workers()/kill_workers() are shutdown(false, true) plus SIGTERM/SIGKILL to every
//   worker: the manager then sees the deaths and fails what was in flight (Python 3.14).
//   (tests: ProcessPoolDeadlock.KillWorkersFailsTheRunningTask, TerminateWorkersFailsTheRunningTask)

#include <nogil/concurrent/futures/detail/future_state.hpp>
#include <nogil/concurrent/futures/detail/process_pool_channel.hpp>
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/worker.hpp>
#include <nogil/multiprocessing/connection.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace nogil::concurrent::futures {
template <class T>
class Future;  // future.hpp; submit_call() is instantiated where it is complete
}  // namespace nogil::concurrent::futures

namespace nogil::concurrent::futures::detail {
// multiprocessing's machinery: frames, calls, function ids, shared blocks.
using ::nogil::multiprocessing::detail::EncodedCall;
using ::nogil::multiprocessing::detail::FunctionId;
using ::nogil::multiprocessing::detail::SharedCall;
using ::nogil::multiprocessing::detail::TaskRequest;
using ::nogil::multiprocessing::detail::TaskResponse;

// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


/// Turns a worker's answer into the future's value or exception (instantiated per result type).
/// Runs on the manager thread; `fds` are the descriptors that rode on the response.
using DeliverFn = void (*)(FutureStateBase& future, TaskResponse& response, std::vector<UniqueFd>& fds);

/// The DeliverFn of a Future<R>: the answer's value (decoded) or exception (rebuilt by type).
/// A result that does not decode becomes the future's exception; InvalidStateError (the future
/// was completed meanwhile) goes to the caller.
template <class R>
void deliver_response(FutureStateBase& s, TaskResponse& response, std::vector<UniqueFd>& fds) {
    auto& state = static_cast<FutureState<R>&>(s);
    if (!response.ok) return state.set_exception(::nogil::multiprocessing::detail::rebuild_exception(response.error));
    try {
        if constexpr (std::is_void_v<R>) {
            state.set_value();
        } else {
            state.set_value(::nogil::detail::serial::load_one<R>(response.result, fds));
        }
    } catch (const InvalidStateError&) {
        throw;
    } catch (...) {
        state.set_exception(std::current_exception());  // a result that does not decode
    }
}

/// What the executor sends: several requests in one frame.
using RequestBatch = std::vector<TaskRequest>;

/// What a worker answers: results in request order, and the time it spent running them (the
/// manager sizes each worker's pipeline from it). A result carrying descriptors travels alone.
struct ResponseBatch {
    std::vector<TaskResponse> items;
    std::uint64_t busy_ns = 0;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(items, busy_ns);
    }
};

struct ProcessPoolSettings {
    int max_workers = 1;
    SharedCall initializer;
    std::uint64_t max_tasks_per_child = 0;  // 0: no limit
    std::string start_method;               // "fork", "spawn" or "forkserver"
};

class ProcessPoolCore {
public:
    explicit ProcessPoolCore(ProcessPoolSettings settings);
    ~ProcessPoolCore();  // shutdown(true, false)
    ProcessPoolCore(const ProcessPoolCore&) = delete;
    ProcessPoolCore& operator=(const ProcessPoolCore&) = delete;

    /// Takes one reference to `future` (released once it is completed or dropped) and queues the
    /// call. Throws BrokenProcessPool once broken, std::runtime_error after shutdown (releasing
    /// the reference first).
    void submit(FutureStateBase* future, DeliverFn deliver, EncodedCall call);
    void shutdown(bool wait, bool cancel_futures);
    /// shutdown(false, true), then `signal` to every live worker.
    void signal_workers(int signal);
    /// The pids of the live workers (empty before the first submit).
    std::vector<int> worker_pids() const;
    int max_workers() const noexcept;

    struct Impl;
    /// What a future of this pool keeps of it (it does not keep the pool alive).
    std::weak_ptr<Impl> link() const noexcept { return impl_; }
    /// A thread waiting for `future` (not yet done) reads the workers' answers itself for a short
    /// spin, or until the deadline or the future is done, if no other thread is reading them.
    /// True if it did, false if another thread reads them or the pool is gone.
    static bool help(const std::weak_ptr<Impl>& pool, const FutureStateBase& future,
                     std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;

private:
    std::shared_ptr<Impl> impl_;  // shared with the manager thread
};

/// The state behind a process pool's Future<R>: a thread waiting for it helps read the answers.
template <class R>
class ProcessFutureState final : public FutureState<R> {
public:
    explicit ProcessFutureState(std::weak_ptr<ProcessPoolCore::Impl> pool) noexcept : pool_(std::move(pool)) {}
    bool help_wait(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept override {
        return ProcessPoolCore::help(pool_, *this, deadline);
    }

private:
    std::weak_ptr<ProcessPoolCore::Impl> pool_;
};

/// The submit() of the executors that send calls to other processes (ProcessPoolExecutor,
/// mpi::MPIPoolExecutor): encodes fn(args...) now, makes the Future<R> whose state is
/// `State<R>(core.link())` (a waiting thread helps read answers through it), and hands the call
/// to `core` with one reference to the state (released once the task is completed or dropped).
/// F is the submit()'s own template argument (a forwarding reference's), passed explicitly.
template <template <class> class State, class F, class Core, class... Args>
auto submit_call(Core& core, F&& fn, const Args&... args) {
    static_assert(::nogil::multiprocessing::detail::check_task<F, Args...>());
    using R = ::nogil::multiprocessing::detail::task_result_t<F, Args...>;
    ::nogil::multiprocessing::detail::EncodedCall call = ::nogil::multiprocessing::detail::encode_call_cached(fn, args...);
    auto* state = new State<R>(core.link());  // our reference, adopted by the Future
    Future<R> future(StateRef<FutureState<R>>{state});
    state->retain();  // the pool's reference
    core.submit(state, &deliver_response<R>, std::move(call));
    return future;
}

/// A process pool worker's body: runs the initializer, then request batches (from `channel`'s
/// ring, or from `conn` where the ring says so) until the stop request, end of file, or
/// `maxtasks` tasks (0 = no limit).
void process_pool_worker_main(multiprocessing::Connection conn, ProcessPoolChannel channel, std::uint64_t maxtasks,
                              SharedCall initializer);

/// In a process pool worker: the descriptor of its connection to the pool (-1 elsewhere). For
/// tests that play a misbehaving worker.
int process_pool_worker_fd() noexcept;
/// In a process pool worker: its shared rings (nullptr elsewhere). For tests that scribble.
const ProcessPoolChannel* process_pool_worker_channel() noexcept;

/// ProcessPoolExecutor.map's unit of work: fn applied to each tuple of a chunk, in the worker.
/// A void function yields a 0 byte per item (the parent turns it into std::monostate).
template <class Fn, class... Args>
auto process_chunk(FunctionId fn, std::vector<std::tuple<Args...>> items) {
    Fn f = resolve_as<std::remove_pointer_t<Fn>>(fn);
    using R = std::invoke_result_t<Fn, Args&...>;
    using Wire = std::conditional_t<std::is_void_v<R>, std::uint8_t, std::decay_t<R>>;
    std::vector<Wire> out;
    out.reserve(items.size());
    for (auto& item : items) {
        if constexpr (std::is_void_v<R>) {
            std::apply(f, item);
            out.push_back(0);
        } else {
            out.push_back(std::apply(f, item));
        }
    }
    return out;
}

}  // namespace nogil::concurrent::futures::detail
