#include <nogil/multiprocessing/detail/frame.hpp>
#include <nogil/multiprocessing/detail/pool_core.hpp>
#include "multiprocessing/detail/pool_record.hpp"
#include "multiprocessing/detail/ps_record.hpp"
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/process.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <stdexcept>
#include <mutex>
#include <sys/eventfd.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>
#include <unordered_map>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


namespace {
struct Pending {
    std::uint64_t id = 0;
    EncodedCall call;  // kept while it runs too (for `nogil ps`)
    TaskCallback done;
    // For `nogil ps`: map's chunks only (null for apply, so that its Pending stays 8 bytes bigger,
    // not a FunctionId's 40 and two counts: the submit-alone bench row, docs/debugging.md).
    std::unique_ptr<TaskLabel> label;
};

std::unique_ptr<TaskLabel> keep_label(TaskLabel& label) {
    if (label.function.offset == 0 && label.chunk == 0) return nullptr;
    return std::make_unique<TaskLabel>(std::move(label));
}

// What `nogil ps` reads of a worker (the manager's `view`): its pid and the task it runs.
struct WorkerView {
    int pid = 0;
    const Pending* task = nullptr;  // in `running` (a node: it stays put); null when idle
};

struct Worker {
    multiprocessing::Process process;
    multiprocessing::Connection conn;
    std::optional<std::uint64_t> task;  // in flight on this worker
    std::uint64_t completed = 0;
    std::uint64_t assigned = 0;  // a worker with maxtasks assigned is about to exit: give it no more
    int pid = 0;                 // for `nogil ps`, once started
};

enum class PoolState : std::uint8_t { run, close, terminate };  // `nogil ps` reads it: 0, 1, 2
}  // namespace

// Impl's fields by what guards them:
//   `mutex`: state, broken, pending, next_id (callers and the manager).
//   manager thread only, under `changes` (a count `nogil ps` reads as a seqlock's): view.
//   set by the constructor before the manager starts, then read-only: wake (the eventfd that
//       notify() writes from any thread), processes, initializer, maxtasks, start_method.
//   `join_mutex`: joining `manager` (started by the constructor).
//   manager thread only: workers, running, deaths_without_progress, worker_counter.
struct PoolCore::Impl {
    Impl() {
        record.kind = ::nogil::concurrent::futures::detail::ExecutorRecord::mp_pool;
        record.pool = this;
    }
    ~Impl() { ::nogil::concurrent::futures::detail::unregister_executor(record); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // Shared with callers (under mutex, which counts its sections for `nogil ps`).
    CountedMutex mutex;
    PoolState state = PoolState::run;
    bool broken = false;
    std::deque<Pending> pending;
    std::uint64_t next_id = 1;
    UniqueFd wake;           // fixed after construction
    std::mutex join_mutex;
    std::thread manager;     // joined under join_mutex

    // Manager thread only (the first four are set before it starts, read-only after).
    int processes;
    SharedCall initializer;
    std::uint64_t maxtasks;
    std::string start_method;
    std::vector<Worker> workers;
    std::unordered_map<std::uint64_t, Pending> running;
    int deaths_without_progress = 0;
    int worker_counter = 0;

    // For `nogil ps` (include/nogil/concurrent/futures/detail/debug_offsets.hpp): linked into the
    // executors' registry from construction to destruction; the manager's view of its workers
    // (`workers` and `running` change outside the mutex), rebuilt by publish() after each change.
    ::nogil::concurrent::futures::detail::ExecutorRecord record;
    ChangeCount changes;
    std::vector<WorkerView> view;  // capacity `processes`, reserved before the manager starts

    // Called by the manager after it changed `workers` or `running`, before any callback runs.
    void publish() noexcept {
        ChangeCount::Scope change(changes);
        view.clear();
        for (const Worker& w : workers) {
            if (view.size() == view.capacity()) break;  // never reallocates under a reader
            const auto it = w.task ? running.find(*w.task) : running.end();
            view.push_back(WorkerView{w.pid, it == running.end() ? nullptr : &it->second});
        }
    }

    void notify() {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof one);
    }

