// CPython's Lib/test/test_asyncio/test_base_events.py (3.13), ported: the scheduling-order and
// run_until_complete cases (the rest of the module tests sockets, executors and the debug
// machinery of BaseEventLoop's Python implementation).
//
// Not applicable in C++:
//   test__run_once, test_call_soon/test_call_later's `in loop._ready/_scheduled` checks - white-box
//     tests of the Python loop's private lists.
//   test_call_soon_non_callable, test_check_thread's argument checks - compile errors here.
//   test_set_task_factory_invalid - a non-callable factory does not compile.
//   test_time_and_call_at's elapsed-time bound - a timing assertion; the port checks that the
//     timer did not fire before its deadline (a scheduling property) instead.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using namespace std::chrono_literals;

namespace {

// test_base_events.py: BaseEventLoopTests.test_call_later_negative_delays - a negative delay is a
// deadline in the past: due timers run in deadline order, so -2 runs before -1.
TEST(BaseEventLoopTests, test_call_later_negative_delays) {
    asyncio::EventLoop loop;
    std::vector<std::string> calls;
    loop.call_later(-1.0, [&] { calls.push_back("a"); });
    loop.call_later(-2.0, [&] { calls.push_back("b"); });
    loop.call_soon([&] { loop.call_soon([&] { loop.stop(); }); });
    loop.run_forever();
    EXPECT_EQ(calls, (std::vector<std::string>{"b", "a"}));
    loop.close();
}

// test_base_events.py: the same rule with call_at deadlines in the past, scheduled latest first.
TEST(BaseEventLoopTests, test_call_at_past_deadlines_run_in_deadline_order) {
    asyncio::EventLoop loop;
    std::vector<int> calls;
    const double now = loop.time();
    for (int i = 5; i >= 1; --i) loop.call_at(now - i, [&calls, i] { calls.push_back(i); });
    loop.call_later(0ms, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(calls, (std::vector<int>{5, 4, 3, 2, 1}));
    loop.close();
}

// test_base_events.py: timers with equal deadlines run in the order they were scheduled.
TEST(BaseEventLoopTests, test_call_at_equal_deadlines_run_in_scheduling_order) {
    asyncio::EventLoop loop;
    std::vector<int> calls;
    const auto when = asyncio::EventLoop::clock::now() + 1ms;
    for (int i = 0; i < 20; ++i) loop.call_at(when, [&calls, i] { calls.push_back(i); });
    loop.call_at(when, [&] { loop.stop(); });
    loop.run_forever();
    std::vector<int> expected;
    for (int i = 0; i < 20; ++i) expected.push_back(i);
    EXPECT_EQ(calls, expected);
    loop.close();
}

// test_base_events.py: BaseEventLoopTests.test_time_and_call_at (a timer never fires before its
// deadline).
TEST(BaseEventLoopTests, test_time_and_call_at) {
    asyncio::EventLoop loop;
    const double when = loop.time() + 0.01;
    double fired_at = 0;
    loop.call_at(when, [&] {
        fired_at = loop.time();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_GE(fired_at, when);
    loop.close();
}

// test_base_events.py: BaseEventLoopTests.test__run_once_schedule_handle - a callback that a
// callback schedules runs after the callbacks already queued (the ready queue is FIFO).
TEST(BaseEventLoopTests, test__run_once_schedule_handle) {
    asyncio::EventLoop loop;
    std::vector<std::string> order;
    loop.call_later(-1.0, [&] {
        order.push_back("timer");
        loop.call_soon([&] { order.push_back("timer's"); });
    });
    loop.call_soon([&] { order.push_back("ready before"); });
    loop.call_soon([&] { loop.call_soon([&] { loop.call_soon([&] { loop.stop(); }); }); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"ready before", "timer", "timer's"}));
    loop.close();
}

// test_base_events.py: BaseEventLoopTests.test_run_until_complete_baseexception (Python issue
// #22429) - a KeyboardInterrupt leaves run_until_complete, and the loop stays usable: no stop()
// is left pending.
TEST(BaseEventLoopTests, test_run_until_complete_baseexception) {
    asyncio::EventLoop loop;
    auto raise_keyboard_interrupt = []() -> Coroutine<> {
        throw nogil::KeyboardInterrupt();
        co_return;
    };
    EXPECT_THROW(loop.run_until_complete(raise_keyboard_interrupt()), nogil::KeyboardInterrupt);
    bool called = false;
    loop.call_soon([&] {
        loop.call_soon([&] {
            loop.stop();
            called = true;
        });
    });
    loop.run_forever();
    EXPECT_TRUE(called);
    loop.close();
}

// test_base_events.py: BaseEventLoopTests.test_run_forever_keyboard_interrupt (Python issue
// #22601) - the KeyboardInterrupt is not reported to the exception handler.
TEST(BaseEventLoopTests, test_run_forever_keyboard_interrupt) {
    asyncio::EventLoop loop;
    int handler_calls = 0;
    loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext&) { ++handler_calls; });
    auto raise_keyboard_interrupt = []() -> Coroutine<> {
        throw nogil::KeyboardInterrupt();
        co_return;
    };
    EXPECT_THROW(loop.run_until_complete(raise_keyboard_interrupt()), nogil::KeyboardInterrupt);
    loop.close();
    EXPECT_EQ(handler_calls, 0);
}

// test_base_events.py: a SystemExit raised in a plain callback leaves run_forever bare (Python's
// Handle._run re-raises SystemExit/KeyboardInterrupt), it is not sent to the exception handler.
TEST(BaseEventLoopTests, test_system_exit_in_callback_leaves_the_loop) {
    asyncio::EventLoop loop;
    int handler_calls = 0;
    loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext&) { ++handler_calls; });
    loop.call_soon([] { throw nogil::SystemExit(3); });
    try {
        loop.run_forever();
        ADD_FAILURE() << "no SystemExit";
    } catch (const nogil::SystemExit& e) {
        EXPECT_EQ(e.code, 3);
    }
    EXPECT_EQ(handler_calls, 0);
    // An ordinary exception still goes to the handler.
    loop.call_soon([] { throw std::runtime_error("x"); });
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(handler_calls, 1);
    loop.close();
}

