#pragma once
// asyncio::Task<T>: a Coroutine scheduled on the loop (Python's asyncio.Task), and
// create_task / current_task / all_tasks.
//
// A Task is a shared handle: copies refer to one task. The loop holds every pending task, so
// a task nobody references keeps running until it is done. Task<T> converts to Task<> (the
// untyped handle current_task() and all_tasks() return).
//
// Awaiting a task suspends the awaiting task until it is done; the awaiting task is resumed by
// the loop one turn after completion, with the value, the exception (same type) or
// CancelledError. Cancelling the awaiting task cancels the awaited task too (Python's rule);
// if that task swallows the cancellation and returns a value, the awaiter gets the value.
//
// The value, and move-only results (the shared-handle rule of cppcoro's shared_task and
// concurrencpp's shared_result, with a move for the rvalue case):
//   T v = co_await task;              // an lvalue handle: a copy (other handles still see it)
//   T v = co_await std::move(task);   // an rvalue (or a temporary, co_await create_task(f())):
//                                     // the value is moved out of the task
//   const T& r = task.result();       // a reference into the task, once done
//   T v = std::move(task).result();   // moved out
// For a move-only T (std::unique_ptr...), `co_await task` on an lvalue does not compile (a
// static_assert says to write co_await std::move(task)): a copy is impossible, and handing out
// a reference across a suspension would let the value die under the awaiter. After a move,
// every handle to that task sees the moved-from value. gather() moves move-only results out of
// its children (it consumes them) and copies copyable ones.
//
// "Task exception was never retrieved": a task that ended with an exception (not a
// cancellation), destroyed - the last handle and the loop's reference gone - without anyone
// having retrieved it (result(), exception(), an await, gather, TaskGroup, wait...) is reported
// through the loop's exception handler (stderr if the loop is closed), as in Python.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/detail/future_awaiter.hpp>
#include <nogil/asyncio/detail/task_base.hpp>
#include <nogil/contextvars/context.hpp>

#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nogil::asyncio {

/// Options of create_task. `eager_start` runs the coroutine at once, inside create_task, up to
/// its first suspension (Python 3.12's eager task factory); a task that finishes there is done
/// when create_task returns. As in Python, only on a running loop: otherwise (a task created
/// before run_until_complete) the first step is scheduled. The name is copied; a string_view because g++ 12 relocates
/// temporaries of a co_await expression bitwise, which corrupts a small std::string.
///
/// `context`: the contextvars::Context the task runs in (Python's create_task(context=ctx) is
/// `{.context = &ctx}`; the task shares it, the pointer need not outlive the call); the task's
/// ContextVar::set() calls change it. Without one, the task runs in a copy of the current context,
/// taken here (so a variable set before create_task is seen by the task, and what the task sets
/// is seen by no one else). A pointer for the name's reason: the options stay trivially copyable.
struct TaskOptions {
    std::string_view name{};
    bool eager_start{false};
    const contextvars::Context* context{nullptr};
};
static_assert(std::is_trivially_copyable_v<TaskOptions>, "TaskOptions travels through co_await expressions (g++ 12)");

template <class T = void>
class Task;

/// The untyped task handle: everything but the value.
/// Thread safety: loop thread only, as Task<T> (below).
template <>
class Task<void> {
public:
    /// An empty handle (refers to no task).
    Task() noexcept = default;
    explicit operator bool() const noexcept { return bool(state_); }

    /// Requests cancellation (Python's Task.cancel, see docs/asyncio-cancellation.md): false if
    /// the task is done; else the awaitable it is suspended on is cancelled (a sleep's timer
    /// removed, an awaited future or task cancelled) and CancelledError(msg) is thrown from
    /// that co_await, or at its next one if it is not suspended.
    bool cancel(std::string msg = {}) const { return state_->cancel(std::move(msg)); }
    bool cancelled() const noexcept { return state_->cancelled(); }
    bool done() const noexcept { return state_->done(); }
    /// Re-throws the task's exception; InvalidStateError if pending, CancelledError if cancelled.
    void result() const { state_->check_result(); }
    /// Null on success; throws CancelledError if cancelled, InvalidStateError if pending.
    std::exception_ptr exception() const { return state_->exception(); }
    /// Number of pending cancel() requests (Python 3.11).
    std::uint32_t cancelling() const noexcept { return state_->cancelling(); }
    /// Takes one cancel request back; at zero a not yet delivered one is dropped. Returns the rest.
    std::uint32_t uncancel() const noexcept { return state_->uncancel(); }
    /// "Task-N" unless set.
    std::string get_name() const { return state_->get_name(); }
    void set_name(std::string name) const { state_->set_name(std::move(name)); }
    /// The await chain: each Coroutine frame's function, file and the line of the co_await it
    /// is suspended at, outermost first; `limit` keeps the innermost ones (Python's get_stack;
    /// Python shows one frame per coroutine, the whole chain is what C++ can offer instead).
    std::vector<FrameCallGraphEntry> get_stack(std::optional<int> limit = std::nullopt) const {
        return state_->get_stack(limit);
    }
    /// Prints get_stack() in Python's traceback layout (Python's print_stack; stderr by default).
    void print_stack(std::ostream& out = std::cerr, std::optional<int> limit = std::nullopt) const {
        state_->print_stack(out, limit);
    }
    /// fn(task) is scheduled with call_soon once the task is done (at once if it is).
    std::uint64_t add_done_callback(std::function<void(Task<>)> fn) const {
        return state_->add_done_callback([fn = std::move(fn)](detail::FutureBase& f) {
            fn(Task<>(detail::Ref<detail::TaskBase>(static_cast<detail::TaskBase*>(&f))));
        });
    }
    /// Removes a callback not yet scheduled; returns the number removed.
    std::size_t remove_done_callback(std::uint64_t id) const { return state_->remove_done_callback(id); }
    EventLoop& get_loop() const { return *state_->loop().owner(); }
    /// The contextvars::Context the task runs in (Python 3.12's Task.get_context()).
    contextvars::Context get_context() const { return contextvars::Context(state_->context()); }
    /// Waits for the task; see the header comment.
    auto operator co_await() const noexcept { return detail::FutureAwaiter<detail::TaskBase, void>(state_); }
    friend bool operator==(const Task& a, const Task& b) noexcept { return a.state_ == b.state_; }

