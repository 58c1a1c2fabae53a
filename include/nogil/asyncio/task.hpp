#pragma once
// asyncio::Task<T>: a Coroutine scheduled on the loop (Python's asyncio.Task), and
// create_task / current_task / all_tasks.
//
// A Task is a shared handle: copies refer to one task. The loop holds every pending task, so
// a task nobody references keeps running until it is done. Task<T> converts to Task<> (the
// untyped handle current_task() and all_tasks() return).
//
// Awaiting a task suspends the awaiting task until it is done; the awaiting task is resumed by
// the loop one turn after completion, with a copy of the value, the exception (same type) or
// CancelledError. Cancelling the awaiting task cancels the awaited task too (Python's rule);
// if that task swallows the cancellation and returns a value, the awaiter gets the value.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/detail/asyncio_future_awaiter.hpp>
#include <nogil/detail/asyncio_task_base.hpp>

#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nogil::detail::aio {

template <class T>
struct TaskValue {
    std::optional<T> value;
};
template <>
struct TaskValue<void> {};

template <class T>
class TaskState final : public TaskBase {
public:
    using handle_type = typename asyncio::Coroutine<T>::handle_type;
    TaskState(LoopCore& loop, handle_type h, std::string name) : TaskBase(loop, h, h.promise(), std::move(name)) {}
    decltype(auto) value() const {
        check_result();
        if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*slot_.value);
    }
    T take_value() {
        check_result();
        if constexpr (!std::is_void_v<T>) return std::move(*slot_.value);
    }

private:
    void store_result() override {
        // Runs before the frame is destroyed, so root() is still valid.
        if constexpr (!std::is_void_v<T>) slot_.value.emplace(handle_type::from_address(root().address()).promise().take());
    }
    [[no_unique_address]] TaskValue<T> slot_;
};

}  // namespace nogil::detail::aio

namespace nogil::asyncio {

/// Options of create_task. `eager_start` runs the coroutine at once, inside create_task, up to
/// its first suspension (Python 3.12's eager task factory); a task that finishes there is done
/// when create_task returns. The name is copied; a string_view because g++ 12 relocates
/// temporaries of a co_await expression bitwise, which corrupts a small std::string.
struct TaskOptions {
    std::string_view name{};
    bool eager_start{false};
};

template <class T = void>
class Task;

/// The untyped task handle: everything but the value.
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
    /// Prints the await chain (coroutine function names, file, line), outermost first.
    void print_stack(std::ostream& out = std::cerr) const { state_->print_stack(out); }
    /// fn(task) is scheduled with call_soon once the task is done (at once if it is).
    std::uint64_t add_done_callback(std::function<void(Task<>)> fn) const {
        return state_->add_done_callback([fn = std::move(fn)](detail::FutureBase& f) {
            fn(Task<>(detail::Ref<detail::TaskBase>(static_cast<detail::TaskBase*>(&f))));
        });
    }
    /// Removes a callback not yet scheduled; returns the number removed.
    std::size_t remove_done_callback(std::uint64_t id) const { return state_->remove_done_callback(id); }
    EventLoop& get_loop() const { return *state_->loop().owner(); }
    /// Waits for the task; see the header comment.
    auto operator co_await() const noexcept { return detail::FutureAwaiter<detail::TaskBase, void>(state_); }
    friend bool operator==(const Task& a, const Task& b) noexcept { return a.state_ == b.state_; }

    /// The machinery; not part of the public API.
    explicit Task(detail::Ref<detail::TaskBase> s) noexcept : state_(std::move(s)) {}
    detail::TaskBase* state() const noexcept { return state_.get(); }

protected:
    detail::Ref<detail::TaskBase> state_;
};

template <class T>
class Task : public Task<void> {
public:
    Task() noexcept = default;
    /// The value; throws InvalidStateError if pending, CancelledError if cancelled, or the
    /// coroutine's exception.
    const T& result() const { return typed().value(); }
    /// Waits for the task; see the header comment.
    auto operator co_await() const noexcept {
        return detail::FutureAwaiter<detail::TaskState<T>, T>(detail::Ref<detail::TaskState<T>>(&typed()));
    }

