#pragma once
// What both halves of the port of CPython's test_tasks.py (test_tasks.cpp, test_tasks_2.cpp)
// share: Python's run_briefly and the small coroutines its tests build tasks of.

#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <chrono>
#include <string>

namespace {

/// Python's test_utils.run_briefly(loop), as loop.run_until_complete(one_loop_turn()).
/// (A task with no await: it is done in the first turn, its done callback stops the loop in the
/// second, as Python's `async def once(): pass`.)
inline nogil::asyncio::Coroutine<> one_loop_turn() { co_return; }
inline void run_briefly(nogil::asyncio::EventLoop& loop) { loop.run_until_complete(one_loop_turn()); }
inline nogil::asyncio::Coroutine<> just_sleep(std::chrono::milliseconds d) { co_await nogil::asyncio::sleep(d); }
/// Sleeps `dt`, then gives `x` (the tests' `sleeper(dt, x)` / `asyncio.sleep(dt, x)`).
inline nogil::asyncio::Coroutine<std::string> sleeper(std::chrono::milliseconds dt, std::string x) {
    co_await nogil::asyncio::sleep(dt);
    co_return x;
}

}  // namespace
