// The master side of an MPI pool (include/nogil/mpi/detail/pool_core.hpp has the design).

#include <nogil/errors.hpp>
#include <nogil/mpi/detail/pool_core.hpp>

#include "doorbell.hpp"
#include "messages.hpp"
#include "multiprocessing/detail/ps_record.hpp"
#include <nogil/concurrent/futures/detail/debug_offsets.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <cerrno>
#include <csignal>
#include <unistd.h>

namespace nogil::mpi::detail {

// `nogil ps` (include/nogil/concurrent/futures/detail/debug_offsets.hpp, MpiPoolDebugOffsets).
using ::nogil::concurrent::futures::detail::ExecutorRecord;
using ::nogil::multiprocessing::detail::CountedMutex;

namespace {

using Clock = std::chrono::steady_clock;

struct Task {
    std::uint64_t id = 0;
    FutureStateBase* future = nullptr;  // one reference, ours
    DeliverFn deliver = nullptr;
    EncodedCall call;                    // once sent, its target alone (for `nogil ps`)
};

struct Worker {
    int rank = 0;                 // in the pool's communicator (remote group for an intercommunicator)
    std::deque<Task> in_flight;   // sent, in order: the worker answers in this order
    std::size_t depth = 2;        // how many tasks it may hold
    bool booted = false;
    pid_t local_pid = 0;          // its pid when it runs on this host (watched), else 0
    std::string host;
};

// A future to complete outside the lock: with an answer, or with an exception.
struct Completion {
    FutureStateBase* future = nullptr;
    DeliverFn deliver = nullptr;
    TaskResponse response;
    std::exception_ptr error;
};

std::string this_executable() {
    char path[4096];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) throw std::runtime_error("nogil::mpi: cannot read /proc/self/exe to spawn workers");
    return std::string(path, static_cast<std::size_t>(n));
}

// Messages larger than this may need the sender's progress to leave (a rendezvous): Open MPI 4.1
// sends up to 4 KiB eagerly over shared memory (vader) and 64 KiB over TCP; the smaller bound.
constexpr std::size_t eager_bytes = 4096;
constexpr auto help_poll_limit = std::chrono::milliseconds(2);  // how long a thread in result() polls at most
constexpr std::uint64_t long_task_ns = 100'000;  // tasks this long: a waiting thread sleeps when every core is busy
constexpr auto manager_spin = std::chrono::microseconds(20);
constexpr std::uint64_t queued_work_ns = 200'000;  // per worker: what sizes its pipeline
constexpr auto liveness_period = std::chrono::milliseconds(100);  // how often local workers are looked at

std::string this_host() {
    char host[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(host, &length);
    return std::string(host, static_cast<std::size_t>(length));
}

// In every program that uses an MPI pool (this file is linked in with MPIPoolExecutor), before
// main(): a process spawned as a worker serves and exits here.
struct Bootstrap {
    Bootstrap() { run_spawned_worker_if_marked(); }
} bootstrap;

}  // namespace

struct PoolCore::Impl {
    enum class Phase { idle, starting, running, broken, closed };

