// CPython's Lib/test/test_asyncio/test_runners.py (3.13), ported: RunTests (asyncio.run).
//
// Not applicable in C++:
//   test_asyncio_run_only_coro - a TypeError; run() takes a Coroutine<T>.
//   test_asyncio_run_closes_gens_after_hanging_tasks_errors - async generators (none in C++).
//   test_asyncio_run_set_event_loop, test_asyncio_run_without_uncancel (a Task class without
//     uncancel) - event loop policies and custom Task classes do not exist here.
//   RunnerTests.test_run_non_coro - a TypeError; run() takes a Coroutine, a Future or a Task.
//   RunnerTests.test_run_awaitable - a user awaitable class: C++ awaits it inside a coroutine
//     passed to run() (test_run_future covers the wrapping).
//   RunnerTests.test_signal_install_not_supported_ok (mock.patch of signal.signal),
//   test_set_event_loop_called_once (event loop policies), test_no_repr_is_call_on_the_task_result
//     (repr) - nothing to patch or call in C++.
//   test_interrupt_* (SIGINT), RunTests and RunnerTests - tests/asyncio_signals_test.cpp sends the
//     signal to a child process running asyncio::run; Runner::run shares that code path.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using namespace std::chrono_literals;

namespace {

// test_runners.py: RunTests.test_asyncio_run_return
TEST(RunTests, test_asyncio_run_return) {
    auto main = []() -> Coroutine<int> {
        co_await asyncio::sleep(0);
        co_return 42;
    };
    EXPECT_EQ(asyncio::run(main()), 42);
}

// test_runners.py: RunTests.test_asyncio_run_raises
TEST(RunTests, test_asyncio_run_raises) {
    auto main = []() -> Coroutine<> {
        co_await asyncio::sleep(0);
        throw std::invalid_argument("spam");
    };
    try {
        asyncio::run(main());
        ADD_FAILURE() << "no ValueError";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "spam");
    }
}

// test_runners.py: RunTests.test_asyncio_run_debug
TEST(RunTests, test_asyncio_run_debug) {
    auto main = [](bool expected) -> Coroutine<> {
        EXPECT_EQ(asyncio::get_running_loop().get_debug(), expected);
        co_return;
    };
    asyncio::run(main(false), {.debug = false});
    asyncio::run(main(true), {.debug = true});
}

// test_runners.py: RunTests.test_asyncio_run_from_running_loop
TEST(RunTests, test_asyncio_run_from_running_loop) {
    auto main = []() -> Coroutine<> {
        auto inner = []() -> Coroutine<> { co_return; };
        try {
            asyncio::run(inner());
            ADD_FAILURE() << "no RuntimeError";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("cannot be called from a running event loop"), std::string::npos);
        }
        co_return;
    };
    asyncio::run(main());
}

// test_runners.py: RunTests.test_asyncio_run_cancels_hanging_tasks
TEST(RunTests, test_asyncio_run_cancels_hanging_tasks) {
    std::optional<asyncio::Task<>> lo_task;
    auto leftover = []() -> Coroutine<> { co_await asyncio::sleep(1h); };
    auto main = [&]() -> Coroutine<int> {
        lo_task = asyncio::create_task(leftover());
        co_return 123;
    };
    EXPECT_EQ(asyncio::run(main()), 123);
    EXPECT_TRUE(lo_task->done());
    EXPECT_TRUE(lo_task->cancelled());
}

// test_runners.py: RunTests.test_asyncio_run_reports_hanging_tasks_errors
TEST(RunTests, test_asyncio_run_reports_hanging_tasks_errors) {
    std::optional<asyncio::Task<>> lo_task;
    std::vector<std::string> messages;
    auto leftover = []() -> Coroutine<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            throw ZeroDivisionError();
        }
    };
    auto main = [&]() -> Coroutine<int> {
        asyncio::get_running_loop().set_exception_handler(
            [&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
                messages.push_back(c.message);
                EXPECT_EQ(type_name(c.exception), "ZeroDivisionError");
            });
        lo_task = asyncio::create_task(leftover());
        co_return 123;
    };
    EXPECT_EQ(asyncio::run(main()), 123);
    EXPECT_TRUE(lo_task->done());
    EXPECT_EQ(messages, std::vector<std::string>{"unhandled exception during asyncio.run() shutdown"});
}

