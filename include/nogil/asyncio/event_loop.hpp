#pragma once
// asyncio's event loop: one per thread, as in Python. Most programs never touch it directly:
// asyncio::run() creates one, runs a coroutine on it and closes it.
//
// Time: time() returns seconds as a double on the steady (monotonic) clock, like Python's
// loop.time(); call_at() accepts either that double or a std::chrono::steady_clock time point.
//
// Threading: an EventLoop belongs to the thread that runs it. Only call_soon_threadsafe() (and
// the bridges in <nogil/asyncio/threads.hpp>) may be called from other threads; in debug mode
// the other scheduling calls check this and throw std::runtime_error.
//
// Order: callbacks run in the order they were queued, whichever thread queued them (a
// call_soon_threadsafe() that happened before a call_soon() runs first); due timers run in
// deadline order, equal deadlines in the order they were scheduled. A callback that throws is
// reported to the exception handler, except KeyboardInterrupt/SystemExit, which leave
// run_forever()/run_until_complete() (Python's Handle._run).

#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/ssl_option.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace nogil::concurrent::futures {
class Executor;
}  // namespace nogil::concurrent::futures

namespace nogil::asyncio {

template <class T>
class Coroutine;
template <class T>
class Task;
template <class T>
class Future;
struct TaskOptions;
class TaskMaker;
class StreamReader;
class StreamWriter;
/// A task factory (Python's loop.set_task_factory): called by every create_task on the loop
/// (asyncio::create_task, loop.create_task, TaskGroup, gather...) with the loop, a TaskMaker that
/// builds the task asked for, and the options; it may change the options (a name, eager_start,
/// a context), call make(options) once and return that task, after doing what it likes with it
/// (count it, add a done callback). See <nogil/asyncio/task.hpp>.
using TaskFactory = std::function<Task<void>(EventLoop&, const TaskMaker&, TaskOptions)>;

/// What an exception handler receives (Python passes a dict with these keys).
struct ExceptionContext {
    /// What went wrong, e.g. "Exception in callback" or "unhandled exception during asyncio.run() shutdown".
    std::string message;
    /// The exception, if there is one.
    std::exception_ptr exception;
    /// The task, future or callback involved, described (e.g. "<Task finished name='Task-3'>").
    std::string source;
};

/// A callback scheduled with call_soon / call_soon_threadsafe (Python's asyncio.Handle).
///
/// Thread safety: cancel() and cancelled() of a call_soon / call_soon_threadsafe handle may be
/// called from any thread (an atomic flag); a timer's cancel() is for the loop's thread (it takes
/// the timer out of the heap).
class Handle {
public:
    Handle() = default;
    explicit Handle(detail::Ref<detail::HandleState> state) noexcept : state_(std::move(state)) {}
    /// Prevents the callback from running (no-op if it already ran). Timers: loop thread only.
    void cancel() noexcept {
        if (state_) state_->cancel();
    }
    /// True if cancel() was called.
    bool cancelled() const noexcept { return state_ && state_->cancelled.load(std::memory_order_acquire); }

protected:
    detail::Ref<detail::HandleState> state_;
};

/// A callback scheduled with call_later / call_at (Python's asyncio.TimerHandle).
///
/// Thread safety: loop thread only (see Handle).
class TimerHandle : public Handle {
public:
    using Handle::Handle;
    /// The scheduled time, in loop.time() seconds.
    double when() const noexcept {
        return std::chrono::duration<double>(state_->when.time_since_epoch()).count();
    }
};

/// How a new EventLoop is made (nogil extensions; Python's new_event_loop() takes none).
struct EventLoopOptions {
    /// The I/O backend. nullopt: NOGIL_ASYNCIO_BACKEND=epoll|io_uring, epoll when unset; a loop
    /// that asked for io_uring through the variable and cannot have it uses epoll (and says why,
    /// once per process, in debug mode). Set explicitly, io_uring that cannot run here is an
    /// OSError naming why (seccomp, kernel.io_uring_disabled, an old kernel). An io_uring loop
    /// (kernel >= 6.1) is bound to the thread that first runs it: a later run on another thread
    /// throws std::runtime_error (NOGIL_ASYNCIO_IO_URING_SETUP=coop lifts that; docs/asyncio-io.md).
    std::optional<IoBackendKind> io_backend{};
    /// Debug mode from the start (nullopt: NOGIL_ASYNCIO_DEBUG=1 turns it on).
    std::optional<bool> debug{};
};

/// Python's asyncio event loop.
///
/// Thread safety: for the thread that runs it, except call_soon_threadsafe() (any thread: it queues
/// under a lock and wakes the loop) and the bridges of <nogil/asyncio/threads.hpp>. Every callback
/// runs on the loop's thread. In debug mode the other scheduling calls throw std::runtime_error
/// from another thread.
class EventLoop {
public:
    using clock = std::chrono::steady_clock;