    /// The machinery; not part of the public API.
    explicit Task(detail::Ref<detail::TaskBase> s) noexcept : state_(std::move(s)) {}
    detail::TaskBase* state() const noexcept { return state_.get(); }

protected:
    detail::Ref<detail::TaskBase> state_;
};

/// Thread safety: asyncio::Task members are for the loop's thread; cancel() from another thread
/// goes through loop.call_soon_threadsafe(). The coroutine and the done callbacks (queued, never
/// inline) run on the loop's thread.
template <class T>
class Task : public Task<void> {
public:
    Task() noexcept = default;
    /// The value (a reference into the task); throws InvalidStateError if pending,
    /// CancelledError if cancelled, or the coroutine's exception.
    const T& result() const& { return typed().value(); }
    /// Same, moving the value out of the task (other handles then see a moved-from value).
    T result() && { return typed().take_value(); }
    /// Waits for the task and copies the value; see the header comment.
    detail::FutureAwaiter<detail::TaskState<T>, T, false> operator co_await() const& noexcept {
        static_assert(std::is_copy_constructible_v<T>,
                      "co_await on a Task<T> lvalue copies the result, and T is move-only: write "
                      "co_await std::move(task) to move the result out");
        return detail::FutureAwaiter<detail::TaskState<T>, T, false>(detail::Ref<detail::TaskState<T>>(&typed()));
    }
    /// Waits for the task and moves the value out of it; see the header comment.
    detail::FutureAwaiter<detail::TaskState<T>, T, true> operator co_await() && noexcept {
        return detail::FutureAwaiter<detail::TaskState<T>, T, true>(detail::Ref<detail::TaskState<T>>(&typed()));
    }

    /// The machinery; not part of the public API.
    explicit Task(detail::Ref<detail::TaskState<T>> s) noexcept : Task<void>(detail::Ref<detail::TaskBase>(std::move(s))) {}
    detail::TaskState<T>& typed() const noexcept { return static_cast<detail::TaskState<T>&>(*state_); }
};

/// What a task factory (EventLoop::set_task_factory) receives: make(options) builds the task
/// create_task was asked for, with these options (the factory's changes applied). Call it once;
/// the factory must return the task it built (a C++ create_task returns Task<T> of the
/// coroutine's T, so a factory cannot substitute a task of its own: create_task throws
/// std::logic_error - Python's TypeError - if it tries).
class TaskMaker {
public:
    Task<> operator()(TaskOptions options) const { return make_(self_, options); }

    /// The machinery; not part of the public API.
    TaskMaker(Task<> (*make)(void*, TaskOptions), void* self) noexcept : make_(make), self_(self) {}

private:
    Task<> (*make_)(void*, TaskOptions);
    void* self_;
};

/// Python 3.12's asyncio.eager_task_factory: every task starts eagerly (TaskOptions::eager_start).
inline Task<> eager_task_factory(EventLoop&, const TaskMaker& make, TaskOptions options) {
    options.eager_start = true;
    return make(options);
}