    void start_worker() {
        auto [ours, theirs] = multiprocessing::Pipe();
        multiprocessing::Process p(&pool_worker_main, theirs, maxtasks, initializer,
                                   multiprocessing::ProcessOptions{.name = "PoolWorker-" + std::to_string(++worker_counter),
                                                                   .daemon = true,
                                                                   .start_method = start_method});
        p.start();
        theirs.close();
        const int pid = p.pid().value_or(0);
        workers.push_back(Worker{std::move(p), std::move(ours), std::nullopt, 0, 0, pid});
        publish();
    }

    // The callback is destroyed right after it runs (it may hold the last handle to a result).
    static void finish(Pending& task, TaskOutcome& outcome) {
        TaskCallback done = std::move(task.done);
        task.done = nullptr;
        if (done) done(outcome);
    }
    static void fail(Pending& task, const std::string& why) {
        TaskOutcome outcome;
        outcome.error = RemoteException{typeid(ProcessError).name(), why, "the pool"};
        finish(task, outcome);
    }

    // Reads every response waiting on `w` (false: its connection is finished or corrupt).
    bool drain(Worker& w) {
        while (w.conn.poll()) {
            std::optional<Frame> frame;
            try {
                frame = recv_frame(w.conn.fileno());
            } catch (...) {
                return false;
            }
            if (!frame) return false;
            TaskResponse response;
            try {
                std::vector<UniqueFd> none;
                std::tie(response) = serial::loads<TaskResponse>(frame->bytes, none);
            } catch (...) {
                return false;
            }
            auto it = running.find(response.id);
            if (it == running.end() || w.task != response.id) return false;  // not what we asked: distrust it
            w.task.reset();
            publish();
            Pending task = std::move(it->second);
            running.erase(it);
            ++w.completed;
            deaths_without_progress = 0;
            TaskOutcome outcome;
            if (response.ok) {
                outcome.bytes = std::move(response.result);
                outcome.fds = std::move(frame->fds);
            } else {
                outcome.error = std::move(response.error);
            }
            finish(task, outcome);
        }
        return true;
    }