    /// A new, not running loop (Python's new_event_loop()). Throws OSError if the backend
    /// cannot be created (epoll_create1 failing, or an explicit io_uring that cannot run).
    EventLoop();
    explicit EventLoop(EventLoopOptions options);
    /// Closes the loop if it is not closed (see close()).
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // --- scheduling --------------------------------------------------------------------------

    /// Runs fn(args...) on a later loop iteration, after the callbacks already queued.
    template <class F, class... Args>
    Handle call_soon(F&& fn, Args&&... args) {
        core_->check_thread();
        return Handle(core_->call_soon(bind(std::forward<F>(fn), std::forward<Args>(args)...)));
    }
    /// Runs fn(args...) after `delay` (any std::chrono::duration; negative counts as zero).
    template <class Rep, class Period, class F, class... Args>
    TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn, Args&&... args) {
        return call_at(clock::now() + to_clock_duration(delay, "delay"), std::forward<F>(fn),
                       std::forward<Args>(args)...);
    }
    /// Runs fn(args...) after `delay` seconds. A NaN delay throws std::invalid_argument; a
    /// negative one is a deadline in the past (due timers run in deadline order).
    template <class F, class... Args>
    TimerHandle call_later(double delay, F&& fn, Args&&... args) {
        return call_later(std::chrono::duration<double>(delay), std::forward<F>(fn), std::forward<Args>(args)...);
    }
    /// Runs fn(args...) at `when` on the steady clock.
    template <class F, class... Args>
    TimerHandle call_at(clock::time_point when, F&& fn, Args&&... args) {
        core_->check_thread();
        return TimerHandle(core_->call_at(when, bind(std::forward<F>(fn), std::forward<Args>(args)...)));
    }
    /// Runs fn(args...) at `when`, in time() seconds.
    template <class F, class... Args>
    TimerHandle call_at(double when, F&& fn, Args&&... args) {
        return call_at(from_seconds(when, "when"), std::forward<F>(fn), std::forward<Args>(args)...);
    }
    /// Any thread: queues fn(args...) and wakes the loop if it sleeps.
    template <class F, class... Args>
    Handle call_soon_threadsafe(F&& fn, Args&&... args) {
        return Handle(core_->call_soon_threadsafe(bind(std::forward<F>(fn), std::forward<Args>(args)...)));
    }
    /// Seconds on the monotonic clock, as a double (the loop's own clock).
    double time() const noexcept { return std::chrono::duration<double>(clock::now().time_since_epoch()).count(); }

    // --- running and stopping ----------------------------------------------------------------

    /// Runs until stop(). Throws RuntimeError if closed, already running, or another loop runs
    /// on this thread.
    void run_forever() { core_->run_forever(); }
    /// Wraps a Coroutine in a task (or takes a Task/Future), runs the loop until it is done and
    /// returns its result or re-throws its exception. Defined in <nogil/asyncio/task.hpp>.
    template <class Awaitable>
    auto run_until_complete(Awaitable aw);
    /// Stops run_forever() after the current iteration (or after the next one if not running).
    void stop() noexcept { core_->stop(); }
    /// Drops everything scheduled and destroys the frames of pending tasks (see the close
    /// protocol in detail/loop_core.hpp). Throws RuntimeError if running.
    void close() { core_->close(); }
    bool is_running() const noexcept { return core_->is_running(); }
    bool is_closed() const noexcept { return core_->is_closed(); }

