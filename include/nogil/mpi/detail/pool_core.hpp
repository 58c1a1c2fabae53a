#pragma once
// The untyped engine of mpi::MPIPoolExecutor: the master side of the protocol (protocol.hpp).
//
// One mutex (`Impl::mutex`) guards the core's state and every MPI call the master makes, so MPI is
// never entered from two threads at once, whatever thread level the library gave (it must give
// MPI_THREAD_SERIALIZED at least). Every MPI call made under it is non-blocking (Isend, Improbe,
// Mrecv of a message already matched, Test): the lock is held for microseconds.
//
// Who talks to the workers:
//   - submit() (any thread) queues the task and, once the workers are up, sends it at once when
//     a worker has room in its pipeline: a lone task does not wait for another thread to wake.
//   - A thread waiting in a future's result() polls for answers itself (help(), reached through
//     FutureStateBase::help_wait) for up to 2 ms while no other thread holds the lock: it
//     completes whatever futures the answers are for. That is the serial round trip's fast path.
//     (Not when every core of the host runs a busy worker of ours and the manager can be rung:
//     then it sleeps at once.)
//   - The manager thread starts the workers (MPI_Comm_spawn, or the ranks of the world), then
//     polls while anything is in flight: a short spin, then it sleeps on the master's doorbell
//     (src/mpi/doorbell.hpp) when every worker runs on this host and rings it after each answer,
//     else sleeps that grow from 50 µs to 1 ms (MPI offers nothing to block on; a waiting helper
//     makes it sleep at once). With the doorbell it sleeps on it while nothing is in flight too
//     (a submit sends the task itself; the answer rings), and the workers do not ring it while a
//     thread polls in help() (that thread rings it when it leaves with tasks in flight): a
//     serial round trip wakes no thread. Without, it sleeps on a condition variable, without
//     polling, while nothing is in flight (a submit wakes it).
//   Futures are completed outside the lock, by whichever thread read the answer: done callbacks
//   run there (the manager, or a thread waiting in result()).
//
// Pipelines: a worker holds at most `depth` tasks, sent in batches (one message carries several
// calls, one answer several results). The depth follows the measured task duration: about 200 µs
// of queued work per worker, between 2 and 64 tasks, so short tasks travel by the dozen and long
// ones are not stuck behind a busy worker while another is idle.
//
// Breakage: an initializer that throws, a worker that cannot be started, an MPI error on the
// pool's communicator, or an answer that does not match what the worker holds breaks the pool:
// every pending and in-flight future fails with BrokenExecutor (the message says why), later
// submits throw it. A rank killed outright is the MPI job's business: Open MPI 4.1 tears the whole
// job down (docs/mpi.md, "When a rank dies").
//
// Shutdown protocol (shutdown(wait, cancel_futures)):
//   1. Under the lock: submit() throws "cannot schedule new futures after shutdown" from here on;
//      with cancel_futures every task not yet sent to a worker is cancelled.
//   2. The manager keeps sending and polling until nothing is pending or in flight, then sends
//      every worker `stop`, completes those sends, and (spawned workers) disconnects the
//      intercommunicator.
//   3. With wait: join the manager thread (unless called on it, from a done callback).

#include <nogil/concurrent/futures/detail/future_state.hpp>
#include <nogil/mpi/detail/protocol.hpp>

#include <mpi.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nogil::mpi::detail {

using nogil::concurrent::futures::detail::DeliverFn;
using nogil::concurrent::futures::detail::FutureStateBase;

/// Where the workers come from.
enum class StartMode {
    spawn,  // MPI_Comm_spawn of this executable (dynamic; the default in a singleton or -n 1 run)
    world,  // the other ranks of MPI_COMM_WORLD, serving in nogil::mpi::init (static)
    comm,   // the other ranks of a user's communicator, serving in MPICommExecutor's constructor
};

struct PoolSettings {
    StartMode mode = StartMode::spawn;
    std::optional<int> max_workers;  // spawn: how many; world/comm: at most this many of the ranks
    Session session;
    MPI_Comm comm = MPI_COMM_NULL;  // comm mode: the user's communicator (duplicated)
    int root = 0;                   // comm mode: the master's rank in it
    std::string command;            // spawn: the executable ("" = this one)
};