    // The worker at `i` ended (or must be dropped): reap it, fail its task.
    void retire(std::size_t i) {
        Worker w = std::move(workers[i]);
        workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i));
        publish();
        w.conn.close();
        w.process.join(std::chrono::seconds(5));
        if (!w.process.exitcode()) {  // it broke the protocol but lives on: end it
            w.process.kill();
            w.process.join();
        }
        int code = w.process.exitcode().value_or(-1);
        if (w.task) {
            auto it = running.find(*w.task);
            if (it != running.end()) {
                Pending task = std::move(it->second);
                running.erase(it);
                fail(task, "pool worker " + w.process.name() + " died (exit code " + std::to_string(code) +
                               ") while running the task");
            }
        }
        if (w.completed == 0 && (code != 0 || w.task)) ++deaths_without_progress;
    }

    void fail_everything(const std::string& why) {
        std::deque<Pending> queued;
        {
            std::lock_guard lock(mutex);
            queued.swap(pending);
        }
        std::unordered_map<std::uint64_t, Pending> failed;
        failed.swap(running);
        publish();  // (no worker runs anything by now: kill_all or a pool that never started one)
        for (auto& [id, task] : failed) fail(task, why);
        for (auto& task : queued) fail(task, why);
    }

    void kill_all() {
        for (auto& w : workers) w.process.kill();
        for (auto& w : workers) {
            w.conn.close();
            w.process.join();
        }
        workers.clear();
        publish();
    }

    void dispatch() {
        for (auto& w : workers) {
            if (w.task || (maxtasks != 0 && w.assigned >= maxtasks)) continue;
            Pending task;
            {
                std::lock_guard lock(mutex);
                if (pending.empty()) return;
                task = std::move(pending.front());
                pending.pop_front();
            }
            TaskRequest request;
            request.id = task.id;
            request.call = std::move(task.call);
            try {
                send_task(w.conn, request);
            } catch (...) {
                // The worker is gone; it is retired when its sentinel fires. Requeue the task.
                task.call = std::move(request.call);
                std::lock_guard lock(mutex);
                pending.push_front(std::move(task));
                return;
            }
            task.call = std::move(request.call);  // kept for `nogil ps` while it runs
            w.task = task.id;
            ++w.assigned;
            running.emplace(task.id, std::move(task));
            publish();
        }
    }

    void run() {
        for (;;) {
            PoolState s;
            bool has_pending;
            {
                std::lock_guard lock(mutex);
                s = state;
                has_pending = !pending.empty();
            }
            if (s == PoolState::terminate) {
                kill_all();
                fail_everything("pool was terminated before the task completed");
                return;
            }
            if (s == PoolState::close && !has_pending && running.empty()) {
                for (auto& w : workers) {
                    try {
                        send_task(w.conn, TaskRequest{});  // stop
                    } catch (...) {
                        // Already gone: join() below collects it.
                    }
                    w.conn.close();
                }
                for (auto& w : workers) w.process.join();
                workers.clear();
                publish();
                return;
            }
            if (deaths_without_progress > 3 * processes) {
                {
                    std::lock_guard lock(mutex);
                    broken = true;
                }
                kill_all();
                fail_everything("pool workers keep dying before completing any task (does the initializer throw?)");
                return;
            }
            try {
                while (static_cast<int>(workers.size()) < processes) start_worker();
            } catch (const std::exception& e) {
                if (workers.empty()) {
                    {
                        std::lock_guard lock(mutex);
                        broken = true;
                    }
                    fail_everything(std::string("cannot start pool workers: ") + e.what());
                    return;
                }
            }
            dispatch();

            std::vector<int> fds{wake.get()};
            for (auto& w : workers) {
                fds.push_back(w.conn.fileno());
                fds.push_back(w.process.sentinel());
            }
            int ready = wait_any_readable(fds.data(), static_cast<int>(fds.size()), std::nullopt);
            if (ready == 0) {
                std::uint64_t count;
                [[maybe_unused]] auto n = ::read(wake.get(), &count, sizeof count);
                continue;
            }
            // A worker's connection or sentinel: read what it said, then retire it if it ended.
            std::size_t i = static_cast<std::size_t>(ready - 1) / 2;
            bool healthy = drain(workers[i]);
            if (!healthy || !workers[i].process.is_alive()) retire(i);
        }
    }
};

PoolCore::PoolCore(int processes, SharedCall initializer, std::uint64_t maxtasksperchild, std::string start_method)
    : impl_(std::make_shared<Impl>()) {
    if (processes < 1) throw std::invalid_argument("Pool: Number of processes must be at least 1");
    impl_->processes = processes;
    impl_->initializer = std::move(initializer);
    impl_->maxtasks = maxtasksperchild;
    impl_->start_method = std::move(start_method);
    impl_->view.reserve(static_cast<std::size_t>(processes));
    impl_->record.max_workers = processes;
    ::nogil::concurrent::futures::detail::register_executor(impl_->record);
    impl_->wake.reset(static_cast<int>(check_os(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd")));
    // The manager thread holds the state too: a completion callback may destroy the last owner
    // of the Pool (on this very thread); the state then lives until the manager returns.
    impl_->manager = std::thread([impl = impl_] { impl->run(); });
}

PoolCore::~PoolCore() {
    terminate();
    if (std::this_thread::get_id() == impl_->manager.get_id()) {
        // Destroyed by a completion callback, on the manager thread: it cannot wait for itself.
        // It sees the terminate when the callback returns, kills and reaps the workers, fails
        // what is unfinished, and frees the state as it leaves.
        std::lock_guard lock(impl_->join_mutex);
        impl_->manager.detach();
        return;
    }
    join();
}

int PoolCore::processes() const noexcept { return impl_->processes; }

void PoolCore::submit(EncodedCall call, TaskCallback done, TaskLabel label) {
    auto kept = keep_label(label);  // allocated outside the lock
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->broken) throw ProcessError("Pool is broken: its workers keep dying");
        if (impl_->state != PoolState::run) throw std::invalid_argument("Pool not running");
        impl_->pending.push_back(Pending{impl_->next_id++, std::move(call), std::move(done), std::move(kept)});
    }
    impl_->notify();
}

void PoolCore::submit_continuation(EncodedCall call, TaskCallback done, TaskLabel label) {
    // The manager re-reads `pending` before deciding that a closed pool is finished, and this runs
    // on the manager thread (inside drain() or fail_everything()), so the task is never stranded.
    if (std::this_thread::get_id() != impl_->manager.get_id())
        throw std::logic_error("PoolCore::submit_continuation: only from a completion callback");
    auto kept = keep_label(label);  // allocated outside the lock
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->broken) throw ProcessError("Pool is broken: its workers keep dying");
        if (impl_->state == PoolState::terminate) throw std::invalid_argument("Pool not running");
        impl_->pending.push_back(Pending{impl_->next_id++, std::move(call), std::move(done), std::move(kept)});
    }
    impl_->notify();
}

