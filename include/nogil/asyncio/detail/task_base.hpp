#pragma once
// The untyped task and the waiter protocol that every asyncio awaitable follows.
//
// THE WAITER PROTOCOL (see docs/asyncio-internals.md for a worked example)
//   1. await_suspend(h): task = TaskBase::current_or_throw(); register with the source (timer,
//      future, fd, a lock's queue...) so that it will call task->wake() (queue a step) or
//      task->wake_now() (step inline, from a loop callback) exactly once; then
//      task->suspend(this, h).
//   2. Waiter::cancel(msg) is called by Task::cancel(msg) while the task is suspended on it.
//      Return true if the waiter took the cancellation: it detached itself from the source,
//      will make await_resume throw CancelledError, and has called (or will cause exactly one)
//      wake. Return false if it cannot (already woken, shielded...): the task then records a
//      pending cancel that the next await_resume throws.
//   3. await_resume(): first task->throw_if_cancel_requested(), then its own outcome.
//   4. Destructor: if still registered with the source, deregister (a frame destroyed at loop
//      close must leave nothing dangling).
// Everything runs on the loop's thread; a source on another thread uses call_soon_threadsafe.
// Tests: step 2 AsyncioTask.CancelASleepingTaskRemovesTheTimerAndThrowsTheMessage; step 3
// AsyncioTask.PendingCancelIsThrownAtTheNextSuspension (tests/asyncio_task_test.cpp); step 4
// AsyncioFuture.FramesDestroyedAtCloseDetachFromTheFutureTheyAwait (tests/asyncio_future_test.cpp).

#include <nogil/asyncio/detail/future_base.hpp>
#include <nogil/asyncio/detail/introspection.hpp>
#include <nogil/asyncio/detail/promise.hpp>

#include <coroutine>
#include <cstdint>
#include <new>
#include <optional>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace nogil::asyncio::detail {

/// A suspended awaitable, as seen by the task's cancel().
class Waiter {
public:
    /// See step 2 of the protocol above. Loop thread.
    virtual bool cancel(const std::string& msg) = 0;
    /// Stops waiting without completing: the awaiting task will be stepped by its caller, and
    /// its await_resume throws the pending CancelledError. False if this waiter cannot (the
    /// task keeps waiting). Used to break an await cycle (task_base.cpp, TaskBase::cancel).
    virtual bool stop_waiting() noexcept { return false; }

protected:
    ~Waiter() = default;
};

/// A task's untyped state. It is built in front of its root coroutine frame, in the same
/// allocation (see TaskState in asyncio/coroutine.hpp): `frame_offset` bytes after `this` is
/// the frame, and the frame's promise is `promise_offset` bytes into it (two pointers: the
/// frame layout g++ and clang share; the constructor checks it).
///
/// Size: 64 bytes, so that a task and its root frame share one small block (a task whose
/// coroutine sleeps, 88 bytes of frame, fits a 160-byte heap chunk). The resume point lives in
/// the root promise's `continuation`, a slot a root frame never uses otherwise (no frame
/// awaits it); the cancel count, the name and the cancel message live in the lazily allocated
/// extras, which share one word with the done callback (see FutureBase).
class TaskBase : public FutureBase {
public:
    TaskBase(LoopCore& loop, std::size_t frame_offset, std::size_t promise_offset_found, std::string_view name);
    ~TaskBase() override;

    // --- Python's Task API -----------------------------------------------------------------
    bool cancel(std::string msg) override;
    std::uint32_t cancelling() const noexcept {
        const Extras* x = extras_if_any();
        return x ? x->num_cancels : 0;
    }
    std::uint32_t uncancel() noexcept;
    std::string get_name() const;
    void set_name(std::string name) { extras().task_name = std::move(name); }
    /// The await chain, outermost first; `limit` keeps the innermost ones (Python's get_stack).
    std::vector<FrameCallGraphEntry> get_stack(std::optional<int> limit = std::nullopt) const;
    void print_stack(std::ostream& out, std::optional<int> limit = std::nullopt) const;
    std::string describe() const override;
    /// The coroutine function's qualified name ("ns::f"); "" once finished.
    std::string coro_name() const { return frame_alive() ? frame_qualname(root_promise().where.function_name()) : ""; }

    // --- contextvars ------------------------------------------------------------------------
    /// The context the task's steps run in (Python's Task._context). Null: an empty context not
    /// built yet; the first ContextVar::set() in a step builds it and the task keeps it.
    void set_context(Ref<contextvars::detail::ContextState> context) {
        if (context) extras().context = std::move(context);
    }
    contextvars::detail::ContextState* context_if_any() const noexcept {
        const Extras* x = extras_if_any();
        return x ? x->context.get() : nullptr;
    }
    /// Python's Task.get_context(): the task's context, built (empty) if it was not yet.
    Ref<contextvars::detail::ContextState> context();

