#pragma once
// asyncio::run() and asyncio::Runner: the program's entry into asyncio.
//
//   int main() { return nogil::asyncio::run(main_coro()); }
//
//   asyncio::Runner runner({.debug = true});      // Python 3.11's `with asyncio.Runner() as r:`
//   runner.run(setup());                          // one loop for several top-level coroutines
//   auto v = runner.run(serve());                 // the same loop, the same context
//   // leaving the scope closes the runner: run()'s shutdown protocol below, steps 1-3
//
// run(main) is `Runner(options).run(main)`, as in Python. Runner::run(coro) runs `coro` as a task
// on the runner's loop (created on first use: by `loop_factory` if given) to completion, in the
// runner's contextvars::Context (a copy of the creator's context, taken at that first use, and
// shared by every run: a variable one run sets, the next one sees), or in `context` if given.
// Closing (close(), the destructor, the end of run()) - the shutdown protocol:
//   1. cancels every task still pending and runs the loop until they have all finished;
//   2. reports, through the loop's exception handler, any of them that failed with something
//      other than CancelledError ("unhandled exception during asyncio.run() shutdown");
//   3. shuts the default executor down (waiting for it, while the loop runs), closes the loop;
//   4. (run() only) returns the coroutine's value, or re-throws its exception (same type) - so a
//      program whose main coroutine throws leaves run() with that exception, never
//      std::terminate.
// Tests (tests/asyncio_runners_test.cpp, AsyncioRun.*): step 1 CancelsAndAwaitsLeftoverTasks;
// 2 ReportsALeftoverTaskThatFailsWhileCancelled; 4 ReturnsTheCoroutinesValue,
// RethrowsTheMainCoroutinesExceptionWithItsType; the Runner's close (steps 1-3 again):
// RunnerTests.test_explicit_close, test_double_close (tests/cpython/test_runners.cpp). Step 3 has
// no test of its own yet.
// Ctrl-C (SIGINT, main thread, default disposition) during run() / Runner::run() cancels the
// task; the call then throws nogil::KeyboardInterrupt (Python 3.11's Runner;
// <nogil/asyncio/signals.hpp>).

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/signals.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/detail/awaitables.hpp>
#include <nogil/contextvars/context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace nogil::asyncio {

/// Options of run() and Runner. `debug`: nullopt keeps the loop's default
/// (NOGIL_ASYNCIO_DEBUG=1 turns it on). `io_backend`: the loop's I/O backend, as
/// EventLoopOptions::io_backend (nullopt: NOGIL_ASYNCIO_BACKEND, epoll by default; explicit
/// io_uring that cannot run is an OSError). `loop_factory`: makes the loop (Python's
/// loop_factory; `io_backend` is then the factory's business); empty: a new EventLoop.
struct RunOptions {
    std::optional<bool> debug{};
    std::optional<IoBackendKind> io_backend{};
    std::function<std::unique_ptr<EventLoop>()> loop_factory{};
};
using RunnerOptions = RunOptions;

namespace detail {
/// Steps 1-3 of the shutdown protocol. Never throws.
void shutdown(EventLoop& loop) noexcept;

}  // namespace detail

/// Python 3.11's asyncio.Runner: one event loop and one context for several run() calls.
///
/// Thread safety: for one thread at a time (the thread that runs it owns its loop while run()
/// runs, as in Python). get_loop() returns the loop for its scheduling calls.
class Runner {
public:
    explicit Runner(RunOptions options = {}) : options_(std::move(options)) {}
    /// close().
    ~Runner() { close(); }
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    /// Runs `coro` as a task on the runner's loop until it is done and returns its value (or
    /// throws its exception, same type). `context`: the contextvars::Context the task runs in
    /// (Python's context=); by default the runner's own. Throws std::runtime_error("Runner.run()
    /// cannot be called from a running event loop") inside a running loop, ("Runner is closed")
    /// after close(); KeyboardInterrupt after Ctrl-C (see the header comment).
    template <class T>
    T run(Coroutine<T> coro, const contextvars::Context* context = nullptr) {
        if (detail::running_loop) throw std::runtime_error("Runner.run() cannot be called from a running event loop");
        lazy_init();
        TaskOptions options;
        options.context = context ? context : &*context_;
        auto task = loop_->create_task(std::move(coro), options);
        detail::MainTaskInterrupt interrupt(*loop_, *task.state());  // Ctrl-C: see signals.hpp
        detail::run_until_done(loop_->core(), *task.state());
        if (task.cancelled()) interrupt.throw_if_interrupted();  // KeyboardInterrupt
        if constexpr (std::is_void_v<T>)
            task.result();
        else
            return task.typed().take_value();
    }
    /// Awaits a Future (of the runner's loop) or a Task from a task of its own, as Python's run()
    /// does with an awaitable that is not a coroutine.
    template <class T>
    T run(Future<T> future, const contextvars::Context* context = nullptr) {
        return run(detail::await_in_coroutine(std::move(future)), context);
    }
    template <class T>
    T run(Task<T> task, const contextvars::Context* context = nullptr) {
        return run(detail::await_in_coroutine(std::move(task)), context);
    }
    /// Shutdown steps 1-3 (see the header comment). A runner never used is left as it is (as in
    /// Python); a closed one stays closed (a second close() does nothing). Never throws.
    void close() noexcept {
        if (state_ != State::initialized) return;
        detail::shutdown(*loop_);
        state_ = State::closed;
    }
    /// The runner's loop, created on first use. Throws std::runtime_error("Runner is closed").
    /// After close() the loop object (closed) lives on until the runner is destroyed.
    EventLoop& get_loop() {
        lazy_init();
        return *loop_;
    }

private:
    void lazy_init() {
        if (state_ == State::closed) throw std::runtime_error("Runner is closed");
        if (state_ == State::initialized) return;
        loop_ = options_.loop_factory
                    ? options_.loop_factory()
                    : std::make_unique<EventLoop>(EventLoopOptions{.io_backend = options_.io_backend, .debug = options_.debug});
        if (!loop_) throw std::invalid_argument("loop_factory returned no event loop");
        if (options_.debug) loop_->set_debug(*options_.debug);
        context_ = contextvars::copy_context();
        state_ = State::initialized;
    }

    enum class State { created, initialized, closed };
    RunOptions options_;
    State state_ = State::created;
    std::unique_ptr<EventLoop> loop_;
    std::optional<contextvars::Context> context_;
};

/// Runs `main` on a new event loop (Runner(options).run(main)); see the header comment. Throws
/// std::runtime_error("asyncio.run() cannot be called from a running event loop").
template <class T>
T run(Coroutine<T> main, RunOptions options = {}) {
    if (detail::running_loop) throw std::runtime_error("asyncio.run() cannot be called from a running event loop");
    Runner runner(std::move(options));
    return runner.run(std::move(main));
}

}  // namespace nogil::asyncio