    explicit Impl(PoolSettings s) : settings(std::move(s)) {
        record.kind = ExecutorRecord::mpi_pool;
        record.max_workers = settings.max_workers.value_or(0);
        record.pool = this;
        record.layout = &debug_layout();
        ::nogil::concurrent::futures::detail::register_executor(record);
    }
    ~Impl() { ::nogil::concurrent::futures::detail::unregister_executor(record); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    static const ::nogil::concurrent::futures::detail::MpiPoolDebugOffsets& debug_layout() noexcept;

    const PoolSettings settings;

    // ---- guarded by `mutex` (and so is every MPI call on `comm`); it counts its critical
    // sections for `nogil ps`, which reads what it guards from another process ----
    CountedMutex mutex;
    Phase phase = Phase::idle;
    bool shutdown_requested = false;
    bool manager_waiting = false;  // the manager sleeps on `wake`: submit() must notify it
    std::string broken_reason;
    MPI_Comm comm = MPI_COMM_NULL;
    bool spawned = false;      // comm is the intercommunicator to spawned workers
    bool comm_failed = false;  // an MPI call on comm failed: the workers cannot be told anything
    std::deque<Worker> workers;  // a deque: a Worker never moves (its deque of tasks cannot be relocated noexcept)
    std::size_t booted = 0;
    std::deque<Task> pending;
    Outbox outbox;
    std::uint64_t next_id = 1;
    std::thread manager;
    // Linked into the executors' registry from construction to destruction (`nogil ps`);
    // max_workers is set once the workers are known.
    ExecutorRecord record;

    std::condition_variable_any wake;        // the manager, while nothing is in flight
    std::condition_variable_any boot_done;   // bootup(wait) and num_workers()
    std::atomic<bool> running{false};    // phase == running, for help() without the lock
    std::atomic<int> helpers{0};         // threads in help(): the manager then sleeps
    std::unique_ptr<Doorbells> bells;    // set before the workers boot; slot 0 ours, 1 + rank theirs
    std::size_t bells_attached = 0;      // workers that opened it (guarded by mutex)
    std::atomic<bool> all_bells{false};  // every worker opened it: the manager sleeps on slot 0
    std::atomic<int> busy_here{0};       // workers on this host holding tasks (guarded writes: mutex)
    std::atomic<std::uint64_t> task_ns{0};  // what the last answered task took to run, on average
    bool needs_progress = false;  // a send over eager_bytes since submit() last looked (mutex)

    // -------- called with `mutex` held --------

    bool outstanding_locked() const {
        if (!pending.empty() || !outbox.empty() || booted < workers.size()) return true;
        return std::any_of(workers.begin(), workers.end(), [](const Worker& w) { return !w.in_flight.empty(); });
    }

    void break_locked(std::string reason, std::vector<Completion>& out) {
        if (phase == Phase::broken) return;
        phase = Phase::broken;
        running.store(false, std::memory_order_relaxed);
        broken_reason = std::move(reason);
        auto error = std::make_exception_ptr(BrokenExecutor(broken_reason));
        for (auto& w : workers) {
            for (auto& t : w.in_flight) out.push_back({t.future, t.deliver, {}, error});
            w.in_flight.clear();
        }
        for (auto& t : pending) out.push_back({t.future, t.deliver, {}, error});
        pending.clear();
        boot_done.notify_all();
        wake.notify_all();
    }

    void on_booted(Worker& w, const std::string& bytes, std::vector<Completion>& out) {
        auto report = decode<BootReport>(bytes);
        if (w.booted) throw std::runtime_error("a second boot report");
        w.booted = true;
        w.host = report.host;
        if (report.host == this_host()) w.local_pid = static_cast<pid_t>(report.pid);
        if (report.doorbell) ++bells_attached;
        ++booted;
        if (booted == workers.size() && bells) {
            bells->unlink();  // every worker has opened it (or will poll): nothing left in /dev/shm
            all_bells.store(bells_attached == workers.size(), std::memory_order_release);
        }
        if (!report.ok) {
            break_locked("the initializer failed on worker rank " + std::to_string(w.rank) + " (" + report.host +
                             "): " + nogil::multiprocessing::detail::demangle(report.error.type.c_str()) + ": " +
                             report.error.message + "; the MPI pool is not usable anymore",
                         out);
            return;
        }
        if (booted == workers.size()) boot_done.notify_all();
    }

    void on_results(Worker& w, const std::string& bytes, std::vector<Completion>& out) {
        auto batch = decode<ResponseBatch>(bytes);
        if (batch.items.empty() || batch.items.size() > w.in_flight.size())
            throw std::runtime_error("worker rank " + std::to_string(w.rank) + " answered tasks it does not hold");
        for (auto& response : batch.items) {
            Task& t = w.in_flight.front();
            if (response.id != t.id)
                throw std::runtime_error("worker rank " + std::to_string(w.rank) + " answered out of order");
            out.push_back({t.future, t.deliver, std::move(response), nullptr});
            w.in_flight.pop_front();
        }
        // About `queued_work_ns` of work per worker, between 2 and 64 tasks.
        std::uint64_t per_task = std::max<std::uint64_t>(1, batch.busy_ns / batch.items.size());
        task_ns.store(per_task, std::memory_order_relaxed);
        w.depth = std::clamp<std::uint64_t>(queued_work_ns / per_task, 2, 64);
        if (w.in_flight.empty()) count_busy_locked();
    }

    // A message to a worker, and a ring of its bell in case it sleeps on one.
    void send_locked(std::string bytes, int rank, int tag) {
        if (bytes.size() > eager_bytes) needs_progress = true;
        outbox.send(std::move(bytes), rank, tag, comm);
        if (bells) bells->ring(rank + 1);
    }

    // Nothing to read and nothing of ours still being sent: the manager may sleep on the master's
    // bell (a send in progress needs our polls to finish).
    bool may_sleep_on_bell_locked() noexcept {
        if (!all_bells.load(std::memory_order_relaxed) || !outbox.empty() || phase != Phase::running) return false;
        return nothing_to_read_locked();
    }

    // No answer has arrived (an MPI error says "something": the next poll breaks the pool).
    bool nothing_to_read_locked() noexcept {
        try {
            return !message_waiting(comm, MPI_ANY_SOURCE);
        } catch (const std::exception&) {
            return false;
        }
    }

    Worker* worker_at(int rank) {
        for (auto& w : workers)
            if (w.rank == rank) return &w;
        return nullptr;
    }

    // Sends pending tasks to workers with room: the least loaded first (the lowest rank among
    // equals, so that serial work keeps going to one worker whose spin is still warm).
    bool dispatch_locked() {
        if (booted < workers.size()) return false;  // the first tasks are spread over every worker
        bool sent = false;
        while (!pending.empty()) {
            Worker* best = nullptr;
            for (auto& w : workers) {
                if (!w.booted || w.in_flight.size() >= w.depth) continue;
                if (!best || w.in_flight.size() < best->in_flight.size()) best = &w;
            }
            if (!best) break;
            // Half a pipeline per message, so the next batch is there when the worker ends this one.
            std::size_t room = best->depth - best->in_flight.size();
            std::size_t take = std::max<std::size_t>(1, std::min(room, best->depth / 2));
            RequestBatch batch;
            while (batch.size() < take && !pending.empty()) {
                Task t = std::move(pending.front());
                pending.pop_front();
                if (!t.future->set_running_or_notify_cancel()) {
                    t.future->release();  // cancelled while it waited
                    continue;
                }
                batch.push_back(TaskRequest{t.id, std::move(t.call)});
                t.call = {};
                t.call.target = batch.back().call.target;  // what it runs, for `nogil ps`
                best->in_flight.push_back(std::move(t));
            }
            if (batch.empty()) continue;
            send_locked(encode(batch), best->rank, tag_tasks);
            sent = true;
        }
        if (sent) count_busy_locked();
        return sent;
    }

    // Reads every answer that has arrived, completes finished sends, sends what fits. True if
    // anything moved. Errors break the pool (never thrown).
    bool poll_locked(std::vector<Completion>& out) {
        if (phase != Phase::running) return false;
        bool progress = false;
        try {
            progress |= outbox.test();
            while (auto message = receive(comm, MPI_ANY_SOURCE)) {
                progress = true;
                Worker* w = worker_at(message->source);
                if (!w) throw std::runtime_error("a message from rank " + std::to_string(message->source) +
                                                 ", which is not a worker of this pool");
                if (message->tag == tag_results) {
                    on_results(*w, message->bytes, out);
                } else if (message->tag == tag_booted) {
                    on_booted(*w, message->bytes, out);
                } else {
                    throw std::runtime_error("a message with unknown tag " + std::to_string(message->tag));
                }
                if (phase != Phase::running) return true;
            }
            progress |= dispatch_locked();
        } catch (const MpiError& e) {
            comm_failed = true;
            break_locked(std::string("the MPI pool is broken: ") + e.what(), out);
            return true;
        } catch (const std::exception& e) {
            break_locked(std::string("the MPI pool is broken: ") + e.what(), out);
            return true;
        }
        return progress;
    }

    // A worker on this host that is gone (killed, crashed) breaks the pool. Open MPI 4.1 tears
    // a job down when one of its processes dies, but a singleton's spawned workers die alone:
    // nothing on the communicator says so, and the answers would never come.
    void check_workers_alive_locked(std::vector<Completion>& out) {
        for (auto& w : workers) {
            if (w.local_pid <= 0 || ::kill(w.local_pid, 0) == 0 || errno != ESRCH) continue;
            comm_failed = true;  // no stop protocol with a dead rank: it would wait for its answer
            break_locked("worker rank " + std::to_string(w.rank) + " (pid " + std::to_string(w.local_pid) + " on " +
                             w.host +
                             ") died while the future was running or pending; the MPI pool is not usable anymore",
                         out);
            return;
        }
    }

    // -------- the manager thread --------

    void start_workers() {
        MPI_Comm c = MPI_COMM_NULL;
        std::vector<int> ranks;
        bool inter = false;
        std::string error;
        switch (settings.mode) {
            case StartMode::spawn: {
                int n = settings.max_workers.value_or(default_max_workers());
                if (auto parked = take_parked_workers(n)) {
                    c = *parked;  // the workers of an earlier executor of this process, waiting
                } else {
                    std::string command = settings.command.empty() ? this_executable() : settings.command;
                    char marker[] = "--nogil-mpi-worker";
                    char* argv[] = {marker, nullptr};
                    MPI_Info info = MPI_INFO_NULL;
                    MPI_Info_create(&info);
                    if (!settings.session.wdir.empty()) MPI_Info_set(info, "wdir", settings.session.wdir.c_str());
                    std::vector<int> codes(static_cast<std::size_t>(n), MPI_SUCCESS);
                    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
                    int rc = MPI_Comm_spawn(command.c_str(), argv, n, info, 0, MPI_COMM_SELF, &c, codes.data());
                    MPI_Info_free(&info);
                    if (rc == MPI_SUCCESS)
                        for (int code : codes)
                            if (code != MPI_SUCCESS) rc = code;
                    if (rc != MPI_SUCCESS) {
                        error = spawn_refused_message(rc);
                        c = MPI_COMM_NULL;
                        break;
                    }
                }
                inter = true;
                for (int i = 0; i < n; ++i) ranks.push_back(i);
                break;
            }
            case StartMode::world:
            case StartMode::comm: {
                c = settings.comm;
                int size = 0;
                MPI_Comm_size(c, &size);
                int limit = settings.max_workers.value_or(size);
                for (int r = 0; r < size && static_cast<int>(ranks.size()) < limit; ++r)
                    if (r != settings.root) ranks.push_back(r);
                if (ranks.empty()) error = "the MPI pool has no worker ranks: run the program with mpiexec -n N, N ≥ 2";
                break;
            }
        }
        if (c != MPI_COMM_NULL) MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);

        std::vector<Completion> failed;
        {
            std::lock_guard lock(mutex);
            comm = c;
            spawned = inter;
            if (!error.empty()) {
                phase = Phase::running;  // so that break_locked fails what is pending
                break_locked(error, failed);
            } else {
                for (int r : ranks) workers.push_back(Worker{r, {}, 2, false});
                record.max_workers = static_cast<int>(workers.size());
                Session boot = settings.session;
                if (const char* env = std::getenv("NOGIL_MPI_DOORBELL"); !(env && std::string(env) == "0")) {
                    int size = 0;
                    if (inter) {
                        MPI_Comm_remote_size(c, &size);
                    } else {
                        MPI_Comm_size(c, &size);
                    }
                    bells = Doorbells::create(size + 1);
                    if (bells) {
                        boot.doorbell = bells->name();
                        boot.master_host = this_host();
                    }
                }
                std::string session = encode(boot);
                try {
                    for (auto& w : workers) outbox.send(session, w.rank, tag_boot, comm);
                    phase = Phase::running;
                    running.store(true, std::memory_order_relaxed);
                } catch (const std::exception& e) {
                    phase = Phase::running;
                    break_locked(std::string("the MPI pool could not boot its workers: ") + e.what(), failed);
                }
            }
        }
        complete(failed);
    }

