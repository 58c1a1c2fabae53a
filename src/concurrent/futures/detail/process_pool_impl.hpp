// ProcessPoolCore::Impl: the state the pool's core, its manager thread and helping waiters share.
// Private to src/concurrent/futures/detail/process_pool_*.cpp; the design, the breakage rule and
// the numbered shutdown protocol are in include/nogil/concurrent/futures/detail/process_pool_core.hpp.
// Where the code is: process_pool_core.cpp (the public members, dispatch), process_pool_manager.cpp
// (the manager thread: workers' lives, breakage, the wait loop), process_pool_help.cpp (reading the
// response rings, by the manager or by a thread waiting in result()).
#pragma once

#include <nogil/multiprocessing/detail/frame.hpp>
#include "concurrent/futures/detail/exit.hpp"
#include "multiprocessing/detail/futex.hpp"
#include "multiprocessing/detail/ps_record.hpp"
#include <nogil/concurrent/futures/detail/debug_offsets.hpp>
#include <nogil/concurrent/futures/detail/process_pool_core.hpp>
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/process.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <csignal>
#include <deque>
#include <mutex>
#include <sys/socket.h>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

namespace nogil::concurrent::futures::detail {
// multiprocessing's machinery: frames, calls, function ids, shared blocks.
using ::nogil::multiprocessing::detail::EncodedCall;
using ::nogil::multiprocessing::detail::Frame;
using ::nogil::multiprocessing::detail::FrameKind;
using ::nogil::multiprocessing::detail::TaskRequest;
using ::nogil::multiprocessing::detail::TaskResponse;
using ::nogil::multiprocessing::detail::check_os;
using ::nogil::multiprocessing::detail::recv_frame;
using ::nogil::multiprocessing::detail::send_frame;
using ::nogil::multiprocessing::detail::shared_futex_wake;
using ::nogil::multiprocessing::detail::wait_any_readable;

// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;

/// The pool's `mutex` counts its critical sections for `nogil ps` (multiprocessing/detail/ps_record.hpp).
using ::nogil::multiprocessing::detail::CountedMutex;

// Impl's fields by what guards them (lock order: `reading` before `mutex`, never the reverse):
//   fixed after construction: settings, wake, wake_write, record (for `nogil ps`); manager
//       (joined under join_mutex).
//   `mutex`: pending, next_id, shutdown, broken, closed_at_exit, started, launched (+ launched_cv),
//       handed_over, each Worker's requests ring, garbage flag and pipeline; `workers` (changed
//       under both).
//   `reading`: manager_asleep, helper_spinner, the response rings; `workers` (under both).
//   manager thread only: worker_counter.
struct ProcessPoolCore::Impl final : ExitParticipant {
    static constexpr const char* broken_pool_message =
        "A child process terminated abruptly, the process pool is not usable anymore";
    static constexpr const char* broken_future_message =
        "A process in the process pool was terminated abruptly while the future was running or pending.";

    // Pipeline sizing: queue about this much measured work ahead per worker, within [min, max] tasks.
    static constexpr double queued_work_ns = 200'000;
    static constexpr std::size_t min_depth = 2;
    static constexpr std::size_t max_depth = 64;
    // A busy worker is sent more only while this many request bytes are unanswered: the socket
    // buffer then absorbs every write, so we never block writing to a worker that is itself blocked
    // writing a large result to us (which we would not read while stuck in that write).
    static constexpr std::size_t max_inflight_bytes = 32 * 1024;
    // poll()'s timeout: the manager re-reads the rings this often even if no wake-up came (a worker
    // could have cleared the sleep announcement instead of waking us).
    static constexpr auto manager_recheck = std::chrono::milliseconds(100);
    // How long a thread waiting for a future spins on the rings before it sleeps (about as long as
    // FutureStateBase::wait_until's own spin; Spinner backs off while it does not pay).
    static constexpr auto help_spin = std::chrono::microseconds(50);
    // The longest a waiting thread reads the rings in one wait (answers for other futures keep it
    // going past help_spin), before it leaves them to the manager and sleeps.
    static constexpr auto help_limit = std::chrono::milliseconds(1);

    struct Task {
        std::uint64_t id = 0;
        FutureStateBase* future = nullptr;  // one reference, ours
        DeliverFn deliver = nullptr;
        EncodedCall call;
        std::size_t bytes = 0;  // request bytes (estimated), once sent
    };

