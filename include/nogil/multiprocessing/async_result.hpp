#pragma once
// multiprocessing.pool.AsyncResult<T>: the result of a Pool task, available later.
//
// Completed by the pool's manager thread when the worker answers (or dies, or the pool is
// terminated: then get() throws ProcessError rather than waiting forever). Copies share one state;
// every member is safe from any thread. A failure is kept as a description and the exception
// object is built by each get() in the calling thread: it never crosses threads.

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <cstddef>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <variant>

namespace nogil::multiprocessing {

/// Python's `callback=` and `error_callback=` of Pool.apply_async / map_async / starmap_async:
///
///   pool.apply_async(add, 1, 2, mp::Callbacks{.callback = [](const int& r) { ... },
///                                             .error_callback = [](std::exception_ptr e) { ... }});
///
/// callback(const R&) gets the value (callback() for a void task); error_callback(std::exception_ptr)
/// gets the task's exception, rebuilt with its type. Either may be left out. They run on the
/// pool's manager thread (Python's result-handler thread), before the result becomes ready(), so
/// they must be quick: no other result is delivered meanwhile. An exception escaping `callback`
/// fails the AsyncResult with it; one escaping `error_callback` is dropped (the task's stays).
template <class Callback = std::nullptr_t, class ErrorCallback = std::nullptr_t>
struct Callbacks {
    Callback callback{};
    ErrorCallback error_callback{};
};

}  // namespace nogil::multiprocessing

namespace nogil::multiprocessing::detail {
template <class T>
inline constexpr bool is_callbacks = false;
template <class C, class E>
inline constexpr bool is_callbacks<multiprocessing::Callbacks<C, E>> = true;
template <class... Ts>
inline constexpr bool last_is_callbacks = false;
template <class T, class... Ts>
inline constexpr bool last_is_callbacks<T, Ts...> = is_callbacks<std::tuple_element_t<sizeof...(Ts), std::tuple<T, Ts...>>>;
}  // namespace nogil::multiprocessing::detail

namespace nogil::multiprocessing {

/// Thread safety: every member may be called from any thread at once; it is completed by the pool's
/// manager thread, which runs the Callbacks first.
template <class T>
class AsyncResult {
    using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

public:
    AsyncResult() : state_(std::make_shared<State>()) {}

    /// The task's value; rethrows what the task threw (see exceptions.hpp). Waits as long as it takes.
    T get() {
        wait();
        return take();
    }
    /// As get(), but throws TimeoutError if the result is not ready within `timeout`.
    template <class Rep, class Period>
    T get(std::chrono::duration<Rep, Period> timeout) {
        if (!wait(timeout)) throw TimeoutError("AsyncResult.get: timed out");
        return take();
    }
    /// Waits until the result is ready.
    void wait() const {
        std::unique_lock lock(state_->mutex);
        state_->cv.wait(lock, [&] { return state_->done; });
    }
    /// Waits at most `timeout`; returns ready() (Python's wait returns None; the bool is a bonus).
    template <class Rep, class Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) const {
        std::unique_lock lock(state_->mutex);
        // Through a deadline: NaN then means "do not wait" (Python's Event.wait), never UB.
        return state_->cv.wait_until(lock, nogil::detail::deadline_after(timeout), [&] { return state_->done; });
    }
    /// True once the task has finished (either way).
    bool ready() const {
        std::lock_guard lock(state_->mutex);
        return state_->done;
    }
    /// True if it finished without an exception. Throws std::invalid_argument if not ready (Python's ValueError).
    bool successful() const {
        std::lock_guard lock(state_->mutex);
        if (!state_->done) throw std::invalid_argument("AsyncResult is not ready");
        return !state_->error.has_value();
    }

    // Completion, called once by the pool (first call wins).
    void set_value(Stored value) {
        {
            std::lock_guard lock(state_->mutex);
            if (state_->done) return;
            state_->value.emplace(std::move(value));
            state_->done = true;
        }
        state_->cv.notify_all();
    }
    void set_exception(detail::RemoteException error) {
        {
            std::lock_guard lock(state_->mutex);
            if (state_->done) return;
            state_->error = std::move(error);
            state_->done = true;
        }
        state_->cv.notify_all();
    }

private:
    struct State {
        mutable std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        std::optional<Stored> value;
        std::optional<detail::RemoteException> error;
    };
    // Copies the value out (get() may be called repeatedly, as in Python).
    T take() {
        std::lock_guard lock(state_->mutex);
        if (state_->error) std::rethrow_exception(detail::rebuild_exception(*state_->error));
        if constexpr (!std::is_void_v<T>) return *state_->value;
    }
    std::shared_ptr<State> state_;
};

}  // namespace nogil::multiprocessing
