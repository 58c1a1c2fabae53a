#pragma once
// asyncio::Coroutine<T>: what an `async def f() -> T` is in nogil. A function returning
// Coroutine<T> and using co_await/co_return is a coroutine; calling it runs nothing (lazy).
//
//   asyncio::Coroutine<int> answer() { co_await asyncio::sleep(0); co_return 42; }
//
// `co_await answer()` runs it inline in the awaiting task, and resumes the awaiting frame when
// it returns, with its value or its exception (same type). Awaiting goes through the task's
// step loop (a trampoline) instead of resuming frames from each other, so a chain of a million
// nested awaits runs in constant stack. A Coroutine can also become a task (create_task).
//
// Frames come from the recycling allocator (detail/frame_allocator.hpp), each with room
// in front of it for the state of a Task (detail::TaskState<T>, about 100 bytes): a coroutine
// that becomes a task needs no second allocation, at the price of that room in frames that are
// only awaited (they are short-lived: an awaited frame dies when it returns). Each frame
// records a std::source_location (8 bytes): its function's and then that of the co_await it
// last suspended at, noted by the awaiter's await_suspend (detail::note_suspension; not with
// NOGIL_AWAIT_LINES=OFF) - the function name, file and line for print_stack(),
// capture_call_graph() and `nogil ps`. A Coroutine destroyed without ever being awaited or scheduled is reported in
// debug mode ("coroutine '...' was never awaited").

#include <nogil/asyncio/detail/frame_allocator.hpp>
#include <nogil/asyncio/detail/promise.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <new>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

namespace nogil::asyncio {
template <class T = void>
class Coroutine;
}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

/// Reports a never-awaited coroutine when debug mode is on (via the running loop's exception
/// handler, or stderr when no loop runs and NOGIL_ASYNCIO_DEBUG is set).
void report_never_awaited(const char* name) noexcept;

template <class T>
struct PromiseValue : PromiseBase {
    std::optional<T> value;
    template <class U = T>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() { return std::move(*value); }
};
template <>
struct PromiseValue<void> : PromiseBase {
    void return_void() noexcept {}
    void take() noexcept {}
};

/// Ends a frame: hands control to the awaiting frame through the task's trampoline.
struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
        TaskBase::set_next(h.promise().continuation);
    }
    void await_resume() const noexcept {}
};

struct CoroutineAccess;

template <class T>
class TaskState;
/// The room in front of every Coroutine<T> frame: a TaskState<T>, rounded to the alignment
/// operator new guarantees (frames may hold over-aligned locals up to that).
template <class T>
constexpr std::size_t task_header_size() noexcept {
    constexpr std::size_t a = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
    static_assert(alignof(TaskState<T>) <= a, "Coroutine<T>: T must not be over-aligned");
    return (sizeof(TaskState<T>) + a - 1) / a * a;
}
}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

template <class T>
class [[nodiscard]] Coroutine {
    static_assert(!std::is_reference_v<T>, "Coroutine<T>: T must be an object type or void");

public:
    /// The type co_await yields.
    using value_type = T;

    struct promise_type : detail::PromiseValue<T> {
        // The frame and the room for a task state in front of it (see the header comment).
        static void* operator new(std::size_t size) {
            constexpr std::size_t header = detail::task_header_size<T>();
            return static_cast<char*>(nogil::detail::RecyclingAllocator::allocate(header + size)) + header;
        }
        static void operator delete(void* frame, std::size_t size) noexcept {
            // A task's root frame: the task frees the block (its state lives in it).
            if (detail::TaskBase::keep_frame_memory(frame, size)) return;
            constexpr std::size_t header = detail::task_header_size<T>();
            nogil::detail::RecyclingAllocator::deallocate(static_cast<char*>(frame) - header, header + size);
        }
        // The default argument is evaluated where the compiler builds the promise, inside the
        // coroutine function: it names that function.
        explicit promise_type(std::source_location where = std::source_location::current()) noexcept {
            this->where = where;
        }
        Coroutine get_return_object() noexcept { return Coroutine(handle_type::from_promise(*this)); }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        detail::FinalAwaiter final_suspend() const noexcept { return {}; }
        void unhandled_exception() noexcept { this->exception = std::current_exception(); }
    };
    using handle_type = std::coroutine_handle<promise_type>;

    Coroutine(Coroutine&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), started_(std::exchange(other.started_, false)) {}
    Coroutine& operator=(Coroutine&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
            started_ = std::exchange(other.started_, false);
        }
        return *this;
    }
    ~Coroutine() { reset(); }

    /// The coroutine function's name (from std::source_location), or "" if empty.
    const char* name() const noexcept { return handle_ ? handle_.promise().where.function_name() : ""; }
    /// False once awaited, scheduled as a task, or moved from.
    bool valid() const noexcept { return handle_ && !started_; }

    /// Awaiting runs the coroutine inline in the current task; resumes the awaiting frame with
    /// its value or exception. If the task is cancelled meanwhile, the CancelledError is thrown
    /// inside this coroutine (at its own suspension point) and propagates like any exception.
    /// Throws std::runtime_error if the Coroutine was already awaited or scheduled.
    auto operator co_await() && {
        if (!valid()) throw std::runtime_error("cannot await a Coroutine that was already awaited or scheduled");
        started_ = true;
        return Awaiter{handle_};
    }

