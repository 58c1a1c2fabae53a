// CPython's Lib/test/test_asyncio/test_runners.py (3.13), ported: RunTests (asyncio.run).
//
// Not applicable in C++:
//   test_asyncio_run_only_coro - a TypeError; run() takes a Coroutine<T>.
//   test_asyncio_run_closes_gens_after_hanging_tasks_errors - async generators (none in C++).
//   test_asyncio_run_set_event_loop, test_asyncio_run_without_uncancel (a Task class without
//     uncancel) - event loop policies and custom Task classes do not exist here.
//   RunnerTests, test_asyncio_run_loop_factory - asyncio::Runner is still to be added (issue 13,
//     not this part); they are ported when it lands.
//   test_interrupt_* (SIGINT) - tests/asyncio_signals_test.cpp sends the signal to a child.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

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

}  // namespace
