// ProcessPoolCore: see include/nogil/concurrent/futures/detail/process_pool_core.hpp for the design, the
// breakage rule and the numbered shutdown protocol.

#include <nogil/multiprocessing/detail/frame.hpp>
#include "multiprocessing/detail/futex.hpp"
#include <nogil/concurrent/futures/detail/process_pool_core.hpp>
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/process.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
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


namespace {

constexpr const char* broken_pool_message =
    "A child process terminated abruptly, the process pool is not usable anymore";
constexpr const char* broken_future_message =
    "A process in the process pool was terminated abruptly while the future was running or pending.";

// Pipeline sizing: queue about this much measured work ahead per worker, within [min, max] tasks.
constexpr double queued_work_ns = 200'000;
constexpr std::size_t min_depth = 2;
constexpr std::size_t max_depth = 64;
// A busy worker is sent more only while this many request bytes are unanswered: the socket
// buffer then absorbs every write, so we never block writing to a worker that is itself blocked
// writing a large result to us (which we would not read while stuck in that write).
constexpr std::size_t max_inflight_bytes = 32 * 1024;
// poll()'s timeout: the manager re-reads the rings this often even if no wake-up came (a worker
// could have cleared the sleep announcement instead of waking us).
constexpr auto manager_recheck = std::chrono::milliseconds(100);
// How long a thread waiting for a future spins on the rings before it sleeps (about as long as
// FutureStateBase::wait_until's own spin; Spinner backs off while it does not pay).
constexpr auto help_spin = std::chrono::microseconds(50);
// The longest a waiting thread reads the rings in one wait (answers for other futures keep it
// going past help_spin), before it leaves them to the manager and sleeps.
constexpr auto help_limit = std::chrono::milliseconds(1);

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

    bool has_response() const noexcept { return responses.ready(); }

    std::size_t depth() const {
        if (ns_per_task <= 0) return min_depth;
        auto d = static_cast<std::size_t>(queued_work_ns / ns_per_task);
        return std::clamp(d, min_depth, max_depth);
    }
};

void release(Task& task) {
    if (task.future) task.future->release();
    task.future = nullptr;
}

// A task answered, to be completed once the rings are let go.
struct Answer {
    Task task;
    TaskResponse response;
    std::vector<UniqueFd> fds;  // the descriptors that rode on the response (it then travels alone)
};

void deliver(std::vector<Answer>& answers) {
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
thread_local const void* managing_pool = nullptr;

void fail(Task& task, const std::exception_ptr& error) {
    try {
        task.future->set_exception(error);
    } catch (...) {
        // Cancelled before it was sent: nothing to tell.
    }
    release(task);
}

}  // namespace

// Impl's fields by what guards them (lock order: `reading` before `mutex`, never the reverse):
//   fixed after construction: settings, wake, wake_write; manager (joined under join_mutex).
//   `mutex`: pending, next_id, shutdown, broken, started, launched (+ launched_cv), handed_over,
//       each Worker's requests ring, garbage flag and pipeline; `workers` (changed under both).
//   `reading`: manager_asleep, helper_spinner, the response rings; `workers` (under both).
//   manager thread only: worker_counter.
struct ProcessPoolCore::Impl {
    ProcessPoolSettings settings;

    // Shared (under mutex): the queue, the workers' pipelines, their sockets' write side.
    mutable std::mutex mutex;
    std::deque<Task> pending;
    std::vector<std::unique_ptr<Worker>> workers;  // added and removed by the manager only
    std::uint64_t next_id = 1;
    bool shutdown = false;
    std::string broken;  // non-empty once broken
    bool started = false;  // a task was submitted: keep max_workers workers running
    bool launched = false;  // the first workers were started (or could not be)
    std::condition_variable launched_cv;

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
    int worker_counter = 0;