namespace detail {
template <class T>
Task<T> make_task_now(nogil::asyncio::detail::LoopCore& loop, Coroutine<T>& coro, TaskOptions& options);

/// Every create_task comes here: through the loop's task factory if one is set.
template <class T>
Task<T> make_task(nogil::asyncio::detail::LoopCore& loop, Coroutine<T>& coro, TaskOptions& options) {
    loop.check_thread();
    loop.check_open();
    EventLoop* owner = loop.owner();
    if (!owner || !owner->get_task_factory()) return make_task_now(loop, coro, options);
    struct Maker {
        nogil::asyncio::detail::LoopCore& loop;
        Coroutine<T>& coro;
        Task<T> made;
        static Task<> make(void* self, TaskOptions o) {
            auto& m = *static_cast<Maker*>(self);
            if (m.made) throw std::logic_error("a task factory's make() was called twice");
            m.made = make_task_now(m.loop, m.coro, o);
            return m.made;
        }
    } maker{loop, coro, {}};
    Task<> returned = owner->get_task_factory()(*owner, TaskMaker(&Maker::make, &maker), options);
    if (!maker.made || !(returned == maker.made))
        throw std::logic_error("a task factory must return the task its make() built");
    return std::move(maker.made);
}

template <class T>
Task<T> make_task_now(nogil::asyncio::detail::LoopCore& loop, Coroutine<T>& coro, TaskOptions& options) {
    auto handle = nogil::asyncio::detail::CoroutineAccess::release(coro);
    auto* state = nogil::asyncio::detail::make_task_state<T>(loop, handle, options.name);
    Task<T> task(nogil::asyncio::detail::Ref<nogil::asyncio::detail::TaskState<T>>::adopt(state));
    state->set_context(options.context
                           ? nogil::asyncio::detail::Ref<contextvars::detail::ContextState>(options.context->state())
                           : nogil::asyncio::detail::Ref<contextvars::detail::ContextState>::adopt(
                                 contextvars::detail::copy_current_or_null()));
    state->start(options.eager_start);
    return task;
}
}  // namespace detail

/// Schedules `coro` on the running loop (throws std::runtime_error("no running event loop")).
template <class T>
Task<T> create_task(Coroutine<T> coro, TaskOptions options = {}) {
    return detail::make_task(detail::running_loop_or_throw(), coro, options);
}
/// Same, with a name (Python's create_task(coro, name=...)); the name is copied.
template <class T>
Task<T> create_task(Coroutine<T> coro, std::string_view name) {
    TaskOptions options{name, false, nullptr};
    return detail::make_task(detail::running_loop_or_throw(), coro, options);
}

/// The task running on this thread, or nullopt if none (a loop callback); throws
/// std::runtime_error("no running event loop") if no loop runs here, as Python's current_task().
inline std::optional<Task<>> current_task() {
    (void)detail::running_loop_or_throw();
    if (auto* t = detail::TaskBase::current()) return Task<>(detail::Ref<detail::TaskBase>(t));
    return std::nullopt;
}

/// The running loop's pending tasks, in creation order. Throws if no loop runs.
inline std::vector<Task<>> all_tasks() {
    std::vector<Task<>> out;
    for (auto& t : detail::running_loop_or_throw().tasks()) out.emplace_back(std::move(t));
    return out;
}

/// `loop`'s pending tasks, in creation order, from any thread (Python's all_tasks(loop)). From
/// another thread while the loop runs, the list is taken on the loop's thread (a callback
/// queued with call_soon_threadsafe): the call waits for the loop's next turn, so a loop that
/// is blocked blocks it too (`nogil ps PID` reads such a loop from outside). A loop closed
/// meanwhile gives an empty list.
std::vector<Task<>> all_tasks(EventLoop& loop);

template <class T>
Task<T> EventLoop::create_task(Coroutine<T> coro, TaskOptions options) {
    return detail::make_task(*core_, coro, options);
}

template <class T>
Task<T> EventLoop::create_task(Coroutine<T> coro, std::string_view name) {
    TaskOptions options{name, false, nullptr};
    return detail::make_task(*core_, coro, options);
}

namespace detail {
/// Python's _run_until_complete_cb. A future that ended with KeyboardInterrupt/SystemExit
/// already left run_forever() by throwing it (issue #22429): stopping now would stop the
/// loop's *next* run instead.
inline void stop_loop(void* core, nogil::asyncio::detail::FutureBase& fut) {
    if (!fut.cancelled() && is_exit_exception(fut.peek_exception())) return;
    static_cast<nogil::asyncio::detail::LoopCore*>(core)->stop();
}

/// Runs the loop until `fut` is done (Python's run_until_complete without the result).
inline void run_until_done(nogil::asyncio::detail::LoopCore& core, nogil::asyncio::detail::FutureBase& fut) {
    const nogil::asyncio::detail::DoneLink link{&stop_loop, &core};
    fut.add_callback(link);
    try {
        core.run_forever();
    } catch (...) {
        fut.remove_callback(link);
        throw;
    }
    fut.remove_callback(link);
    if (!fut.done()) throw std::runtime_error("Event loop stopped before Future completed.");
}
}  // namespace detail

template <class Awaitable>
auto EventLoop::run_until_complete(Awaitable aw) {
    if constexpr (detail::is_coroutine<Awaitable>::value) {
        TaskOptions options;
        auto task = detail::make_task(*core_, aw, options);
        detail::run_until_done(*core_, *task.state());
        if constexpr (std::is_void_v<typename Awaitable::value_type>)
            task.result();
        else
            return task.typed().take_value();
    } else {
        detail::run_until_done(*core_, *aw.state());
        if constexpr (std::is_void_v<decltype(aw.result())>)
            aw.result();
        else if constexpr (std::is_copy_constructible_v<std::decay_t<decltype(aw.result())>>)
            return std::decay_t<decltype(aw.result())>(aw.result());
        else
            return std::move(aw).result();
    }
}

}  // namespace nogil::asyncio