    // --- tasks and futures --------------------------------------------------------------------

    /// Schedules a coroutine as a task on this loop. Defined in <nogil/asyncio/task.hpp>.
    template <class T>
    Task<T> create_task(Coroutine<T> coro, std::string_view name = {});
    /// Same, with options (name, eager_start, context: Python's create_task(coro, name=...,
    /// context=...)). Defined in <nogil/asyncio/task.hpp>.
    template <class T>
    Task<T> create_task(Coroutine<T> coro, TaskOptions options);
    /// Python's loop.set_task_factory(factory): every task created on this loop from now on goes
    /// through `factory` (an empty one restores the default). Loop thread.
    void set_task_factory(TaskFactory factory);
    /// The factory set, or an empty one (Python's None).
    const TaskFactory& get_task_factory() const noexcept { return *task_factory_; }
    /// A new pending Future bound to this loop. Defined in <nogil/asyncio/future.hpp>.
    template <class T = void>
    Future<T> create_future();

    // --- executors (defined in <nogil/asyncio/threads.hpp> and src/asyncio/threads.cpp) ------

    /// Runs fn(args...) on `executor` (nullptr: the default one, a ThreadPoolExecutor created on
    /// first use) and returns an asyncio Future for its result. Cancelling that Future (or the
    /// task awaiting it) cancels the call if it has not started. Throws RuntimeError after
    /// shutdown_default_executor().
    template <class F, class... Args>
    auto run_in_executor(concurrent::futures::Executor* executor, F&& fn, Args&&... args);
    /// Replaces the default executor used by run_in_executor(nullptr, ...) and to_thread().
    void set_default_executor(std::shared_ptr<concurrent::futures::Executor> executor);
    /// Shuts the default executor down, waiting for its calls in another thread so that the
    /// loop keeps running meanwhile. run() calls it before closing the loop.
    Coroutine<void> shutdown_default_executor();
    /// The default executor (created on first use). Throws RuntimeError after shutdown.
    concurrent::futures::Executor& default_executor();

    // --- file descriptors (readiness, level-triggered, as Python's add_reader) --------------

    /// Calls fn each iteration while fd is readable; replaces an earlier reader for fd.
    void add_reader(int fd, std::function<void()> fn) { core_->set_fd_callback(fd, false, std::move(fn)); }
    /// True if a reader was registered.
    bool remove_reader(int fd) { return core_->clear_fd_callback(fd, false); }
    /// Calls fn each iteration while fd is writable; replaces an earlier writer for fd.
    void add_writer(int fd, std::function<void()> fn) { core_->set_fd_callback(fd, true, std::move(fn)); }
    /// True if a writer was registered.
    bool remove_writer(int fd) { return core_->clear_fd_callback(fd, true); }

    // --- TLS ----------------------------------------------------------------------------------

    /// Python's loop.start_tls(transport, protocol, sslcontext, server_side=..., ...): puts TLS
    /// on the connection of `transport` (a StreamWriter: Python's transport) and `protocol`
    /// (its StreamReader: the protocol, which the streams fold into the transport) and returns,
    /// once the handshake is done, the transport to use from then on. Nothing is drained first
    /// (StreamWriter::start_tls drains); bytes already queued go out, in plain, before the
    /// handshake, and bytes already in the reader's buffer stay plaintext. `sslcontext` must be
    /// an ssl::SSLContext (<nogil/ssl.hpp>); std::invalid_argument (Python's TypeError) for
    /// none or `true`, for a transport that cannot carry TLS (a pipe, or one that already
    /// does), and for a `protocol` that is not `transport`'s reader. Throws what a failed
    /// handshake throws (ssl::SSLError, ConnectionAbortedError on the handshake timeout...);
    /// the connection is lost then. Cancelling it aborts the connection.
    /// Python's rule holds: use the returned transport, not the one passed in. The one passed
    /// in is taken by value and released when the call ends; a copy the caller kept still
    /// writes to the same connection, through TLS (it cannot bypass the encryption, as a
    /// Python transport kept after start_tls does). Needs <nogil/asyncio/streams.hpp>.
    Coroutine<StreamWriter> start_tls(StreamWriter transport, StreamReader protocol, SSLOption sslcontext,
                                      LoopStartTlsOptions options = {});