    void notify() {
        char one = 1;
        [[maybe_unused]] auto n = ::write(wake_write.get(), &one, 1);
    }

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
    void dispatch_locked(bool idle_only = false) {
        while (!pending.empty()) {
            Worker* target = nullptr;
            std::size_t capable = 0;
            std::size_t front_bytes = request_bytes(pending.front());
            for (auto& w : workers) {
                if (!can_take(*w, front_bytes) || (idle_only && !w->inflight.empty())) continue;
                ++capable;
                if (!target || w->inflight.size() < target->inflight.size()) target = w.get();
            }
            if (!target) return;
            // An even share of what is pending, so that one worker does not take it all.
            std::size_t share = (pending.size() + capable - 1) / capable;
            bool idle = target->inflight.empty();
            std::size_t room = idle ? std::max<std::size_t>(target->depth(), 1) : target->depth() - target->inflight.size();
            if (settings.max_tasks_per_child != 0)
                room = std::min<std::size_t>(room, settings.max_tasks_per_child - target->assigned);
            std::size_t n = std::min(share, room);
            std::size_t budget = idle ? SIZE_MAX : max_inflight_bytes - target->inflight_bytes;
            std::size_t used = 0;
            RequestBatch batch;
            std::vector<Task> sent;
            batch.reserve(n);
            while (sent.size() < n && !pending.empty()) {
                std::size_t bytes = request_bytes(pending.front());
                if (bytes > budget - used) break;
                Task task = std::move(pending.front());
                pending.pop_front();
                bool run = false;
                try {
                    run = task.future->set_running_or_notify_cancel();
                } catch (...) {
                    run = false;
                }
                if (!run) {
                    release(task);
                    continue;
                }
                task.bytes = bytes;
                used += bytes;
                batch.push_back(TaskRequest{task.id, std::move(task.call)});
                sent.push_back(std::move(task));
            }
            if (sent.empty()) continue;
            serial::Payload payload = serial::dumps(batch);
            try {
                send_request(*target, payload);
            } catch (...) {
                // The worker is gone (a worker retired by max_tasks_per_child is never sent more)
                // or scribbled on its ring: the manager breaks the pool, failing these tasks with
                // the rest. Keep them in its pipeline so they are not lost.
                target->garbage = true;
                notify();
            }
            for (auto& task : sent) {
                target->inflight_bytes += task.bytes;
                ++target->assigned;
                target->inflight.push_back(std::move(task));
            }
        }
    }

    // One request batch to `w` (holding mutex): through its ring, or as a socket frame behind a
    // marker. The ring cannot fill up legitimately: a busy worker holds at most
    // max_inflight_bytes of requests, far below the ring's size, and an idle one has read all.
    // A full ring therefore means the worker lied about what it read.
    static void send_request(Worker& w, const serial::Payload& payload) {
        if (!payload.fds.empty() || !w.requests.try_write(payload.bytes)) {
            if (!w.requests.try_write_marker()) throw std::runtime_error("request ring full");
            wake_worker(w);
            send_frame(w.conn.fileno(), FrameKind::request, payload.bytes, payload.fds);
        }
        wake_worker(w);
    }

    static void wake_worker(Worker& w) {
        if (w.requests.take_sleeper()) shared_futex_wake(w.requests.sleep_word(), 1);
    }

    // ---- manager thread --------------------------------------------------------------------------

    void start_worker() {
        auto [ours, theirs] = multiprocessing::Pipe();
        ProcessPoolChannel channel = ProcessPoolChannel::create(wake_write.get());
        multiprocessing::Process p(
            &process_pool_worker_main, theirs, channel, settings.max_tasks_per_child, settings.initializer,
            multiprocessing::ProcessOptions{.name = "ProcessPoolExecutor-worker-" + std::to_string(++worker_counter),
                                            .daemon = true,
                                            .start_method = settings.start_method});
        p.start();
        theirs.close();
        auto w = std::make_unique<Worker>(Worker{std::move(p), std::move(ours), channel, channel.request_writer(),
                                                 channel.response_reader(), false, {}, 0, 0, 0});
        std::lock_guard read_lock(reading);
        std::lock_guard lock(mutex);
        workers.push_back(std::move(w));
    }

    enum class Stream { open, ended, garbage, marker };