    // Step 2 of the shutdown protocol: stop every worker and wait for each one's `stopped`
    // (answers still on their way, to a broken pool, are dropped); then let go of them. After an
    // MPI error on the communicator nothing more can be said to the workers.
    void stop_workers() {
        std::unique_lock lock(mutex);
        if (comm == MPI_COMM_NULL) return;
        try {
            if (!comm_failed) {
                for (auto& w : workers) send_locked(std::string(), w.rank, tag_stop);
                std::size_t stopped = 0;
                Backoff backoff(manager_spin);
                while (stopped < workers.size() || !outbox.empty()) {
                    outbox.test();
                    bool any = false;
                    while (auto message = receive(comm, MPI_ANY_SOURCE)) {
                        any = true;
                        if (message->tag == tag_stopped) ++stopped;
                    }
                    if (any) {
                        backoff.reset();
                        continue;
                    }
                    lock.unlock();
                    backoff.pause();
                    lock.lock();
                }
            }
        } catch (const std::exception&) {
            comm_failed = true;
        }
        if (spawned) {
            if (comm_failed) {
                MPI_Comm_free(&comm);
            } else {
                park_workers(comm, static_cast<int>(workers.size()));  // for the next executor of this process (see pool_core.hpp)
            }
        }
        comm = MPI_COMM_NULL;
    }