    /// The machinery; not part of the public API.
    explicit Task(detail::Ref<detail::TaskState<T>> s) noexcept : Task<void>(detail::Ref<detail::TaskBase>(std::move(s))) {}
    detail::TaskState<T>& typed() const noexcept { return static_cast<detail::TaskState<T>&>(*state_); }
};

namespace detail_task {
template <class T>
Task<T> make_task(nogil::detail::aio::LoopCore& loop, Coroutine<T>& coro, TaskOptions& options) {
    loop.check_thread();
    if (loop.is_closed()) throw std::runtime_error("Event loop is closed");
    auto handle = nogil::detail::aio::CoroutineAccess::release(coro);
    nogil::detail::aio::TaskState<T>* state;
    try {
        state = new nogil::detail::aio::TaskState<T>(loop, handle, std::string(options.name));
    } catch (...) {
        handle.destroy();
        throw;
    }
    Task<T> task(nogil::detail::aio::Ref<nogil::detail::aio::TaskState<T>>::adopt(state));
    state->start(options.eager_start);
    return task;
}
}  // namespace detail_task

/// Schedules `coro` on the running loop (throws std::runtime_error("no running event loop")).
template <class T>
Task<T> create_task(Coroutine<T> coro, TaskOptions options = {}) {
    return detail_task::make_task(detail::running_loop_or_throw(), coro, options);
}
/// Same, with a name (Python's create_task(coro, name=...)); the name is copied.
template <class T>
Task<T> create_task(Coroutine<T> coro, std::string_view name) {
    TaskOptions options{name, false};
    return detail_task::make_task(detail::running_loop_or_throw(), coro, options);
}

/// The task running on this thread, or nullopt outside of a task.
inline std::optional<Task<>> current_task() {
    if (auto* t = detail::TaskBase::current()) return Task<>(detail::Ref<detail::TaskBase>(t));
    return std::nullopt;
}

/// The running loop's pending tasks, in creation order. Throws if no loop runs.
inline std::vector<Task<>> all_tasks() {
    std::vector<Task<>> out;
    for (auto& t : detail::running_loop_or_throw().tasks()) out.emplace_back(std::move(t));
    return out;
}

template <class T>
Task<T> EventLoop::create_task(Coroutine<T> coro, std::string_view name) {
    TaskOptions options{name, false};
    return detail_task::make_task(*core_, coro, options);
}

namespace detail_task {
inline void stop_loop(void* core, nogil::detail::aio::FutureBase&) { static_cast<nogil::detail::aio::LoopCore*>(core)->stop(); }

/// Runs the loop until `fut` is done (Python's run_until_complete without the result).
inline void run_until_done(nogil::detail::aio::LoopCore& core, nogil::detail::aio::FutureBase& fut) {
    fut.add_callback(&stop_loop, &core);
    try {
        core.run_forever();
    } catch (...) {
        fut.remove_callback(&stop_loop, &core);
        throw;
    }
    fut.remove_callback(&stop_loop, &core);
    if (!fut.done()) throw std::runtime_error("Event loop stopped before Future completed.");
}
}  // namespace detail_task

template <class Awaitable>
auto EventLoop::run_until_complete(Awaitable aw) {
    if constexpr (detail::is_coroutine<Awaitable>::value) {
        TaskOptions options;
        auto task = detail_task::make_task(*core_, aw, options);
        detail_task::run_until_done(*core_, *task.state());
        if constexpr (std::is_void_v<typename Awaitable::value_type>)
            task.result();
        else
            return task.typed().take_value();
    } else {
        detail_task::run_until_done(*core_, *aw.state());
        if constexpr (std::is_void_v<decltype(aw.result())>)
            aw.result();
        else
            return std::decay_t<decltype(aw.result())>(aw.result());
    }
}

}  // namespace nogil::asyncio
