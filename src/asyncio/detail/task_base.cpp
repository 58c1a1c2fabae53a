// Task stepping and cancellation.
//
// Cancellation protocol (Python's Task.cancel, step by step):
//   1. cancel(msg) on a done task returns false.
//   2. Otherwise it counts the request (cancelling()) and offers it to the waiter the task is
//      suspended on. A waiter that takes it detaches and wakes the task, whose co_await then
//      throws CancelledError(msg) (for an awaited task or future: that one is cancelled, and
//      its completion wakes us).
//   3. If there is no waiter, or it cannot take it, the request is remembered (must_cancel)
//      and the next await_resume throws it; a task that never started is finished as
//      cancelled without running any of its code.
//   4. A coroutine that ends with CancelledError makes the task cancelled; one that returns
//      while a request is pending is cancelled too (the value is dropped), as in Python.
//   5. uncancel() takes one request back; at zero a pending request is dropped.
// Each step is pinned by a test in tests/asyncio_task_test.cpp that names it: step 1
// CancelASleepingTaskRemovesTheTimerAndThrowsTheMessage; step 2 the same and
// CancellingATaskCancelsTheTaskItAwaits; step 3 PendingCancelIsThrownAtTheNextSuspension and
// CancelBeforeItStartsRunsNoneOfItsCode; step 4 ATaskMayCatchCancellationAndGoOn and
// CancelRequestedAfterTheLastSuspensionCancelsTheTask; step 5 UncancelAtZeroDropsAPendingCancel.
// The task's flag bits are mapped in one place: include/nogil/asyncio/detail/future_base.hpp.
#include <nogil/asyncio/detail/task_base.hpp>

#include <nogil/asyncio/event_loop.hpp>

#include <algorithm>
#include <atomic>
#include <ostream>
#include <sstream>