void PoolCore::close() {
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->state == PoolState::run) impl_->state = PoolState::close;
    }
    impl_->notify();
}

void PoolCore::terminate() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->state = PoolState::terminate;
    }
    impl_->notify();
}

void PoolCore::join() {
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->state == PoolState::run) throw std::invalid_argument("Pool is still running: close() or terminate() first");
    }
    std::lock_guard lock(impl_->join_mutex);
    // Python's join() from the result handler thread (a callback) joins the current thread.
    if (std::this_thread::get_id() == impl_->manager.get_id()) throw std::runtime_error("cannot join current thread");
    if (impl_->manager.joinable()) impl_->manager.join();
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
// offsetof on Impl, which is not standard-layout (its mutexes and thread): the Itanium ABI's
// layout is fixed, and both compilers compute it; the reader checks the record's size.
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#endif

void describe_pool(::nogil::concurrent::futures::detail::ExecutorDebugOffsets& r) noexcept {
    using Impl = PoolCore::Impl;
    r.mp_sections = offsetof(Impl, mutex) + CountedMutex::sections_offset();
    r.mp_changes = offsetof(Impl, changes) + ChangeCount::count_offset();
    r.mp_pending = offsetof(Impl, pending);
    r.mp_state = offsetof(Impl, state);
    r.mp_broken = offsetof(Impl, broken);
    r.mp_view = offsetof(Impl, view);
    r.mp_view_size = sizeof(WorkerView);
    r.mp_view_pid = offsetof(WorkerView, pid);
    r.mp_view_task = offsetof(WorkerView, task);
    r.mp_task_size = sizeof(Pending);
    r.mp_task_id = offsetof(Pending, id);
    r.mp_task_object = offsetof(Pending, call) + offsetof(EncodedCall, target) + offsetof(FunctionId, object);
    r.mp_task_offset = offsetof(Pending, call) + offsetof(EncodedCall, target) + offsetof(FunctionId, offset);
    r.mp_label = offsetof(Pending, label);
    static_assert(sizeof(std::unique_ptr<TaskLabel>) == sizeof(void*));  // a plain pointer
    r.mp_label_object = offsetof(TaskLabel, function) + offsetof(FunctionId, object);
    r.mp_label_offset = offsetof(TaskLabel, function) + offsetof(FunctionId, offset);
    r.mp_label_chunk = offsetof(TaskLabel, chunk);
    r.mp_label_chunks = offsetof(TaskLabel, chunks);
    static_assert(sizeof(PoolState) == 1 && sizeof(bool) == 1);
#if defined(__GLIBCXX__)
    // The deque's iterators are where the process pool's record says (the same for every element
    // type); a node's number of elements is Pending's own.
    r.mp_deque_elements = deque_layout<Pending>().elements;
#endif
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace nogil::multiprocessing::detail