    // Reads every frame waiting from `w` (holding `reading`) and adds its answers to `answers`,
    // for the caller to deliver once it let go of `reading`. `ended`: end of file between frames;
    // `garbage`: it said something we did not ask for (then it must go, and the pool breaks: a
    // worker that lies about one result cannot be trusted with the others). `check_socket`: also
    // read the socket (poll() said it is readable). Without a marker in the ring, the socket has
    // nothing to say but its end: anything else on it is garbage. `stop_at_marker` (a helping
    // waiter): leave a marker and its socket frame to the manager (`marker`).
    Stream drain(Worker& w, bool check_socket, bool stop_at_marker, std::vector<Answer>& answers) {
        for (;;) {
            Frame message;
            ResponseBatch batch;
            try {
                if (stop_at_marker) {
                    // Only a record seen at the head is taken: a marker published meanwhile stays.
                    RingReader::Next head = w.responses.peek();
                    if (head == RingReader::Next::marker) return Stream::marker;
                    if (head == RingReader::Next::empty) return Stream::open;
                }
                RingReader::Next next = w.responses.try_read(message.bytes);
                if (next == RingReader::Next::empty) {
                    if (!check_socket || !w.conn.poll()) return Stream::open;
                    if (w.responses.ready()) continue;  // a marker came meanwhile
                    return recv_frame(w.conn.fileno()) ? Stream::garbage : Stream::ended;
                }
                if (next == RingReader::Next::record && !socket_quiet(w)) return Stream::garbage;
                if (next == RingReader::Next::marker) {
                    std::optional<Frame> frame = recv_frame(w.conn.fileno());
                    if (!frame) return Stream::ended;
                    if (frame->kind != FrameKind::response) return Stream::garbage;
                    message = std::move(*frame);
                }
                std::vector<UniqueFd> none;
                std::tie(batch) = serial::loads<ResponseBatch>(message.bytes, none);
            } catch (...) {
                return Stream::garbage;
            }
            if (batch.items.empty() || (!message.fds.empty() && batch.items.size() != 1)) return Stream::garbage;
            std::lock_guard lock(mutex);
            for (auto& item : batch.items) {
                if (w.inflight.empty() || w.inflight.front().id != item.id) return Stream::garbage;
                answers.push_back(Answer{std::move(w.inflight.front()), std::move(item), {}});
                w.inflight.pop_front();
                w.inflight_bytes -= answers.back().task.bytes;
            }
            answers.back().fds = std::move(message.fds);  // at most one item when there are any
            double per = static_cast<double>(batch.busy_ns) / static_cast<double>(batch.items.size());
            w.ns_per_task = w.ns_per_task <= 0 ? per : 0.75 * w.ns_per_task + 0.25 * per;
            dispatch_locked();  // refill the pipelines before the futures wake anyone
        }
    }

    // ---- a waiting thread reads the rings (help) -----------------------------------------------

    // Holding `reading`: while the manager sleeps, its announcements are taken off the rings
    // (a worker then does not wake it for answers this thread reads) ...
    void withdraw_for_manager() noexcept {
        if (!manager_asleep) return;
        for (auto& w : workers) w->responses.withdraw_sleep();
    }
    // ... and put back before `reading` is let go, with the rings looked at once more (Dekker
    // with the worker's publish-then-look): an answer that came meanwhile wakes the manager.
    void restore_for_manager() noexcept {
        if (!manager_asleep) return;
        bool waiting = false;
        for (auto& w : workers) {
            w->responses.announce_sleep();
            waiting = waiting || w->has_response();
        }
        if (waiting) notify();
    }

    // Moves the answers whose futures have done callbacks to `handed_over` (the manager is then
    // to be woken: true). A callback added concurrently may still run on the helper: as with any
    // future, a callback added while it completes runs on the completing thread.
    bool keep_callbacks_on_the_manager(std::vector<Answer>& answers) {
        std::vector<Answer> theirs;
        std::size_t kept = 0;
        for (std::size_t i = 0; i < answers.size(); ++i) {
            if (answers[i].task.future->has_callbacks()) {
                theirs.push_back(std::move(answers[i]));
            } else {
                if (kept != i) answers[kept] = std::move(answers[i]);
                ++kept;
            }
        }
        if (theirs.empty()) return false;
        answers.erase(answers.begin() + static_cast<std::ptrdiff_t>(kept), answers.end());
        std::lock_guard lock(mutex);
        handed_over.insert(handed_over.end(), std::make_move_iterator(theirs.begin()), std::make_move_iterator(theirs.end()));
        return true;
    }

