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

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/task.hpp>

#include <optional>
#include <stdexcept>

namespace nogil::asyncio {

/// Options of run(). `debug`: nullopt keeps the default (NOGIL_ASYNCIO_DEBUG=1 turns it on).
struct RunOptions {
    std::optional<bool> debug{};
};

namespace detail_run {
/// Steps 1-3 of the shutdown protocol. Never throws.
void shutdown(EventLoop& loop) noexcept;
}  // namespace detail_run

/// Runs `main` on a new event loop; see the header comment. Throws
/// std::runtime_error("asyncio.run() cannot be called from a running event loop").
template <class T>
T run(Coroutine<T> main, RunOptions options = {}) {
    if (detail::running_loop) throw std::runtime_error("asyncio.run() cannot be called from a running event loop");
    EventLoop loop;
    if (options.debug) loop.set_debug(*options.debug);
    struct Shutdown {
        EventLoop& loop;
        ~Shutdown() { detail_run::shutdown(loop); }
    } shutdown{loop};
    return loop.run_until_complete(std::move(main));
}

}  // namespace nogil::asyncio
