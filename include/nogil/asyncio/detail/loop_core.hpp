#pragma once
// The event loop's machinery: ready queue, timer heap, fd readiness, cross-thread queue, the
// registry of live tasks. nogil::asyncio::EventLoop is the public face of one LoopCore.
//
// Threading: everything here runs on the loop's thread except call_soon_threadsafe(),
// wakeup(), add_ref()/release() and HandleState::cancel() of a handle that is not a timer.
//
// One iteration (run_once), as Python's BaseEventLoop._run_once:
//   1. timeout = 0 if callbacks are ready or stop() was called, else until the nearest timer,
//      else unbounded;
//   2. poll the backend (skipped when the timeout is 0 and no fd is watched but the signal
//      self-pipe: the cross-thread queue and the signals are then checked through atomic
//      flags, so sleep(0) costs no system call, also under asyncio::run's Ctrl-C handler);
//   3. move callbacks for ready fds, the cross-thread queue and due timers to the ready queue
//      (so a zero-delay timer runs after the call_soon callbacks queued before it);
//   4. run exactly the callbacks that are ready now; those they schedule wait for the next turn.
// Tests (tests/asyncio_event_loop_test.cpp, AsyncioEventLoop.*): step 1
// StopBeforeRunForeverRunsOneIteration; 2 CallSoonThreadsafeWakesASleepingLoop; 3
// ZeroDelayTimerRunsAfterAlreadyQueuedCallSoon; 4 CallbacksScheduledByCallbacksWaitForTheNextTurn.
//
// Close protocol (close()):
//   1. refuse if running (RuntimeError);
//   2. drop the ready queue, the timers and the cross-thread queue without running them;
//   3. destroy the coroutine frames of tasks still pending (their awaiters detach themselves
//      from futures in their destructors); the tasks stay pending, as in Python;
//   4. drop the done callbacks of those tasks and of the futures they awaited: nothing can run
//      them any more (a closed loop schedules nothing), and they are what ties a pending task
//      to a concurrent Future in a cycle (run_coroutine_threadsafe, awaiting a cf::Future);
//   5. release the OS resources: the backend (the epoll fd or the io_uring ring, and the wake-up
//      eventfd; Python's close() closes its selector), whatever is still pending; a pending future keeps only the core's memory,
//      until it is released;
//   6. after this, scheduling anything internal is a no-op and the public calls throw
//      RuntimeError("Event loop is closed").
// Destroying the EventLoop from one of its own callbacks (while run_forever is on the stack):
// run_forever holds a reference to the core, and the close happens when it returns.
// Tests: step 1 and 4 AsyncioEventLoop.StateErrors; 2 AsyncioEventLoop.
// CloseDropsWhatIsScheduledWithoutRunningIt; 3 AsyncioFuture.
// FramesDestroyedAtCloseDetachFromTheFutureTheyAwait (tests/asyncio_future_test.cpp).

#include <nogil/asyncio/detail/frame_allocator.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/detail/io_backend.hpp>
#include <nogil/contextvars/detail/context_state.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace nogil::asyncio {
class EventLoop;
struct ExceptionContext;
}  // namespace nogil::asyncio

namespace nogil::concurrent::futures {
class Executor;
}  // namespace nogil::concurrent::futures

namespace nogil::asyncio::detail {

class LoopCore;
class FutureBase;
class TaskBase;
struct DebugLayout;

using Clock = std::chrono::steady_clock;

/// A scheduled callback (call_soon, call_later, add_reader...): what Python's Handle and
/// TimerHandle point to: fn(ctx). Internal timers (sleep(), timeouts) are just that, 56
/// bytes, since a million sleeping tasks hold a million of them; a std::function callback
/// lives in a CallbackHandle around it.
struct HandleState : FrameAllocated {
    static constexpr std::size_t not_in_heap = static_cast<std::uint32_t>(-1);