    // A thread waiting for `future` reads the rings (see the header) while its spin pays: the
    // spin backs off (Spinner) when answers keep coming later than it lasts, so a caller waiting
    // for long tasks does not take a CPU from the workers. It helps for help_limit at most, even
    // while other futures' answers keep coming, so the manager is never kept from the rings long.
    // Not on the manager thread (a done callback waiting for another future of the pool): the
    // answers it would need may already be read and waiting below it on its own stack, and a
    // death there needs the manager's loop, which that callback holds up. Such a wait times out
    // or blocks, as in Python, where it deadlocks the management thread.
    bool help(const FutureStateBase& future, std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
        using Clock = std::chrono::steady_clock;
        if (managing_pool == this) return false;
        std::unique_lock read_lock(reading, std::try_to_lock);
        if (!read_lock) return false;  // another thread reads them (and completes this future too)
        const auto give_up = Clock::now() + help_limit;
        auto something_to_do = [&] {
            return future.done() || (deadline && Clock::now() >= *deadline) ||
                   std::any_of(workers.begin(), workers.end(), [](auto& w) { return w->has_response(); });
        };
        auto time_is_up = [&] {
            auto now = Clock::now();
            return now >= give_up || (deadline && now >= *deadline);
        };
        std::vector<Answer> answers;
        withdraw_for_manager();
        while (!future.done() && !time_is_up()) {
            bool hand_over = false;  // to the manager: a marker, or a worker to break the pool for
            for (auto& w : workers) {
                if (!w->has_response()) continue;
                Stream stream = drain(*w, false, true, answers);
                if (stream == Stream::open) continue;
                hand_over = true;
                if (stream != Stream::marker) {
                    std::lock_guard lock(mutex);
                    w->garbage = true;  // the manager breaks the pool
                }
                break;
            }
            if (!answers.empty() || hand_over) {
                // Under `reading`: break_pool, which takes it too, then finds them handed over.
                hand_over = keep_callbacks_on_the_manager(answers) || hand_over;
                restore_for_manager();
                read_lock.unlock();
                if (hand_over) notify();
                deliver(answers);
                if (hand_over || future.done() || !read_lock.try_lock()) return true;
                withdraw_for_manager();
                continue;
            }
            if (!helper_spinner.spin(something_to_do)) break;
        }
        restore_for_manager();
        return true;
    }

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
    void break_pool(const std::string& why) {
        std::vector<std::unique_ptr<Worker>> all;
        std::deque<Task> queued;
        std::vector<Answer> answered;
        {
            std::lock_guard read_lock(reading);
            std::lock_guard lock(mutex);
            broken = why;
            all.swap(workers);
            queued.swap(pending);
            answered.swap(handed_over);
        }
        for (auto& w : all) w->process.kill();
        auto error = std::make_exception_ptr(BrokenProcessPool(broken_future_message));
        for (auto& w : all) {
            w->conn.close();
            w->process.join();
            for (auto& task : w->inflight) fail(task, error);
        }
        for (auto& task : queued) fail(task, error);
        // Computed before the breakage: their results stand. Last, so that a callback of theirs
        // that waits for another future of the pool finds it failed already.
        deliver(answered);
    }

    // The worker at `i` ended or misbehaved. True if that was expected (max_tasks_per_child).
    bool retire(std::size_t i, bool healthy) {
        if (!healthy) return false;  // break_pool kills it
        Worker& w = *workers[i];
        w.process.join(std::chrono::seconds(5));
        if (!w.process.exitcode()) {  // it broke the protocol but lives on
            w.process.kill();
            w.process.join();
        }
        // Its last answers may have reached the ring after the manager last read it (between
        // that read and the look at whether it lives): read them before judging its end.
        std::vector<Answer> last;
        Stream stream = Stream::open;
        {
            std::lock_guard read_lock(reading);
            stream = drain(w, false, false, last);
        }
        deliver(last);
        if (stream != Stream::open) return false;
        bool expected = false;
        {
            std::lock_guard lock(mutex);  // a helping waiter may have read its last answers meanwhile
            expected = w.process.exitcode() == 0 && settings.max_tasks_per_child != 0 &&
                       w.assigned >= settings.max_tasks_per_child && w.inflight.empty();
        }
        if (!expected) return false;
        std::lock_guard read_lock(reading);
        std::lock_guard lock(mutex);
        workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
    }