    void manager_main() {
        start_workers();
        std::vector<Completion> done;
        Backoff backoff(manager_spin);
        auto last_check = Clock::now();
        std::unique_lock lock(mutex);
        for (;;) {
            bool progress = poll_locked(done);
            if (phase == Phase::running && Clock::now() - last_check > liveness_period) {
                check_workers_alive_locked(done);
                last_check = Clock::now();
            }
            if (!done.empty()) {
                lock.unlock();
                complete(done);
                lock.lock();
                continue;
            }
            if (phase == Phase::broken) break;
            bool busy = outstanding_locked();
            if (shutdown_requested && !busy) break;
            if (progress) {
                backoff.reset();
                continue;
            }
            bool helped = helpers.load(std::memory_order_relaxed) > 0;
            if ((!busy || helped || !backoff.spinning()) && may_sleep_on_bell_locked()) {
                // Every worker runs on this host: sleep until one rings (after it sent an answer), a
                // thread leaving help() with tasks in flight rings, or shutdown rings. Idle too: a
                // submit sends its task itself and the answer rings, so a serial round trip wakes
                // nobody. While a thread polls in help() the workers do not ring: it reads the
                // answers (woken by each, the manager would take the lock from it at each one, and
                // preempted on a busy machine hold it).
                lock.unlock();
                if (bells->sleep(0, [&] { return nothing_arrived(); })) backoff.reset();
                lock.lock();
                continue;
            }
            if (!busy) {
                manager_waiting = true;
                wake.wait(lock);
                manager_waiting = false;
                backoff.reset();
                // Woken by a submit: the submitting thread is likely to wait for the answer and
                // read it itself (help()); give it the CPU rather than poll beside it at once.
                lock.unlock();
                backoff.sleep_now();
                lock.lock();
                continue;
            }
            lock.unlock();
            if (helped) {
                backoff.sleep_now();
            } else {
                backoff.pause();
            }
            lock.lock();
        }
        if (phase == Phase::running) phase = Phase::closed;
        running.store(false, std::memory_order_relaxed);
        lock.unlock();
        stop_workers();
        print_stats("master");
    }