// test_base_events.py: asyncio.run() with a main task that raises KeyboardInterrupt: it leaves
// run() bare (and the other tasks are cancelled on the way out).
TEST(BaseEventLoopTests, test_keyboard_interrupt_in_task_leaves_run) {
    bool other_cancelled = false;
    // Outside main's frame: the other task runs after main's frame is gone.
    auto other = [&]() -> Coroutine<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            other_cancelled = true;
            throw;
        }
    };
    auto main = [&]() -> Coroutine<> {
        auto t = asyncio::create_task(other());
        co_await asyncio::sleep(0);
        throw nogil::KeyboardInterrupt();
    };
    EXPECT_THROW(asyncio::run(main()), nogil::KeyboardInterrupt);
    EXPECT_TRUE(other_cancelled);
}

// test_base_events.py: BaseEventLoopTests.test_set_task_factory (Python's MyTask subclass
// becomes a factory that marks the tasks it made: C++ has one Task type)
TEST(BaseEventLoopTests, test_set_task_factory) {
    asyncio::EventLoop loop;
    std::vector<std::string> made;
    auto coro = []() -> asyncio::Coroutine<> { co_return; };
    asyncio::TaskFactory factory = [&](asyncio::EventLoop&, const asyncio::TaskMaker& make, asyncio::TaskOptions options) {
        auto task = make(options);
        task.set_name("MyTask");
        made.push_back(task.get_name());
        return task;
    };
    EXPECT_FALSE(loop.get_task_factory());
    loop.set_task_factory(factory);
    EXPECT_TRUE(loop.get_task_factory());

    auto task = loop.create_task(coro());
    EXPECT_EQ(task.get_name(), "MyTask");
    loop.run_until_complete(task);

    loop.set_task_factory(nullptr);
    EXPECT_FALSE(loop.get_task_factory());
    task = loop.create_task(coro());
    EXPECT_NE(task.get_name(), "MyTask");
    loop.run_until_complete(task);
    EXPECT_EQ(made, std::vector<std::string>{"MyTask"});
    loop.close();
}

// A factory that does not return the task its make() built is refused (Python's factory may
// return any Future-like object; a C++ create_task must return the coroutine's Task<T>).
TEST(BaseEventLoopTests, test_task_factory_must_return_the_task_it_made) {
    asyncio::EventLoop loop;
    loop.set_task_factory([](asyncio::EventLoop&, const asyncio::TaskMaker&, asyncio::TaskOptions) { return asyncio::Task<>(); });
    auto coro = []() -> asyncio::Coroutine<> { co_return; };
    EXPECT_THROW(loop.create_task(coro()), std::logic_error);
    loop.close();
}

}  // namespace