namespace nogil::asyncio::detail {

namespace {
std::atomic<std::uint32_t> task_counter{0};
}

// The layout the memory figures rest on (docs/asyncio-internals.md): a task's untyped state is
// 64 bytes on 64-bit targets, so a void task whose coroutine frame is up to 88 bytes fits a
// 160-byte heap chunk.
static_assert(sizeof(void*) != 8 || sizeof(TaskBase) == 64, "TaskBase grew: see docs/asyncio-internals.md");

TaskBase::TaskBase(LoopCore& loop, std::size_t frame_offset, std::size_t promise_offset_found, std::string_view name)
    : FutureBase(loop), id_(task_counter.fetch_add(1, std::memory_order_relaxed) + 1) {
    if (promise_offset_found != promise_offset)
        throw std::logic_error("nogil::asyncio: unexpected coroutine frame layout (promise not after two pointers)");
    if (frame_offset > 0xffff) throw std::logic_error("nogil::asyncio: a task's value type is too large (over 64 KiB)");
    derived_small_ = static_cast<std::uint16_t>(frame_offset);
    derived_flags_ |= frame_alive_flag;
    if (!name.empty()) extras().task_name = std::string(name);
}

TaskBase::~TaskBase() { destroy_frame(); }

void TaskBase::destroy_frame() noexcept {
    if (!frame_alive()) return;
    derived_flags_ &= static_cast<std::uint8_t>(~frame_alive_flag);
    // The frame's operator delete sees this address and leaves the block to us. Destroying a
    // frame may destroy other tasks' frames (its locals): save and restore the mark.
    void* frame = root().address();
    void* outer = std::exchange(kept_frame_, frame);
    root().destroy();
    kept_frame_ = outer;
    frame_size_ = static_cast<std::uint32_t>(kept_frame_size_);
}

TaskBase& TaskBase::current_or_throw(const char* what) {
    if (!current_)
        throw std::runtime_error(std::string(what) + " must be awaited inside a task running on an event loop");
    return *current_;
}

std::string TaskBase::get_name() const {
    const Extras* x = extras_if_any();
    return x && !x->task_name.empty() ? x->task_name : "Task-" + std::to_string(id_);
}

std::string TaskBase::describe() const {
    std::string s = "<Task ";
    s += !done() ? "pending" : cancelled() ? "cancelled" : "finished";
    s += " name='" + get_name() + "'";
    if (frame_alive()) s += std::string(" coro=<") + coro_name() + ">";
    if (done() && !cancelled() && peek_exception()) s += " exception";
    return s + ">";
}

std::vector<FrameCallGraphEntry> TaskBase::get_stack(std::optional<int> limit) const {
    std::vector<FrameCallGraphEntry> stack;
    if (!frame_alive()) return stack;
    // From the innermost frame (the running one, or the resume point) out to the root.
    const LoopCore& core = loop();
    void* root_frame = root().address();
    void* frame = core.running_task == this ? core.running_frame : root_promise().continuation.address();
    if (!frame) frame = root_frame;  // not started yet
    for (;;) {
        const auto* p = std::launder(reinterpret_cast<const PromiseBase*>(static_cast<char*>(frame) + promise_offset));
        stack.push_back({frame_qualname(p->where.function_name()), p->where.file_name(), p->where.line(), true});
        if (frame == root_frame || !p->continuation) break;
        frame = p->continuation.address();
    }
    std::reverse(stack.begin(), stack.end());  // outermost first
    if (limit && *limit >= 0 && static_cast<std::size_t>(*limit) < stack.size())
        stack.erase(stack.begin(), stack.end() - *limit);  // the newest frames stay
    return stack;
}

// Python's base_tasks._task_print_stack: a header, then traceback.print_list's lines.
void TaskBase::print_stack(std::ostream& out, std::optional<int> limit) const {
    std::ostringstream s;
    const auto stack = get_stack(limit);
    if (stack.empty())
        s << "No stack for " << describe() << "\n";
    else if (done() && !cancelled() && peek_exception())
        s << "Traceback for " << describe() << " (most recent call last):\n";
    else
        s << "Stack for " << describe() << " (most recent call last):\n";
    for (const auto& f : stack) s << "  File \"" << f.file << "\", line " << f.line << ", in " << f.function << "\n";
    out << s.str();
}

bool TaskBase::cancel(std::string msg) {
    (void)stored_exception();  // Python's cancel() clears _log_traceback first, even when done
    if (done()) return false;
    if (derived_flags_ & offering_cancel_flag) {
        // The request this task is offering to its waiter came back to it: the task awaits
        // (through others) itself. It is the same request, not a new one: not counted again.
        // Taken: the outer call delivers it to this task (offer_cancel_to_waiter), so the task
        // awaiting this one sees this one's outcome, as for any awaited task that took a cancel.
        derived_flags_ |= cancel_came_back_flag;
        return true;
    }
    ++extras().num_cancels;
    set_cancel_message(std::move(msg));
    if (offer_cancel_to_waiter()) return true;
    set_must_cancel(true);
    return true;
}

// An await cycle (A awaits B, B awaits A; or through gather, wait_for, ...): every task of it
// waits for the next one, so none would ever complete, and offering the request around it
// would never end (Python's Task.cancel recurses until RecursionError: CPython gh-80637).
// Here the request goes around once (every task of the cycle counts one cancel request), and
// the task where cancel() was called stops waiting and is stepped, so that its await throws
// CancelledError: the cycle is broken there, and the others see its outcome in turn.
bool TaskBase::offer_cancel_to_waiter() {
    if (!waiter_) return false;
    Waiter* waiter = waiter_;
    struct Offering {
        std::uint8_t& flags;
        explicit Offering(std::uint8_t& f) : flags(f) { flags |= offering_cancel_flag; }
        ~Offering() { flags &= static_cast<std::uint8_t>(~(offering_cancel_flag | cancel_came_back_flag)); }
    } offering(derived_flags_);
    const bool taken = waiter->cancel(cancel_message());
    if (!(derived_flags_ & cancel_came_back_flag) || waiter_ != waiter) return taken;
    // A waiter that cannot be left (or whose wake-up is already on its way) keeps the task
    // waiting; false makes the caller set must_cancel, so that the next step throws, as Python's
    // Task does when its _fut_waiter refuses the cancel.
    if (!waiter->stop_waiting()) return false;
    wake();  // the step throws the pending cancel (the caller keeps must_cancel set: false)
    return false;
}

std::uint32_t TaskBase::uncancel() noexcept {
    Extras* x = extras_if_any();
    if (!x) return 0;
    if (x->num_cancels > 0 && --x->num_cancels == 0) set_must_cancel(false);
    return x->num_cancels;
}

void TaskBase::start(bool eager) {
    loop().register_task(*this);
    // Python's Task: the eager step is taken only if the loop is running (here, on this thread);
    // otherwise the first step is scheduled as usual (run_until_complete's task under
    // eager_task_factory).
    if (eager && running_loop == &loop())
        step();
    else
        loop().schedule_step(this);
}

Ref<contextvars::detail::ContextState> TaskBase::context() {
    Extras& x = extras();
    if (!x.context) x.context = Ref<contextvars::detail::ContextState>::adopt(new contextvars::detail::ContextState);
    return x.context;
}

void TaskBase::adopt_context(void* self, contextvars::detail::ContextState* ctx) noexcept {
    static_cast<TaskBase*>(self)->extras().context = Ref<contextvars::detail::ContextState>(ctx);
}

void TaskBase::step() {
    if (done() || !frame_alive()) return;
    // Each step runs in the task's context (Python's call_soon(self.__step, context=...)). A
    // context another task or thread is inside cannot be entered: the task fails with that
    // RuntimeError (Python reports the step to the exception handler and leaves the task
    // pending forever, so that awaiting it, or asyncio.run's shutdown, hangs: docs/fidelity.md).
    contextvars::detail::Frame context_frame;
    try {
        contextvars::detail::push(context_frame, context_if_any(), &adopt_context, this);
    } catch (const std::runtime_error&) {
        destroy_frame();
        Ref<TaskBase> keep(this);
        set_exception(std::current_exception());
        loop().unregister_task(*this);
        return;
    }
    struct LeaveContext {
        contextvars::detail::Frame& frame;
        ~LeaveContext() { contextvars::detail::pop(frame); }
    } leave_context{context_frame};
    if (!(derived_flags_ & started_flag)) {
        derived_flags_ |= started_flag;
        if (must_cancel()) {  // cancelled before it ran: none of its code runs
            set_must_cancel(false);
            destroy_frame();
            Ref<TaskBase> keep(this);
            cancel_future(cancel_message());
            loop().unregister_task(*this);
            return;
        }
        next_ = root();
    } else {
        next_ = std::exchange(root_promise().continuation, nullptr);
    }
    TaskBase* previous = std::exchange(current_, this);
    LoopCore& core = loop();
    TaskBase* previous_task = std::exchange(core.running_task, this);
    void* previous_frame = core.running_frame;
    // The trampoline: Coroutine awaits and returns set next_ instead of resuming each other,
    // so a chain of any depth runs in constant stack. An eager task started inside resume()
    // runs its own loop to the end, leaving next_ empty again, before this loop continues.
    // The loop notes which frame runs: the innermost one, where get_stack() starts.
    while (next_) {
        std::coroutine_handle<> h = std::exchange(next_, nullptr);
        core.running_frame = h.address();
        h.resume();
    }
    core.running_frame = previous_frame;
    core.running_task = previous_task;
    current_ = previous;
    if (!frame_alive()) return;
    if (root().done()) {
        complete();
        return;
    }
    // Step 2 for a task that cancelled itself (or was cancelled while it ran): the request goes
    // to the awaitable it has just suspended on, so that very await throws CancelledError
    // (Python's __step: `if self._must_cancel: self._fut_waiter.cancel(...)`).
    if (must_cancel() && offer_cancel_to_waiter()) set_must_cancel(false);
}

void TaskBase::complete() {
    std::exception_ptr e = root_promise().exception;
    bool cancelled_by_coro = false;
    std::string msg;
    if (!e && !must_cancel()) {
        try {
            store_result();
        } catch (...) {
            e = std::current_exception();
        }
    }
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const CancelledError& c) {
            cancelled_by_coro = true;
            msg = c.message();
        } catch (...) {
        }
    }
    destroy_frame();
    Ref<TaskBase> keep(this);
    if (cancelled_by_coro) {
        cancel_future(std::move(msg), e);  // awaiters see the very CancelledError it raised
    } else if (e) {
        set_exception(e);
    } else if (must_cancel()) {  // a cancel arrived after the last suspension: the value is dropped
        set_must_cancel(false);
        cancel_future(cancel_message());
    } else {
        finish();
    }
    loop().unregister_task(*this);
    // KeyboardInterrupt and SystemExit are not a task's failure: stored as its outcome, they
    // also leave the event loop from here (Python's __step re-raises them), so run() and
    // run_until_complete() throw them bare.
    if (e && is_exit_exception(e)) {
        (void)stored_exception();  // re-thrown here: not "never retrieved"
        std::rethrow_exception(e);
    }
}

void TaskBase::abandon() noexcept {
    waiter_ = nullptr;
    destroy_frame();  // its awaiter drops the callbacks of the future it awaited (close step 4)
    drop_callbacks();
}

}  // namespace nogil::asyncio::detail