// test_runners.py: RunTests.test_asyncio_run_raises with KeyboardInterrupt - it leaves run() bare
// and the hanging tasks are still cancelled.
TEST(RunTests, test_asyncio_run_keyboard_interrupt_cancels_hanging_tasks) {
    std::optional<asyncio::Task<>> lo_task;
    auto leftover = []() -> Coroutine<> { co_await asyncio::sleep(1h); };
    auto main = [&]() -> Coroutine<> {
        lo_task = asyncio::create_task(leftover());
        co_await asyncio::sleep(0);
        throw nogil::KeyboardInterrupt();
    };
    EXPECT_THROW(asyncio::run(main()), nogil::KeyboardInterrupt);
    EXPECT_TRUE(lo_task->cancelled());
}

// test_runners.py: RunTests.test_asyncio_run_loop_factory
TEST(RunTests, test_asyncio_run_loop_factory) {
    asyncio::EventLoop* made = nullptr;
    auto main = [](asyncio::EventLoop** made) -> Coroutine<> {
        EXPECT_EQ(&asyncio::get_running_loop(), *made);
        co_return;
    };
    asyncio::run(main(&made), {.loop_factory = [&] {
                                   auto loop = std::make_unique<asyncio::EventLoop>();
                                   made = loop.get();
                                   return loop;
                               }});
    EXPECT_NE(made, nullptr);
}

// test_runners.py: RunnerTests.test_non_debug
TEST(RunnerTests, test_non_debug) {
    asyncio::Runner runner({.debug = false});
    EXPECT_FALSE(runner.get_loop().get_debug());
}

// test_runners.py: RunnerTests.test_debug
TEST(RunnerTests, test_debug) {
    asyncio::Runner runner({.debug = true});
    EXPECT_TRUE(runner.get_loop().get_debug());
}

// test_runners.py: RunnerTests.test_custom_factory
TEST(RunnerTests, test_custom_factory) {
    asyncio::EventLoop* made = nullptr;
    asyncio::Runner runner({.loop_factory = [&] {
        auto loop = std::make_unique<asyncio::EventLoop>();
        made = loop.get();
        return loop;
    }});
    EXPECT_EQ(&runner.get_loop(), made);
}

// test_runners.py: RunnerTests.test_run (the `with` block's end is close(): the loop object
// lives as long as the runner)
TEST(RunnerTests, test_run) {
    auto f = []() -> Coroutine<std::string> {
        co_await asyncio::sleep(0);
        co_return "done";
    };
    asyncio::Runner runner;
    EXPECT_EQ(runner.run(f()), "done");
    asyncio::EventLoop& loop = runner.get_loop();
    runner.close();
    try {
        runner.get_loop();
        ADD_FAILURE() << "get_loop() after close()";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Runner is closed");
    }
    EXPECT_TRUE(loop.is_closed());
}

// test_runners.py: RunnerTests.test_run_future
TEST(RunnerTests, test_run_future) {
    asyncio::Runner runner;
    auto fut = runner.get_loop().create_future<std::string>();
    fut.set_result("done");
    EXPECT_EQ(runner.run(fut), "done");
}

// test_runners.py: RunnerTests.test_run_future, with a Task of the runner's loop
TEST(RunnerTests, test_run_task) {
    asyncio::Runner runner;
    auto task = runner.get_loop().create_task([]() -> Coroutine<int> { co_return 7; }());
    EXPECT_EQ(runner.run(task), 7);
}