    void tell_launched() {
        {
            std::lock_guard lock(mutex);
            launched = true;
        }
        launched_cv.notify_all();
    }

    void stop_workers() {
        std::vector<std::unique_ptr<Worker>> all;
        {
            std::lock_guard read_lock(reading);
            std::lock_guard lock(mutex);
            all.swap(workers);
        }
        for (auto& w : all) {
            try {
                RequestBatch stop(1);
                std::lock_guard lock(mutex);  // send_request's rule (no other writer is left)
                send_request(*w, serial::dumps(stop));
            } catch (...) {
                // Already gone: the join below collects it.
            }
            w->conn.close();
        }
        for (auto& w : all) w->process.join();
    }

    void run() {
        managing_pool = this;
        run_loop();
        tell_launched();  // a first submit still waiting finds the pool shut down or broken
    }

    void run_loop() {
        std::vector<Answer> answers;
        for (;;) {
            bool need_workers = false;
            {
                std::lock_guard lock(mutex);
                if (!broken.empty()) return;
                bool idle = pending.empty() && handed_over.empty() &&
                            std::all_of(workers.begin(), workers.end(), [](auto& w) { return w->inflight.empty(); });
                if (shutdown && idle) break;
                need_workers = started && !(shutdown && pending.empty()) &&
                               static_cast<int>(workers.size()) < settings.max_workers;
            }
            if (need_workers) {
                try {
                    while (static_cast<int>(workers.size()) < settings.max_workers) start_worker();
                } catch (const std::exception& e) {
                    break_pool(std::string("cannot start a worker process: ") + e.what());
                    tell_launched();
                    return;
                }
                tell_launched();
            }
            bool garbage = false;
            {
                std::lock_guard lock(mutex);
                dispatch_locked();
                for (auto& w : workers) {
                    garbage = garbage || w->garbage;
                }
            }
            if (garbage) {  // a request could not be sent to a worker
                break_pool(broken_pool_message);
                return;
            }
            int ready = wait();
            if (ready == 0) {
                char bytes[256];
                while (::read(wake.get(), bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes)) {
                }
            }
            // Every ring first (cheap), then the socket of the worker poll() pointed at.
            std::optional<std::size_t> ended;
            Stream stream = Stream::open;
            {
                std::lock_guard read_lock(reading);
                for (std::size_t i = 0; i < workers.size() && !ended; ++i) {
                    stream = drain(*workers[i], false, false, answers);
                    if (stream != Stream::open) ended = i;
                }
                if (!ended && ready > 0) {
                    std::size_t i = static_cast<std::size_t>(ready - 1) / 2;
                    stream = drain(*workers[i], true, false, answers);
                    if (stream != Stream::open || !workers[i]->process.is_alive()) ended = i;
                }
            }
            {
                std::lock_guard lock(mutex);
                std::move(handed_over.begin(), handed_over.end(), std::back_inserter(answers));
                handed_over.clear();
            }
            deliver(answers);
            if (!ended) continue;
            if (!retire(*ended, stream != Stream::garbage)) {
                break_pool(broken_pool_message);
                return;
            }
        }
        stop_workers();
    }

    // Waits for something to do: a response in a ring, a wake-up, a worker's socket or end.
    // Returns the index of the readable descriptor as wait_any_readable (0: the wake-up pipe; 1 + 2i
    // and 2 + 2i: worker i's socket and sentinel), or -1 when the rings are to be read.
    // The manager does not spin: on two CPUs, a caller spinning in result() and a worker running
    // or spinning already hold both, and a third spinner would only delay them (a runnable
    // spinner gets the CPU at the scheduler's next tick, a woken sleeper at once).
    // The manager is the only thread that changes `workers`: reading it unlocked is safe.
    // While it sleeps, a helping waiter may read the rings (then it withdraws and restores the
    // announcements, under `reading`).
    int wait() {
        std::vector<int> fds{wake.get()};
        {
            std::lock_guard read_lock(reading);
            bool any_response = false;
            for (auto& w : workers) {
                w->responses.announce_sleep();
                any_response = any_response || w->has_response();
            }
            if (any_response) {
                for (auto& w : workers) w->responses.withdraw_sleep();
                return -1;
            }
            manager_asleep = true;
            for (auto& w : workers) {
                fds.push_back(w->conn.fileno());
                fds.push_back(w->process.sentinel());
            }
        }
        int ready =
            wait_any_readable(fds.data(), static_cast<int>(fds.size()), std::chrono::steady_clock::now() + manager_recheck);
        std::lock_guard read_lock(reading);
        manager_asleep = false;
        for (auto& w : workers) w->responses.withdraw_sleep();
        return ready;
    }
};