    // --- the waiter protocol ----------------------------------------------------------------
    /// The task running on this thread, or null.
    static TaskBase* current() noexcept { return current_; }
    /// The running task; throws std::runtime_error naming `what` if none.
    static TaskBase& current_or_throw(const char* what);
    /// Records where the task is suspended and on what (null: nothing to cancel, e.g. sleep(0)).
    void suspend(Waiter* waiter, std::coroutine_handle<> resume_at) noexcept {
        waiter_ = waiter;
        root_promise().continuation = resume_at;
    }
    /// The source is done: queue a step (one loop turn later, like a future's callback).
    void wake() noexcept {
        waiter_ = nullptr;
        loop().schedule_step(this);
    }
    /// The source is done and we already are in a loop callback: step now (Python's __wakeup).
    void wake_now() {
        waiter_ = nullptr;
        step();
    }
    /// Throws CancelledError if a cancel was requested that no waiter took. Called first by
    /// every await_resume after an actual suspension.
    void throw_if_cancel_requested() {
        if (derived_flags_ & must_cancel_flag) {
            derived_flags_ &= static_cast<std::uint8_t>(~must_cancel_flag);
            throw make_cancelled_error();
        }
    }

    // --- driving (the loop, create_task, Coroutine awaiters) --------------------------------
    /// Registers with the loop and queues the first step, or runs it now (eager start).
    void start(bool eager);
    /// Runs the task until its next suspension.
    void step();
    /// Sets the frame the running step loop resumes next (symmetric transfer without stack
    /// growth). One per thread: only the innermost running step loop is ever active.
    static void set_next(std::coroutine_handle<> h) noexcept { next_ = h; }
    /// Loop close: destroys a pending task's frame; the task stays pending.
    void abandon() noexcept;

    /// The frame allocator's side of the shared block: true (and the frame's size recorded)
    /// if `frame` is the root frame a task is destroying, whose memory the task frees later.
    static bool keep_frame_memory(void* frame, std::size_t size) noexcept {
        if (frame != kept_frame_) return false;
        kept_frame_ = nullptr;
        kept_frame_size_ = size;
        return true;
    }

    TaskBase* reg_prev = nullptr;  // LoopCore's registry of pending tasks
    TaskBase* reg_next = nullptr;

protected:
    /// Moves the root coroutine's value into the typed state. May throw (the value's move).
    virtual void store_result() = 0;
    /// The root frame, while it exists.
    std::coroutine_handle<> root() const noexcept {
        return std::coroutine_handle<>::from_address(const_cast<char*>(reinterpret_cast<const char*>(this)) + frame_offset());
    }
    bool frame_alive() const noexcept { return derived_flags_ & frame_alive_flag; }
    /// Destroys the root frame if it still exists; its memory stays (the task frees it).
    void destroy_frame() noexcept;
    /// Bytes of the root frame (valid once destroy_frame() ran).
    std::size_t frame_size() const noexcept { return frame_size_; }

private:
    friend struct DebugLayout;  // the call graph and `nogil ps` read the frame chain (introspection.hpp)
    void complete();
    /// contextvars' AdoptFn: keeps the context a step built (entering protocol step 2).
    static void adopt_context(void* self, contextvars::detail::ContextState* ctx) noexcept;
    static constexpr std::size_t promise_offset = 2 * sizeof(void*);
    PromiseBase& root_promise() const noexcept {
        return *std::launder(reinterpret_cast<PromiseBase*>(static_cast<char*>(root().address()) + promise_offset));
    }
    std::size_t frame_offset() const noexcept { return derived_small_; }

    bool must_cancel() const noexcept { return derived_flags_ & must_cancel_flag; }
    void set_must_cancel(bool on) noexcept {
        derived_flags_ = static_cast<std::uint8_t>(on ? derived_flags_ | must_cancel_flag : derived_flags_ & ~must_cancel_flag);
    }

    static constexpr std::uint8_t must_cancel_flag = 1;  // in FutureBase::derived_flags_
    static constexpr std::uint8_t started_flag = 2;
    static constexpr std::uint8_t frame_alive_flag = 4;
    static constexpr std::uint8_t offering_cancel_flag = 8;   // a cancel is being offered to waiter_
    static constexpr std::uint8_t cancel_came_back_flag = 16;  // ... and came back: an await cycle
    /// Step 2: offers the pending request to waiter_; true if it took it (see cancel()).
    bool offer_cancel_to_waiter();
    static inline thread_local TaskBase* current_ = nullptr;
    static inline thread_local std::coroutine_handle<> next_ = nullptr;
    static inline thread_local void* kept_frame_ = nullptr;
    static inline thread_local std::size_t kept_frame_size_ = 0;

    // Kept small on purpose (with FutureBase: 64 bytes + the value): the name and the rarely
    // used parts live in FutureBase's lazily allocated extras.
    Waiter* waiter_ = nullptr;
    std::uint32_t id_;
    std::uint32_t frame_size_ = 0;
};

}  // namespace nogil::asyncio::detail