    struct Worker {
        multiprocessing::Process process;
        multiprocessing::Connection conn;
        ProcessPoolChannel channel;
        RingWriter requests;   // written under the mutex
        RingReader responses;  // read by the manager only
        bool garbage = false;  // a request could not be sent: break the pool (under the mutex)
        std::deque<Task> inflight;  // sent, not answered; in request order
        std::size_t inflight_bytes = 0;
        std::uint64_t assigned = 0;
        double ns_per_task = 0;  // measured, smoothed; 0 = unknown
        // For `nogil ps` (fixed once the worker started): its pid, and the word in its channel
        // where it notes the task it runs (ProcessPoolChannel::running_word).
        int pid = 0;
        const std::atomic<std::uint64_t>* running = nullptr;

        bool has_response() const noexcept { return responses.ready(); }

        std::size_t depth() const {
            if (ns_per_task <= 0) return min_depth;
            auto d = static_cast<std::size_t>(queued_work_ns / ns_per_task);
            return std::clamp(d, min_depth, max_depth);
        }
    };

    static void release(Task& task) {
        if (task.future) task.future->release();
        task.future = nullptr;
    }

    // A task answered, to be completed once the rings are let go.
    struct Answer {
        Task task;
        TaskResponse response;
        std::vector<UniqueFd> fds;  // the descriptors that rode on the response (it then travels alone)
    };

    static void deliver(std::vector<Answer>& answers) {
        for (auto& a : answers) {
            try {
                a.task.deliver(*a.task.future, a.response, a.fds);
            } catch (...) {
                // deliver catches decoding errors itself; a completed future refuses quietly.
            }
            release(a.task);
        }
        answers.clear();
    }

    // The pool whose manager runs on this thread (nullptr elsewhere): help() does not run there.
    static inline thread_local const void* managing_pool = nullptr;

    static void fail(Task& task, const std::exception_ptr& error) {
        try {
            task.future->set_exception(error);
        } catch (...) {
            // Cancelled before it was sent: nothing to tell.
        }
        release(task);
    }


    ProcessPoolSettings settings;
    bool closed_at_exit = false;  // under mutex: program exit shut the pool down (exit.hpp)

    // Shared (under mutex): the queue, the workers' pipelines, their sockets' write side.
    mutable CountedMutex mutex;
    std::deque<Task> pending;
    std::vector<std::unique_ptr<Worker>> workers;  // added and removed by the manager only
    std::uint64_t next_id = 1;
    bool shutdown = false;
    std::string broken;  // non-empty once broken
    bool started = false;  // a task was submitted: keep max_workers workers running
    bool launched = false;  // the first workers were started (or could not be)
    std::condition_variable_any launched_cv;  // with the CountedMutex (waited on once, at the first submit)

    // Who reads the response rings (the header's "Reading the rings"): the manager or a helping
    // waiter. Taken before `mutex`. `workers` changes only under both.
    std::mutex reading;
    bool manager_asleep = false;  // under `reading`: the manager sleeps in poll()
    Spinner helper_spinner{help_spin};  // under `reading`
    // Answers a helper read for futures with done callbacks: the manager completes those, so
    // user callbacks run on the manager thread as they always did (under mutex).
    std::vector<Answer> handed_over;

    // The manager's wake-up pipe (non-blocking both ends; a full pipe means it is awake anyway).
    // A pipe rather than an eventfd: a pipe write is a "sync" wake-up, which puts the manager on
    // the CPU of the worker that woke it, the one about to go idle.
    UniqueFd wake;        // read end, the manager's
    UniqueFd wake_write;  // write end: notify(), and each worker's channel holds a copy
    std::thread manager;
    std::mutex join_mutex;
    // Linked into the executors' registry from the core's construction to its destruction
    // (debug_offsets.hpp); points back here.
    ExecutorRecord record;
    int worker_counter = 0;

    void notify() {
        char one = 1;
        [[maybe_unused]] auto n = ::write(wake_write.get(), &one, 1);
    }

    void shutdown_pool(bool wait, bool cancel_futures, bool at_exit = false);
    void shutdown_at_exit() noexcept override { shutdown_pool(true, false, true); }

    // ---- dispatch (any thread, holding mutex) --------------------------------------------------

    // A busy worker is sent more only while its unanswered requests, the new ones included,
    // stay under max_inflight_bytes. An idle one (all its answers read) takes any batch: it reads
    // the whole frame before it runs anything, so it cannot be writing back while we write.
    static std::size_t request_bytes(const Task& task) { return task.call.args.size() + 96; }

    bool can_take(const Worker& w, std::size_t front_bytes) const {
        if (settings.max_tasks_per_child != 0 && w.assigned >= settings.max_tasks_per_child) return false;
        if (w.inflight.empty()) return true;
        return w.inflight.size() < w.depth() && w.inflight_bytes + front_bytes <= max_inflight_bytes;
    }

    // Sends pending tasks to workers with room, a batch per worker, least loaded first. A task
    // cancelled while pending is dropped here (Python's set_running_or_notify_cancel).
    // `idle_only` (submit's call): only to a worker with nothing in flight. A busy worker is
    // refilled by the manager when its answers arrive, by then with a batch, not task by task.
    void dispatch_locked(bool idle_only = false);

