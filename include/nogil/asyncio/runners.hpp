#pragma once
// asyncio::run(): the program's entry into asyncio.
//
//   int main() { return nogil::asyncio::run(main_coro()); }
//
// run() creates a loop, runs the coroutine as a task to completion, then (shutdown protocol):
//   1. cancels every task still pending and runs the loop until they have all finished;
//   2. reports, through the loop's exception handler, any of them that failed with something
//      other than CancelledError ("unhandled exception during asyncio.run() shutdown");
//   3. shuts the default executor down (waiting for it, while the loop runs), closes the loop;
//   4. returns the coroutine's value, or re-throws its exception (same type) - so a program
//      whose main coroutine throws leaves run() with that exception, never std::terminate.
// Tests (tests/asyncio_runners_test.cpp, AsyncioRun.*): step 1 CancelsAndAwaitsLeftoverTasks;
// 2 ReportsALeftoverTaskThatFailsWhileCancelled; 4 ReturnsTheCoroutinesValue,
// RethrowsTheMainCoroutinesExceptionWithItsType. Step 3 has no test of its own yet.
// Ctrl-C (SIGINT, main thread, default disposition) cancels the main task; run() then throws
// nogil::KeyboardInterrupt (Python 3.11's Runner; <nogil/asyncio/signals.hpp>).

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/signals.hpp>
#include <nogil/asyncio/task.hpp>

#include <optional>
#include <stdexcept>
#include <type_traits>

namespace nogil::asyncio {

/// Options of run(). `debug`: nullopt keeps the default (NOGIL_ASYNCIO_DEBUG=1 turns it on).
/// `io_backend`: the loop's I/O backend, as EventLoopOptions::io_backend (nullopt:
/// NOGIL_ASYNCIO_BACKEND, epoll by default; explicit io_uring that cannot run is an OSError).
struct RunOptions {
    std::optional<bool> debug{};
    std::optional<IoBackendKind> io_backend{};
};

namespace detail {
/// Steps 1-3 of the shutdown protocol. Never throws.
void shutdown(EventLoop& loop) noexcept;
}  // namespace detail

/// Runs `main` on a new event loop; see the header comment. Throws
/// std::runtime_error("asyncio.run() cannot be called from a running event loop").
template <class T>
T run(Coroutine<T> main, RunOptions options = {}) {
    if (detail::running_loop) throw std::runtime_error("asyncio.run() cannot be called from a running event loop");
    EventLoop loop(EventLoopOptions{.io_backend = options.io_backend, .debug = options.debug});
    struct Shutdown {
        EventLoop& loop;
        ~Shutdown() { detail::shutdown(loop); }
    } shutdown{loop};
    auto task = loop.create_task(std::move(main));
    detail::MainTaskInterrupt interrupt(loop, *task.state());  // Ctrl-C: see signals.hpp
    detail::run_until_done(loop.core(), *task.state());
    if (task.cancelled()) interrupt.throw_if_interrupted();  // KeyboardInterrupt
    if constexpr (std::is_void_v<T>)
        task.result();
    else
        return task.typed().take_value();
}

}  // namespace nogil::asyncio