    // How long a thread waiting for an answer polls for it itself: 2 ms, unless every core of this
    // host already has a worker of ours running tasks that take a while (over 100 µs) and the
    // manager can be rung awake (every worker has a bell): then spinning would only take a core
    // from a worker (CPU-bound tasks on both cores of this machine lost a third of a core to it),
    // so the thread sleeps at once and the manager, rung by the answer, completes its future.
    // Short tasks keep the spin: answers come faster than a sleeping thread wakes.
    std::chrono::nanoseconds help_budget() const noexcept {
        static const int cores = std::max(1u, std::thread::hardware_concurrency());
        if (all_bells.load(std::memory_order_acquire) && busy_here.load(std::memory_order_relaxed) >= cores &&
            task_ns.load(std::memory_order_relaxed) > long_task_ns)
            return std::chrono::nanoseconds(0);
        return help_poll_limit;
    }

    // Recounts busy_here after a worker's in-flight tasks changed (with the lock held).
    void count_busy_locked() noexcept {
        int n = 0;
        for (const auto& w : workers)
            if (w.local_pid > 0 && !w.in_flight.empty()) ++n;
        busy_here.store(n, std::memory_order_relaxed);
    }

    // The probe of a sleep on the master's bell, made after the sleep was announced: false when an
    // answer is already there (or another thread holds the lock: it may be reading one).
    bool nothing_arrived() {
        std::unique_lock lock(mutex, std::try_to_lock);
        return lock.owns_lock() && !shutdown_requested && nothing_to_read_locked();
    }

    static void complete(std::vector<Completion>& done) noexcept {
        static std::vector<nogil::detail::UniqueFd> no_fds;  // MPI carries no descriptors
        for (auto& c : done) {
            try {
                if (c.error) {
                    c.future->set_exception(c.error);
                } else {
                    std::vector<nogil::detail::UniqueFd> fds;
                    c.deliver(*c.future, c.response, fds);
                }
            } catch (...) {
                // InvalidStateError: cancelled meanwhile (only pending futures can be); nothing to do.
            }
            c.future->release();
        }
        done.clear();
    }