ProcessPoolCore::ProcessPoolCore(ProcessPoolSettings settings) : impl_(std::make_shared<Impl>()) {
    impl_->settings = std::move(settings);
    int ends[2];
    check_os(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), "pipe2");
    impl_->wake.reset(ends[0]);
    impl_->wake_write.reset(ends[1]);
    impl_->manager = std::thread([impl = impl_] { impl->run(); });
}

ProcessPoolCore::~ProcessPoolCore() {
    shutdown(true, false);
    // Destroyed from a done callback, on the manager thread itself: that thread holds its own
    // reference to the state and finishes with it.
    if (impl_->manager.joinable()) impl_->manager.detach();
}

int ProcessPoolCore::max_workers() const noexcept { return impl_->settings.max_workers; }

bool ProcessPoolCore::help(const std::weak_ptr<Impl>& pool, const FutureStateBase& future,
                           std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    std::shared_ptr<Impl> impl = pool.lock();
    return impl && impl->help(future, deadline);
}

void ProcessPoolCore::submit(FutureStateBase* future, DeliverFn deliver, EncodedCall call) {
    Impl& s = *impl_;
    bool wake_manager = false;
    {
        std::unique_lock lock(s.mutex);
        if (!s.started && s.broken.empty() && !s.shutdown) {
            // The first submit starts the workers and waits for them (Python starts a fork
            // pool's processes in its first submit too): a fork() then happens while this
            // thread is parked, not allocating, so the child cannot inherit a lock it held.
            s.started = true;
            lock.unlock();
            s.notify();
            lock.lock();
            s.launched_cv.wait(lock, [&] { return s.launched; });
        }
        if (!s.broken.empty() || s.shutdown) {
            std::string broken = s.broken;
            lock.unlock();
            future->release();
            if (!broken.empty()) throw BrokenProcessPool(broken);
            throw std::runtime_error("cannot schedule new futures after shutdown");
        }
        s.pending.push_back(Task{s.next_id++, future, deliver, std::move(call), 0});
        s.dispatch_locked(true);
        if (!s.pending.empty()) {
            // Someone must come back for it: the manager wakes on every response anyway, so it
            // is told only when no response is due or workers are missing.
            bool any_inflight = std::any_of(s.workers.begin(), s.workers.end(),
                                            [](auto& w) { return !w->inflight.empty(); });
            wake_manager = !any_inflight || static_cast<int>(s.workers.size()) < s.settings.max_workers;
        }
    }
    if (wake_manager) s.notify();
}

void ProcessPoolCore::shutdown(bool wait, bool cancel_futures) {
    Impl& s = *impl_;
    std::deque<Task> cancelled;
    {
        std::lock_guard lock(s.mutex);
        s.shutdown = true;
        if (cancel_futures) cancelled.swap(s.pending);
    }
    for (auto& task : cancelled) {
        task.future->cancel();
        release(task);
    }
    s.notify();
    if (!wait) return;
    std::lock_guard lock(s.join_mutex);
    if (s.manager.joinable() && s.manager.get_id() != std::this_thread::get_id()) s.manager.join();
}

void ProcessPoolCore::signal_workers(int signal) {
    shutdown(false, true);
    std::lock_guard lock(impl_->mutex);
    for (auto& w : impl_->workers) {
        if (w->process.is_alive()) signal == SIGKILL ? w->process.kill() : w->process.terminate();
    }
}

std::vector<int> ProcessPoolCore::worker_pids() const {
    std::vector<int> pids;
    std::lock_guard lock(impl_->mutex);
    for (auto& w : impl_->workers)
        if (auto pid = w->process.pid()) pids.push_back(*pid);
    return pids;
}

}  // namespace nogil::concurrent::futures::detail