    // --- signals ------------------------------------------------------------------------------

    /// Runs fn on the loop (queued like call_soon) when `sig` arrives, whichever thread the
    /// signal is delivered to (a self-pipe carries it to the loop). Replaces an earlier handler
    /// for `sig`. Main thread only, as in Python, and one loop handles signals at a time.
    /// Throws std::invalid_argument for a number that is not a signal, RuntimeError for
    /// SIGKILL/SIGSTOP ("sig 9 cannot be caught"), off the main thread, or if another loop
    /// already handles signals.
    void add_signal_handler(int sig, std::function<void()> fn) { core_->add_signal_handler(sig, std::move(fn)); }
    /// Restores the default disposition; true if a handler was registered. close() removes all.
    bool remove_signal_handler(int sig) { return core_->remove_signal_handler(sig); }

    // --- errors and debug ---------------------------------------------------------------------

    using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;
    /// Replaces the handler for errors the loop cannot hand to anyone (a callback that threw...).
    /// An empty function restores the default.
    void set_exception_handler(ExceptionHandler handler) { core_->set_exception_handler(std::move(handler)); }
    /// Prints the context to stderr: message, source, and the exception's type and what().
    void default_exception_handler(const ExceptionContext& context);
    /// Calls the handler (the default one if none is set, or if the handler itself throws).
    void call_exception_handler(const ExceptionContext& context) noexcept { core_->call_exception_handler(context); }
    /// Debug mode: slow callbacks reported, thread misuse throws, never-awaited coroutines reported.
    void set_debug(bool enabled) noexcept { core_->debug = enabled; }
    bool get_debug() const noexcept { return core_->debug; }
    /// The I/O backend this loop polls with (see EventLoopOptions::io_backend).
    IoBackendKind io_backend() const noexcept { return core_->io_backend(); }
    /// Callbacks and task steps slower than this (seconds) are reported in debug mode; 0.1 default.
    double slow_callback_duration() const noexcept { return core_->slow_callback_duration; }
    void set_slow_callback_duration(double seconds);

    /// The machinery; not part of the public API.
    detail::LoopCore& core() const noexcept { return *core_; }

private:
    template <class F, class... Args>
    static std::function<void()> bind(F&& fn, Args&&... args) {
        if constexpr (sizeof...(Args) == 0)
            return std::function<void()>(std::forward<F>(fn));
        else
            return std::function<void()>(std::bind_front(std::forward<F>(fn), std::forward<Args>(args)...));
    }
    static clock::time_point from_seconds(double when, const char* name);
    template <class Rep, class Period>
    static clock::duration to_clock_duration(std::chrono::duration<Rep, Period> d, const char* name) {
        const double seconds = std::chrono::duration<double>(d).count();
        if (std::isnan(seconds)) throw std::invalid_argument(std::string(name) + " must not be NaN");
        // Clamp huge delays (inf, hours::max()) to a century instead of overflowing the clock.
        if (seconds > 3.2e9) return std::chrono::hours(24 * 365 * 100);
        // A negative delay is a deadline in the past, as in Python (time() + delay): timers
        // that are due run in deadline order, so call_later(-2) runs before call_later(-1).
        if (seconds < -3.2e9) return -std::chrono::hours(24 * 365 * 100);
        return std::chrono::ceil<clock::duration>(d);
    }

    detail::Ref<detail::LoopCore> core_;
    std::unique_ptr<TaskFactory> task_factory_;  // never null (an empty function: the default)
};

/// The loop running on this thread. Throws std::runtime_error("no running event loop").
EventLoop& get_running_loop();

}  // namespace nogil::asyncio