    void ensure_started_locked() {
        if (phase != Phase::idle) return;
        phase = Phase::starting;
        manager = std::thread([this] { manager_main(); });
    }
};

PoolCore::PoolCore(PoolSettings settings) {
    if (settings.max_workers && *settings.max_workers <= 0)
        throw std::invalid_argument("max_workers must be greater than 0");
    ensure_mpi_initialized();
    if (settings.mode != StartMode::spawn && settings.comm == MPI_COMM_NULL)
        throw std::logic_error("nogil::mpi: a static pool needs its communicator");
    impl_ = std::make_shared<Impl>(std::move(settings));
}

PoolCore::~PoolCore() { shutdown(true, false); }

void PoolCore::submit(FutureStateBase* future, DeliverFn deliver, EncodedCall call) {
    Impl& s = *impl_;
    std::vector<Completion> done;
    {
        std::lock_guard lock(s.mutex);
        std::string refusal;
        if (s.phase == Impl::Phase::broken) {
            refusal = s.broken_reason;
        } else if (s.shutdown_requested) {
            future->release();
            throw std::runtime_error("cannot schedule new futures after shutdown");
        }
        if (!refusal.empty()) {
            future->release();
            throw BrokenExecutor(refusal);
        }
        if (!call.fds.empty()) {
            future->release();
            throw std::invalid_argument(
                "nogil::mpi: a task's arguments cannot carry file descriptors (Connection, Queue, Lock...) to "
                "another rank; they may live on another machine");
        }
        s.pending.push_back(Task{s.next_id++, future, deliver, std::move(call)});
        s.ensure_started_locked();
        if (s.phase == Impl::Phase::running) s.dispatch_locked();
        if (s.manager_waiting) s.wake.notify_one();
        // A message too large to be sent eagerly waits for the master to make progress on it (a
        // rendezvous), and a caller that waits without polling (wait(), callbacks, asyncio)
        // would leave that to the manager's next nap: ring it.
        if (std::exchange(s.needs_progress, false) && s.bells) s.bells->ring(0);
        (void)done;
    }
}

void PoolCore::bootup(bool wait) {
    Impl& s = *impl_;
    std::unique_lock lock(s.mutex);
    if (s.shutdown_requested) throw std::runtime_error("cannot bootup after shutdown");
    s.ensure_started_locked();
    if (!wait) return;
    s.boot_done.wait(lock, [&] {
        return s.phase == Impl::Phase::broken || (s.phase == Impl::Phase::running && s.booted == s.workers.size()) ||
               s.phase == Impl::Phase::closed;
    });
    if (s.phase == Impl::Phase::broken) throw BrokenExecutor(s.broken_reason);
}

int PoolCore::num_workers() const {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.mutex);
        if (s.shutdown_requested && s.phase == Impl::Phase::idle) return 0;
    }
    const_cast<PoolCore*>(this)->bootup(true);
    std::lock_guard lock(s.mutex);
    return static_cast<int>(s.workers.size());
}

void PoolCore::shutdown(bool wait, bool cancel_futures) {
    Impl& s = *impl_;
    std::vector<Task> cancelled;
    {
        std::lock_guard lock(s.mutex);
        s.shutdown_requested = true;
        if (cancel_futures) {
            cancelled.assign(std::make_move_iterator(s.pending.begin()), std::make_move_iterator(s.pending.end()));
            s.pending.clear();
        }
        s.wake.notify_all();
        // The manager may sleep on its bell; a thread polling in help() would not tell it.
        if (s.bells) s.bells->ring(0, /*force=*/true);
    }
    for (auto& t : cancelled) {
        t.future->cancel();
        t.future->release();
    }
    if (!wait) return;
    if (s.manager.joinable() && s.manager.get_id() != std::this_thread::get_id()) s.manager.join();
}