// test_runners.py: RunnerTests.test_explicit_close
TEST(RunnerTests, test_explicit_close) {
    asyncio::Runner runner;
    asyncio::EventLoop& loop = runner.get_loop();
    runner.close();
    EXPECT_THROW(runner.get_loop(), std::runtime_error);
    EXPECT_TRUE(loop.is_closed());
}

// test_runners.py: RunnerTests.test_double_close
TEST(RunnerTests, test_double_close) {
    asyncio::Runner runner;
    asyncio::EventLoop& loop = runner.get_loop();
    runner.close();
    EXPECT_TRUE(loop.is_closed());
    runner.close();  // the second call is a no-op
    EXPECT_TRUE(loop.is_closed());
}

// test_runners.py: RunnerTests.test_second_with_block_raises (a run after close())
TEST(RunnerTests, test_second_with_block_raises) {
    std::vector<int> ret;
    auto f = [](std::vector<int>* ret, int arg) -> Coroutine<> {
        ret->push_back(arg);
        co_return;
    };
    asyncio::Runner runner;
    runner.run(f(&ret, 1));
    runner.close();
    try {
        runner.run(f(&ret, 2));
        ADD_FAILURE() << "run() after close()";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Runner is closed");
    }
    EXPECT_EQ(ret, std::vector<int>{1});
}

// test_runners.py: RunnerTests.test_run_keeps_context
TEST(RunnerTests, test_run_keeps_context) {
    nogil::contextvars::ContextVar<int> cvar("cvar", -1);
    auto f = [](nogil::contextvars::ContextVar<int> cvar, int val) -> Coroutine<int> {
        int old = cvar.get();
        co_await asyncio::sleep(0);
        cvar.set(val);
        co_return old;
    };
    auto get_context = []() -> Coroutine<nogil::contextvars::Context> { co_return nogil::contextvars::copy_context(); };
    asyncio::Runner runner;
    EXPECT_EQ(runner.run(f(cvar, 1)), -1);
    EXPECT_EQ(runner.run(f(cvar, 2)), 1);
    EXPECT_EQ(runner.run(get_context()).get(cvar), 2);
}

// test_runners.py: RunnerTests.test_run_keeps_context, with run(coro, context=ctx): the given
// context is used instead of the runner's
TEST(RunnerTests, test_run_with_context) {
    nogil::contextvars::ContextVar<int> cvar("cvar", -1);
    auto f = [](nogil::contextvars::ContextVar<int> cvar, int val) -> Coroutine<int> {
        int old = cvar.get();
        cvar.set(val);
        co_return old;
    };
    nogil::contextvars::Context ctx;
    asyncio::Runner runner;
    EXPECT_EQ(runner.run(f(cvar, 1), &ctx), -1);
    EXPECT_EQ(runner.run(f(cvar, 2)), -1);  // the runner's own context never saw 1
    EXPECT_EQ(ctx[cvar], 1);
}

// test_runners.py: RunnerTests.test_recursive_run
TEST(RunnerTests, test_recursive_run) {
    asyncio::Runner runner;
    std::string message;
    auto g = []() -> Coroutine<> { co_return; };
    auto f = [](asyncio::Runner* runner, std::string* message, decltype(g) g) -> Coroutine<> {
        try {
            runner->run(g());
        } catch (const std::runtime_error& e) {
            *message = e.what();
        }
        co_return;
    };
    runner.run(f(&runner, &message, g));
    EXPECT_EQ(message, "Runner.run() cannot be called from a running event loop");
}

// A second run() reuses the loop (Python's Runner keeps one loop until close()).
TEST(RunnerTests, test_second_run_reuses_the_loop) {
    asyncio::Runner runner;
    auto loop_of = []() -> Coroutine<asyncio::EventLoop*> { co_return &asyncio::get_running_loop(); };
    asyncio::EventLoop* first = runner.run(loop_of());
    EXPECT_EQ(runner.run(loop_of()), first);
    EXPECT_EQ(&runner.get_loop(), first);
}

}  // namespace