private:
    friend struct detail::CoroutineAccess;
    explicit Coroutine(handle_type h) noexcept : handle_(h) {}

    struct Awaiter {
        handle_type handle;
        bool await_ready() const noexcept { return false; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> caller, const void* at = __builtin_source_location()) {
            detail::note_suspension(caller, at);  // the caller waits at this co_await
            (void)detail::TaskBase::current_or_throw("a Coroutine");
            handle.promise().continuation = caller;
            detail::TaskBase::set_next(handle);
        }
        T await_resume() {
            if (handle.promise().exception) std::rethrow_exception(handle.promise().exception);
            return handle.promise().take();
        }
    };

    void reset() noexcept {
        if (!handle_) return;
        if (!started_) detail::report_never_awaited(handle_.promise().where.function_name());
        std::exchange(handle_, nullptr).destroy();
    }

    handle_type handle_;
    bool started_ = false;
};

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {
/// create_task's access to the frame: takes ownership of it.
struct CoroutineAccess {
    template <class T>
    static typename asyncio::Coroutine<T>::handle_type release(asyncio::Coroutine<T>& c) {
        if (!c.valid()) throw std::invalid_argument("coro: this Coroutine was already awaited or scheduled");
        c.started_ = true;
        return std::exchange(c.handle_, nullptr);
    }
};

template <class T>
struct TaskValue {
    std::optional<T> value;
};
template <>
struct TaskValue<void> {};

/// Moves a root coroutine's value from its promise into a task's slot. Out of line on purpose:
/// inlined into TaskState::store_result, where the promise is reached from `this` (the frame
/// follows the task state), g++ 12 at -O3 takes that pointer for one into the 64-byte TaskBase
/// and reports the moved-from std::string's update as a write past its end
/// (-Wstringop-overflow, a false positive that a pragma cannot silence: it is reported inside
/// <string>).
template <class T, class Promise>
[[gnu::noinline]] void store_task_value(std::optional<T>& slot, Promise& promise) {
    slot.emplace(promise.take());
}

/// A Task's typed state: TaskBase plus the value. Built by create_task in the room in front of
/// the root frame; the block (state + frame) is freed when the last reference goes.
template <class T>
class TaskState final : public TaskBase {
public:
    using handle_type = typename asyncio::Coroutine<T>::handle_type;
    TaskState(LoopCore& loop, handle_type h, std::string_view name)
        : TaskBase(loop, task_header_size<T>(), promise_offset(h), name) {}

    /// The value, or throws what result() throws. Marks an exception retrieved.
    decltype(auto) value() const {
        check_result();
        if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*slot_.value);
    }
    /// Moves the value out (co_await std::move(task), gather, run); the state keeps a
    /// moved-from T.
    T take_value() {
        check_result();
        if constexpr (!std::is_void_v<T>) return std::move(*slot_.value);
    }

private:
    static std::size_t promise_offset(handle_type h) noexcept {
        return static_cast<std::size_t>(reinterpret_cast<char*>(static_cast<PromiseBase*>(&h.promise())) -
                                        static_cast<char*>(h.address()));
    }
    void store_result() override {
        // Runs before the frame is destroyed, so root() is still valid.
        if constexpr (!std::is_void_v<T>)
            store_task_value(slot_.value, handle_type::from_address(root().address()).promise());
    }
    void destroy_self() noexcept override {
        destroy_frame();
        const std::size_t block_size = task_header_size<T>() + frame_size();
        void* block = this;
        this->~TaskState();
        nogil::detail::RecyclingAllocator::deallocate(block, block_size);
    }
    [[no_unique_address]] TaskValue<T> slot_;
};

/// create_task's half: builds the task state in front of `h`'s frame (which it then owns).
template <class T>
TaskState<T>* make_task_state(LoopCore& loop, std::coroutine_handle<typename asyncio::Coroutine<T>::promise_type> h,
                              std::string_view name) {
    void* room = static_cast<char*>(h.address()) - task_header_size<T>();
    try {
        return ::new (room) TaskState<T>(loop, h, name);
    } catch (...) {
        h.destroy();
        throw;
    }
}

template <class A>
struct is_coroutine : std::false_type {};
template <class T>
struct is_coroutine<asyncio::Coroutine<T>> : std::true_type {};
}  // namespace nogil::asyncio::detail
