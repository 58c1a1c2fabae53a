#pragma once
// Bridges between asyncio and threads (concurrent.futures):
//
//   int n = co_await asyncio::to_thread(count_lines, path);        // blocking call on a thread
//   auto f = loop.run_in_executor(&pool, work, 1, 2);              // asyncio::Future<R>
//   cf::Future<int> r = asyncio::run_coroutine_threadsafe(coro(), loop);  // from another thread
//   int v = co_await some_concurrent_future;                        // await a cf::Future
//
// Threads: the executor runs the call on its worker; completion is handed to the loop with
// call_soon_threadsafe, so the awaiting task is resumed on the loop's thread. Cancelling the
// awaiting task cancels the asyncio Future, which cancels the concurrent Future (the call does
// not run if it has not started; a running call runs to its end, as in Python).
// run_coroutine_threadsafe: the task is created on the loop's thread; cancelling the returned
// concurrent Future cancels the task.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/contextvars/context.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/concurrent/futures/executor.hpp>
#include <nogil/concurrent/futures/future.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace nogil::asyncio::detail {

/// Python's wrap_future: an asyncio Future on `loop` mirroring `source`.
template <class T>
asyncio::Future<T> wrap_future(concurrent::futures::Future<T> source, asyncio::EventLoop& loop) {
    asyncio::Future<T> dest(loop);
    // Destination cancelled (on the loop thread): cancel the source, which only works if the
    // call has not started.
    dest.add_done_callback([source](asyncio::Future<T> d) mutable {
        if (d.cancelled()) source.cancel();
    });
    Ref<LoopCore> core(&loop.core());
    source.add_done_callback([dest, core](concurrent::futures::Future<T> src) {
        // Runs in the completing thread: hand the outcome to the loop.
        try {
            core->call_soon_threadsafe([dest, src] {
                if (dest.done()) return;  // cancelled meanwhile
                if (src.cancelled()) {
                    dest.cancel();
                    return;
                }
                if (auto e = src.exception()) {
                    dest.set_exception(e);
                } else if constexpr (std::is_void_v<T>) {
                    dest.set_result();
                } else {
                    dest.set_result(src.result());
                }
            });
        } catch (const std::runtime_error&) {
            // The loop was closed: nobody can await the result any more (Python drops it too).
        }
    });
    return dest;
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

template <class F, class... Args>
auto EventLoop::run_in_executor(concurrent::futures::Executor* executor, F&& fn, Args&&... args) {
    core_->check_thread();
    core_->check_open();
    concurrent::futures::Executor& ex = executor ? *executor : default_executor();
    return detail::wrap_future(ex.submit(std::forward<F>(fn), std::forward<Args>(args)...), *this);
}

/// Runs fn(args...) in the running loop's default executor and awaits it (Python's
/// asyncio.to_thread). Nothing runs until the returned Coroutine is awaited; fn then runs in a
/// copy of the awaiting task's contextvars::Context, taken at that moment (Python's
/// copy_context().run). run_in_executor() does not carry the context, as in Python.
template <class F, class... Args>
auto to_thread(F fn, Args... args) -> Coroutine<std::invoke_result_t<F&, Args&...>> {
    auto in_context = [context = contextvars::copy_context(), fn = std::move(fn)](auto&&... a) mutable {
        return context.run(fn, std::forward<decltype(a)>(a)...);
    };
    co_return co_await get_running_loop().run_in_executor(nullptr, std::move(in_context), std::move(args)...);
}

/// Submits `coro` to `loop` from any thread; returns a concurrent Future for its result.
/// Throws RuntimeError if the loop is closed. If the task cannot be made (a task factory that
/// throws), the future gets that exception and the loop's exception handler sees it too.
template <class T>
concurrent::futures::Future<T> run_coroutine_threadsafe(Coroutine<T> coro, EventLoop& loop) {
    concurrent::futures::Future<T> future;
    auto holder = std::make_shared<Coroutine<T>>(std::move(coro));
    detail::Ref<detail::LoopCore> core(&loop.core());
    core->call_soon_threadsafe([future, holder, core]() mutable {
        try {
            TaskOptions options;
            Task<T> task = detail::make_task(*core, *holder, options);
            task.add_done_callback([future](Task<> done) mutable {
                // Python's _set_concurrent_future_state.
                if (done.cancelled()) future.cancel();
                if (!future.set_running_or_notify_cancel()) return;
                if (auto e = done.state()->stored_exception()) {
                    future.set_exception(e);
                } else if constexpr (std::is_void_v<T>) {
                    future.set_result();
                } else {
                    future.set_result(static_cast<detail::TaskState<T>*>(done.state())->take_value());
                }
            });
            future.add_done_callback([task, core](concurrent::futures::Future<T> f) {
                if (!f.cancelled()) return;
                try {
                    core->call_soon_threadsafe([task] { task.cancel(); });
                } catch (const std::runtime_error&) {  // loop closed: the task is gone anyway
                }
            });
        } catch (...) {
            // Python: the future gets the error (not an exit exception), and the error goes on
            // to the loop, which reports it to its exception handler (or leaves with it).
            auto e = std::current_exception();
            if (!is_exit_exception(e) && future.set_running_or_notify_cancel()) future.set_exception(e);
            throw;
        }
    });
    return future;
}

}  // namespace nogil::asyncio

namespace nogil::concurrent::futures {

/// Awaiting a concurrent Future from an asyncio task (found by argument-dependent lookup):
/// the task is resumed on its loop's thread once the future is done. Cancelling the task
/// cancels the future if its call has not started.
template <class T>
auto operator co_await(Future<T> future) {
    return nogil::asyncio::detail::wrap_future(std::move(future), asyncio::get_running_loop()).operator co_await();
}

}  // namespace nogil::concurrent::futures