    // One request batch to `w` (holding mutex): through its ring, or as a socket frame behind a
    // marker. The ring cannot fill up legitimately: a busy worker holds at most
    // max_inflight_bytes of requests, far below the ring's size, and an idle one has read all.
    // A full ring therefore means the worker lied about what it read.
    static void send_request(Worker& w, const serial::Payload& payload);

    static void wake_worker(Worker& w) {
        if (w.requests.take_sleeper()) shared_futex_wake(w.requests.sleep_word(), 1);
    }

    // ---- manager thread --------------------------------------------------------------------------

    void start_worker();

    enum class Stream { open, ended, garbage, marker };

    // Reads every frame waiting from `w` (holding `reading`) and adds its answers to `answers`,
    // for the caller to deliver once it let go of `reading`. `ended`: end of file between frames;
    // `garbage`: it said something we did not ask for (then it must go, and the pool breaks: a
    // worker that lies about one result cannot be trusted with the others). `check_socket`: also
    // read the socket (poll() said it is readable). Without a marker in the ring, the socket has
    // nothing to say but its end: anything else on it is garbage. `stop_at_marker` (a helping
    // waiter): leave a marker and its socket frame to the manager (`marker`).
    Stream drain(Worker& w, bool check_socket, bool stop_at_marker, std::vector<Answer>& answers);

    // ---- a waiting thread reads the rings (help) -----------------------------------------------

    // Holding `reading`: while the manager sleeps, its announcements are taken off the rings
    // (a worker then does not wake it for answers this thread reads) ...
    void withdraw_for_manager() noexcept {
        if (!manager_asleep) return;
        for (auto& w : workers) w->responses.withdraw_sleep();
    }
    // ... and put back before `reading` is let go, with the rings looked at once more (Dekker
    // with the worker's publish-then-look): an answer that came meanwhile wakes the manager.
    void restore_for_manager() noexcept;

    // Moves the answers whose futures have done callbacks to `handed_over` (the manager is then
    // to be woken: true). A callback added concurrently may still run on the helper: as with any
    // future, a callback added while it completes runs on the completing thread.
    bool keep_callbacks_on_the_manager(std::vector<Answer>& answers);

    // A thread waiting for `future` reads the rings (see the header) while its spin pays: the
    // spin backs off (Spinner) when answers keep coming later than it lasts, so a caller waiting
    // for long tasks does not take a CPU from the workers. It helps for help_limit at most, even
    // while other futures' answers keep coming, so the manager is never kept from the rings long.
    // Not on the manager thread (a done callback waiting for another future of the pool): the
    // answers it would need may already be read and waiting below it on its own stack, and a
    // death there needs the manager's loop, which that callback holds up. Such a wait times out
    // or blocks, as in Python, where it deadlocks the management thread.
    bool help(const FutureStateBase& future, std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;

    // Before a record from the ring is trusted: nothing may be waiting on the socket that the
    // ring did not announce. What a worker wrote on its socket before publishing the record is
    // visible by now, so garbage written first is never overtaken by the answer that follows
    // it. An end of file is fine (a worker retired by max_tasks_per_child exits right after its
    // last answer), and so is a frame announced by a marker further on in the ring (the marker
    // is published before the frame is written).
    static bool socket_quiet(Worker& w) {
        char byte;
        if (::recv(w.conn.fileno(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return true;
        return w.responses.marker_pending();
    }

    // Python's terminate_broken: kill and reap every worker, fail everything, refuse new work.
    void break_pool(const std::string& why);

    // The worker at `i` ended or misbehaved. True if that was expected (max_tasks_per_child).
    bool retire(std::size_t i, bool healthy);

    void tell_launched();

    void stop_workers();

    void run() {
        managing_pool = this;
        run_loop();
        tell_launched();  // a first submit still waiting finds the pool shut down or broken
    }

    void run_loop();

    // Waits for something to do: a response in a ring, a wake-up, a worker's socket or end.
    // Returns the index of the readable descriptor as wait_any_readable (0: the wake-up pipe; 1 + 2i
    // and 2 + 2i: worker i's socket and sentinel), or -1 when the rings are to be read.
    // The manager does not spin: on two CPUs, a caller spinning in result() and a worker running
    // or spinning already hold both, and a third spinner would only delay them (a runnable
    // spinner gets the CPU at the scheduler's next tick, a woken sleeper at once).
    // The manager is the only thread that changes `workers`: reading it unlocked is safe.
    // While it sleeps, a helping waiter may read the rings (then it withdraws and restores the
    // announcements, under `reading`).
    int wait();
};

}  // namespace nogil::concurrent::futures::detail