    std::atomic<std::uint32_t> refs{1};
    std::uint32_t heap_index = not_in_heap;
    std::atomic<bool> cancelled{false};
    bool owns_callback = false;  // this is a CallbackHandle
    void (*fn)(void*) = nullptr;
    void* ctx = nullptr;
    Clock::time_point when{};
    std::uint64_t seq = 0;
    LoopCore* loop = nullptr;  // set for timers, so cancel() can take them out of the heap

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    inline void release() noexcept;
    /// Python's Handle.cancel(): the callback will not run. A timer also leaves the heap
    /// (loop thread only for timers).
    void cancel() noexcept;
    void run() { fn(ctx); }
};

/// A handle whose callback is a std::function (the public call_soon, call_later, add_reader).
/// It runs in a copy of the context current where it was scheduled (Python's Handle: context =
/// copy_context()); null stands for an empty one, built only if the callback sets a variable.
struct CallbackHandle final : HandleState {
    explicit CallbackHandle(std::function<void()> f)
        : callback(std::move(f)), context(Ref<contextvars::detail::ContextState>::adopt(contextvars::detail::copy_current_or_null())) {
        owns_callback = true;
        fn = &call;
        ctx = this;
    }
    std::function<void()> callback;
    Ref<contextvars::detail::ContextState> context;

private:
    static void call(void* self) {
        auto* h = static_cast<CallbackHandle*>(self);
        contextvars::detail::Entered scope(h->context.get());
        h->callback();
    }
};

inline void HandleState::release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (owns_callback)
        delete static_cast<CallbackHandle*>(this);
    else
        delete this;
}

/// What the ready queue holds: a task step, an internal future callback or a handle. The kind
/// lives in the low bits of the (8-byte aligned) first pointer.
struct ReadyItem {
    enum class Kind : std::uintptr_t { step = 0, future_callback = 1, handle = 2 };
    std::uintptr_t tagged;                    // TaskBase* / callback context / HandleState*, | kind
    FutureBase* future;                       // future_callback: one reference held
    void (*fn)(void* ctx, FutureBase& fut);  // future_callback

    static ReadyItem make(Kind k, void* p, FutureBase* f = nullptr, void (*fn)(void*, FutureBase&) = nullptr) noexcept {
        return {reinterpret_cast<std::uintptr_t>(p) | static_cast<std::uintptr_t>(k), f, fn};
    }
    Kind kind() const noexcept { return static_cast<Kind>(tagged & 3u); }
    void* ptr() const noexcept { return reinterpret_cast<void*>(tagged & ~std::uintptr_t(3)); }
};

/// The ready queue: a growable ring of 8-byte words (FIFO, amortised O(1), no allocation once
/// warm). A step or a handle takes one word, a future callback three (tagged context, future,
/// function): a queued task step, the common case, costs 8 bytes.
class ReadyQueue {
public:
    ReadyQueue() = default;
    ReadyQueue(const ReadyQueue&) = delete;
    ReadyQueue& operator=(const ReadyQueue&) = delete;
    ~ReadyQueue();
    bool empty() const noexcept { return items_ == 0; }
    /// Items queued (not words).
    std::size_t size() const noexcept { return items_; }
    void push(const ReadyItem& item) {
        const std::size_t words = item.kind() == ReadyItem::Kind::future_callback ? 3 : 1;
        if (used_ + words > capacity_) grow();
        put(item.tagged);
        if (words == 3) {
            put(reinterpret_cast<std::uintptr_t>(item.future));
            put(reinterpret_cast<std::uintptr_t>(item.fn));
        }
        ++items_;
    }
    ReadyItem pop() noexcept {
        ReadyItem r{take(), nullptr, nullptr};
        if (r.kind() == ReadyItem::Kind::future_callback) {
            r.future = reinterpret_cast<FutureBase*>(take());
            r.fn = reinterpret_cast<void (*)(void*, FutureBase&)>(take());
        }
        --items_;
        return r;
    }

private:
    void grow();
    void put(std::uintptr_t w) noexcept {
        buf_[(head_ + used_) & (capacity_ - 1)] = w;
        ++used_;
    }
    std::uintptr_t take() noexcept {
        std::uintptr_t w = buf_[head_];
        head_ = (head_ + 1) & (capacity_ - 1);
        --used_;
        return w;
    }