class PoolCore {
public:
    /// Checks the settings and MPI's thread level; starts nothing yet (bootup() or the first submit
    /// does). Throws std::invalid_argument / std::runtime_error with a message naming the problem.
    explicit PoolCore(PoolSettings settings);
    ~PoolCore();  // shutdown(true, false)
    PoolCore(const PoolCore&) = delete;
    PoolCore& operator=(const PoolCore&) = delete;

    /// Takes one reference to `future` (released once it is completed or dropped) and queues the
    /// call. Throws BrokenExecutor once broken, std::runtime_error after shutdown, and
    /// std::invalid_argument for a call carrying file descriptors (they cannot cross ranks).
    void submit(FutureStateBase* future, DeliverFn deliver, EncodedCall call);
    /// Starts the workers now; with wait, returns once every worker ran its initializer (throws
    /// BrokenExecutor if one failed or the workers could not be started).
    void bootup(bool wait);
    void shutdown(bool wait, bool cancel_futures);
    /// The number of workers: known once they are up (bootup(true)); before that, what will be asked.
    int num_workers() const;

    struct Impl;
    /// What a future of this pool keeps of it (it does not keep the pool alive).
    std::weak_ptr<Impl> link() const noexcept { return impl_; }
    /// A thread waiting for `future` polls for answers itself for up to 2 ms (or the deadline, or
    /// until the future is done). True if it did, false if the pool is gone or not running yet.
    static bool help(const std::weak_ptr<Impl>& pool, const FutureStateBase& future,
                     std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;

private:
    std::shared_ptr<Impl> impl_;
};

/// The state behind an MPI pool's Future<R>: a thread waiting for it helps read the answers.
template <class R>
class PoolFutureState final : public nogil::concurrent::futures::detail::FutureState<R> {
public:
    explicit PoolFutureState(std::weak_ptr<PoolCore::Impl> pool) noexcept : pool_(std::move(pool)) {}
    bool help_wait(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept override {
        return PoolCore::help(pool_, *this, deadline);
    }

private:
    std::weak_ptr<PoolCore::Impl> pool_;
};

/// MPI's state as nogil::mpi uses it (environment.cpp).
/// Initializes MPI if nobody did (asking for MPI_THREAD_MULTIPLE; MPI_Finalize then runs at exit)
/// and checks the thread level: throws std::runtime_error below MPI_THREAD_SERIALIZED.
void ensure_mpi_initialized();
/// The world's rank and size (after ensure_mpi_initialized).
int world_rank();
int world_size();
/// mpi4py's default worker count: universe size − world size when the universe is known and
/// larger, else 1.
int default_max_workers();
/// "MPI_Comm_spawn failed: <MPI's error string>" and the advice to use the static form.
std::string mpi_error_string(int code);

/// A worker's body, for one communicator with its master at `master` (a rank of `comm`, or of the
/// remote group of an intercommunicator): serves sessions until stop (`until_exit` false) or exit.
void serve(MPI_Comm comm, int master, bool until_exit);

/// The wait between polls when nothing arrives: spin `spin` first, then sleep, doubling from
/// 50 µs up to 1 ms. reset() after progress. Shared by the master's manager and the workers.
class Backoff {
public:
    explicit Backoff(std::chrono::nanoseconds spin) noexcept : spin_(spin) {}
    void reset() noexcept { idle_since_.reset(); sleep_ = std::chrono::microseconds(50); }
    /// Called after a poll that found nothing: pauses a little, or sleeps.
    void pause();
    /// As pause(), but once the spin is over `sleep()` does the sleeping (on a doorbell: woken when
    /// a message is sent); true from it (rung) starts the spin again.
    template <class Sleep>
    void pause(Sleep&& sleep) {
        if (spinning()) {
            yield();
            return;
        }
        if (sleep()) reset();
    }
    /// Sleeps at once (another thread is polling).
    void sleep_now();
    /// True (and the idle period started) while the spin window lasts.
    bool spinning();
    /// Gives the CPU to another runnable thread (the one we wait for may need this very CPU).
    static void yield() noexcept;

private:
    std::chrono::nanoseconds spin_;
    std::optional<std::chrono::steady_clock::time_point> idle_since_;
    std::chrono::microseconds sleep_{50};
};

}  // namespace nogil::mpi::detail