bool PoolCore::help(const std::weak_ptr<Impl>& pool, const FutureStateBase& future,
                    std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    auto impl = pool.lock();
    if (!impl || !impl->running.load(std::memory_order_relaxed)) return false;
    Impl& s = *impl;
    s.helpers.fetch_add(1, std::memory_order_relaxed);
    // With every worker on a bell: they do not ring the manager while we read, and we ring it when
    // leaving with tasks in flight (doorbell.hpp, "Readers").
    Doorbells* bell = s.all_bells.load(std::memory_order_acquire) ? s.bells.get() : nullptr;
    // Leaving the reader's role: an answer whose worker saw us reading and did not ring, and that
    // we did not read, is the manager's: with tasks still in flight we ring it (an answer sent
    // after this sees no reader and rings itself). Not after a probe that finds nothing: over TCP
    // an answer sent before may not be readable yet (a loaded kernel delivers loopback data
    // late). With nothing in flight, the end of a serial round trip, no answer can come: no ring.
    auto stop_reading = [&s, bell] {
        bell->reading(0, false);
        bool in_flight = false;
        {
            std::lock_guard lock(s.mutex);
            in_flight = s.phase == Impl::Phase::running && s.outstanding_locked();
        }
        if (in_flight) bell->ring(0);
    };
    if (bell) bell->reading(0, true);
    auto end = Clock::now() + s.help_budget();
    if (deadline && *deadline < end) end = *deadline;
    std::vector<Completion> done;
    while (!future.done()) {
        if (s.mutex.try_lock()) {
            s.poll_locked(done);
            s.mutex.unlock();
            if (!done.empty()) {
                // Done callbacks run user code that may block: not as a reader, or the workers'
                // rings would be skipped for as long as it runs (the manager would hear of their
                // answers at its naps only).
                if (bell) stop_reading();
                Impl::complete(done);
                if (bell) bell->reading(0, true);
            }
        }
        if (Clock::now() >= end) break;
        Backoff::yield();  // the worker (or the thread holding the lock) may need this CPU
    }
    count(counters().helps);
    if (!future.done()) count(counters().helps_exhausted);
    s.helpers.fetch_sub(1, std::memory_order_relaxed);
    if (bell) stop_reading();
    return true;
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
// offsetof on Impl, which is not standard-layout: the Itanium ABI's layout is fixed, and both
// compilers compute it; the reader checks the record's cookie and size.
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#endif

const ::nogil::concurrent::futures::detail::MpiPoolDebugOffsets& PoolCore::Impl::debug_layout() noexcept {
    static const auto layout = [] {
        ::nogil::concurrent::futures::detail::MpiPoolDebugOffsets r{};
        constexpr char cookie[] = "nogil-mpi-v1";
        for (std::size_t i = 0; i < sizeof cookie; ++i) r.cookie[i] = cookie[i];
        r.version = 1;
        r.size = sizeof r;
        r.sections = offsetof(Impl, mutex) + CountedMutex::sections_offset();
        r.phase = offsetof(Impl, phase);
        r.shutdown = offsetof(Impl, shutdown_requested);
        r.broken = offsetof(Impl, broken_reason);
        r.pending = offsetof(Impl, pending);
        r.workers = offsetof(Impl, workers);
        r.worker_size = sizeof(Worker);
        r.worker_rank = offsetof(Worker, rank);
        r.worker_in_flight = offsetof(Worker, in_flight);
        r.worker_local_pid = offsetof(Worker, local_pid);
        r.worker_host = offsetof(Worker, host);
        r.worker_booted = offsetof(Worker, booted);
        r.task_size = sizeof(Task);
        r.task_id = offsetof(Task, id);
        r.task_object = offsetof(Task, call) + offsetof(EncodedCall, target) + offsetof(::nogil::multiprocessing::detail::FunctionId, object);
        r.task_offset = offsetof(Task, call) + offsetof(EncodedCall, target) + offsetof(::nogil::multiprocessing::detail::FunctionId, offset);
        static_assert(sizeof(Phase) == 4 && sizeof(pid_t) == 4 && sizeof(int) == 4);
#if defined(__GLIBCXX__)
        const auto tasks = ::nogil::multiprocessing::detail::deque_layout<Task>();
        r.task_elements = tasks.elements;
        r.worker_elements = ::nogil::multiprocessing::detail::deque_layout<Worker>().elements;
        ::nogil::multiprocessing::detail::put_deque_layout(r, tasks);
        r.string_data = 0;  // libstdc++: basic_string is {pointer, length, ...}
        r.string_size = 8;
#endif
        return r;
    }();
    return layout;
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace nogil::mpi::detail