    std::unique_ptr<std::uintptr_t[]> buf_;  // capacity_ words, a power of two; not zeroed on growth
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t used_ = 0;   // words
    std::size_t items_ = 0;
};

class LoopCore {
public:
    /// `backend` and `debug`: see make_io_backend() (io_backend.hpp).
    LoopCore(asyncio::EventLoop& owner, std::optional<IoBackendKind> backend, bool debug);
    ~LoopCore();
    LoopCore(const LoopCore&) = delete;
    LoopCore& operator=(const LoopCore&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// The EventLoop that owns this core; null once it was destroyed.
    asyncio::EventLoop* owner() const noexcept { return owner_; }
    void detach_owner() noexcept { owner_ = nullptr; }

    // --- scheduling (loop thread) ---------------------------------------------------------
    /// Queues one step of `task` (no reference taken: a pending task is held by the registry).
    void schedule_step(TaskBase* task) {
        if (closed_) return;
        take_threadsafe_first();
        ready_.push(ReadyItem::make(ReadyItem::Kind::step, task));
    }
    /// Queues fn(ctx, fut); holds a reference to `fut` until it ran or was dropped.
    void schedule_future_callback(void (*fn)(void*, FutureBase&), void* ctx, FutureBase& fut);
    /// Queues a handle (call_soon). Throws RuntimeError if closed.
    Ref<HandleState> call_soon(std::function<void()> fn);
    /// Queues `handle` (a reference is taken) unless closed.
    void schedule_handle(HandleState* handle);
    /// Arms a timer; throws RuntimeError if closed.
    Ref<HandleState> call_at(Clock::time_point when, std::function<void()> fn);
    /// Arms an internal timer calling fn(ctx); returns null if the loop is closed.
    Ref<HandleState> call_at(Clock::time_point when, void (*fn)(void*), void* ctx);
    /// Timers armed and not yet due or cancelled (tests and debugging).
    std::size_t timer_count() const noexcept { return timers_.size(); }
    /// Takes a timer out of the heap (no-op if it is not in it).
    void remove_timer(HandleState& timer) noexcept;
    /// Any thread: queues fn and wakes the loop. Throws RuntimeError if closed.
    Ref<HandleState> call_soon_threadsafe(std::function<void()> fn);

    // --- fds (loop thread) ----------------------------------------------------------------
    /// Python's add_reader (writer = false) / add_writer (writer = true).
    void set_fd_callback(int fd, bool writer, std::function<void()> fn);
    /// Python's remove_reader / remove_writer: true if a callback was registered.
    bool clear_fd_callback(int fd, bool writer);

    // --- signals (src/asyncio/signals.cpp) ----------------------------------------------
    void add_signal_handler(int sig, std::function<void()> fn);
    bool remove_signal_handler(int sig);
    /// Async-signal-safe: a signal was written to the self-pipe (so a busy loop that skips
    /// polling, see run_once, polls on its next turn).
    void note_signal() noexcept { signal_pending_.store(true, std::memory_order_relaxed); }

    // --- running --------------------------------------------------------------------------
    void run_forever();
    void run_once();
    void stop() noexcept { stopping_ = true; }
    void close();
    /// Loop thread, while running: the owner is being destroyed by a callback; run_forever
    /// stops after this iteration and closes the loop when it returns.
    void close_when_stopped() noexcept {
        stopping_ = true;
        close_when_stopped_ = true;
    }
    bool is_running() const noexcept { return running_thread_.load(std::memory_order_acquire) != std::thread::id(); }
    bool is_closed() const noexcept { return closed_; }
    /// The I/O backend chosen when the loop was created (kept after close()).
    IoBackendKind io_backend() const noexcept { return backend_kind_; }
    /// The backend itself (loop thread; null once closed): transports use its completions.
    IoBackend* backend() const noexcept { return backend_.get(); }
    /// How many timers the heap has room for (tests: a drained burst gives its memory back).
    std::size_t timer_capacity() const noexcept { return timers_.capacity(); }
    /// A timer heap that drained keeps at most this many slots (a burst of a million timers
    /// would otherwise keep 8 MB for the loop's life).
    static constexpr std::size_t retained_timer_slots = 4096;
    /// Python's BaseEventLoop._check_closed(): the one home of "Event loop is closed"
    /// (RuntimeError), thrown by everything that would schedule work on a closed loop.
    void check_open() const {
        if (closed_) throw_closed();
    }
    [[noreturn]] static void throw_closed();
    /// Throws RuntimeError when debug mode is on and the caller is not the loop's thread.
    void check_thread() const;

    // --- tasks ----------------------------------------------------------------------------
    void register_task(TaskBase& task) noexcept;   // takes a reference
    void unregister_task(TaskBase& task) noexcept;  // drops it
    std::vector<Ref<TaskBase>> tasks() const;
    std::size_t task_count() const noexcept { return task_count_; }

    // --- errors and debug -----------------------------------------------------------------
    void set_exception_handler(std::function<void(asyncio::EventLoop&, const asyncio::ExceptionContext&)> h) {
        exception_handler_ = std::move(h);
    }
    void call_exception_handler(const asyncio::ExceptionContext& context) noexcept;
    bool debug = false;
    double slow_callback_duration = 0.1;
    /// The task whose step runs now on this loop, and the frame of it that runs (TaskBase::step
    /// keeps both, an eager task's step inside another's saving and restoring them): where the
    /// running task's chain of frames starts (get_stack, `nogil ps`). Loop thread.
    TaskBase* running_task = nullptr;
    void* running_frame = nullptr;

    /// run_in_executor's default executor (created on first use); shut down without waiting
    /// on close(), as in Python.
    std::shared_ptr<concurrent::futures::Executor> default_executor;
    /// shutdown_default_executor() was called: no new default executor.
    bool executor_shutdown_called = false;

private:
    friend struct DebugLayout;  // the registry of loops `nogil ps` walks (introspection.hpp)
    void run_ready(std::size_t count);
    void report_slow(const std::string& what, double seconds) const;
    void heap_up(std::size_t i) noexcept;
    void heap_down(std::size_t i) noexcept;
    void heap_push(HandleState* h);
    void drain_threadsafe();
    /// Loop thread, before anything joins the ready queue: callbacks other threads queued
    /// earlier (call_soon_threadsafe) join it first, so the ready queue keeps the order in which
    /// callbacks were queued, whichever thread queued them (Python appends both to one deque).
    void take_threadsafe_first() {
        if (threadsafe_pending_.load(std::memory_order_relaxed)) drain_threadsafe();
    }
    void close_signals() noexcept;
    void read_signals();
    void dispatch_fd(int fd, std::uint32_t events);

    // The fields by what guards them:
    //   loop thread only, no lock: owner_, backend_ (its wakeup() is any thread), ready_,
    //       timers_, timer_seq_, fds_, events_, signal_handlers_, signal_pipe_ (the signal
    //       handler writes to a copy of its write end), tasks_head_, task_count_, owner_thread_,
    //       stopping_, exception_handler_ (and the public debug fields).
    //   threadsafe_mutex_: threadsafe_ (the cross-thread queue), and every write of closed_
    //       (the loop thread reads closed_ without it; call_soon_threadsafe reads it under it).
    //   atomics, any thread: refs_, threadsafe_pending_ (set after a push, so the loop drains),
    //       signal_pending_ (set by the signal handler), running_thread_.
    std::atomic<std::uint32_t> refs_{1};
    asyncio::EventLoop* owner_;
    std::unique_ptr<IoBackend> backend_;  // null once closed (step 5)
    IoBackendKind backend_kind_;
    ReadyQueue ready_;
    std::vector<HandleState*> timers_;  // min-heap on (when, seq), each holds a reference
    std::uint64_t timer_seq_ = 0;
    std::mutex threadsafe_mutex_;
    // Callbacks other threads queued, in order; they join ready_ before anything the loop's
    // thread queues after them (take_threadsafe_first), and at every poll.
    std::vector<Ref<HandleState>> threadsafe_;
    std::atomic<bool> threadsafe_pending_{false};
    struct FdCallbacks {
        Ref<HandleState> reader, writer;
    };
    std::unordered_map<int, FdCallbacks> fds_;
    std::vector<IoEvent> events_;
    std::unordered_map<int, std::function<void()>> signal_handlers_;
    int signal_pipe_[2] = {-1, -1};
    std::atomic<bool> signal_pending_{false};
    TaskBase* tasks_head_ = nullptr;
    std::size_t task_count_ = 0;
    std::atomic<std::thread::id> running_thread_{};
    std::thread::id owner_thread_{};  // last thread that ran the loop (debug checks)
    bool stopping_ = false;
    bool closed_ = false;
    bool close_when_stopped_ = false;
    std::function<void(asyncio::EventLoop&, const asyncio::ExceptionContext&)> exception_handler_;
    // The process's registry of loops (src/asyncio/detail/introspection.cpp), read by `nogil
    // ps` from another process: linked under that file's mutex by the constructor, unlinked by
    // the destructor. running_tid_ is the OS thread id while run_forever runs (else 0), written
    // by the loop's thread and read only from outside the process.
    LoopCore* debug_prev_ = nullptr;
    LoopCore* debug_next_ = nullptr;
    int running_tid_ = 0;
};

/// The loop running on this thread, or null.
inline thread_local LoopCore* running_loop = nullptr;

/// A loop callback that completions schedule at most once until it runs: a completion-based
/// backend reports inside its poll (the io_uring receive of a transport, the accepts of a
/// server), its owner records the result and calls schedule(), and the callback, in its turn
/// among the loop's callbacks, calls running() first and then handles all that was recorded.
/// `Method` is the owner's callback; bind() makes the handle (the owner outlives it or calls
/// cancel() before it goes). Loop thread only.
template <class Owner, void (Owner::*Method)()>
class CoalescedCallback {
public:
    void bind(Owner* owner) {
        auto* h = new HandleState;
        h->fn = [](void* self) { (static_cast<Owner*>(self)->*Method)(); };
        h->ctx = owner;
        handle_ = Ref<HandleState>::adopt(h);
    }
    bool bound() const noexcept { return static_cast<bool>(handle_); }
    void schedule(LoopCore& loop) noexcept {
        if (scheduled_) return;
        scheduled_ = true;
        loop.schedule_handle(handle_.get());
    }
    /// Called first by the callback: a completion from now on schedules it again.
    void running() noexcept { scheduled_ = false; }
    /// The callback will not run (its owner is going).
    void cancel() noexcept {
        if (handle_) handle_->cancel();
    }

private:
    Ref<HandleState> handle_;
    bool scheduled_ = false;
};

/// The running loop; throws std::runtime_error("no running event loop").
LoopCore& running_loop_or_throw();

/// The default exception handler's output: the context, printed to stderr.
void print_exception_context(const asyncio::ExceptionContext& context) noexcept;

/// Debug mode requested through the environment (NOGIL_ASYNCIO_DEBUG=1).
bool debug_from_environment() noexcept;

}  // namespace nogil::asyncio::detail
