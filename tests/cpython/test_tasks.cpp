// CPython's Lib/test/test_asyncio/test_tasks.py (3.13), ported: the first half - the
// cancellation, wait, as_completed, gather, shield and contextvars cases (the rest of the module
// is test_tasks_2.cpp; shared helpers in test_tasks_helpers.hpp). CPython runs BaseTaskTests
// against the C and the Python Task; nogil has one Task, so each case runs once.
//
// Python's test loop with a virtual clock (new_test_loop(gen)) becomes a real loop: where the
// test asserted loop.time() after the run, the port asserts the order of completion instead
// (timers of one loop fire in deadline order; no test asserts elapsed time).
//
// Not applicable in C++:
//   test_task_repr*, test_task_set_name_pylong, test_get_coro, test_log_traceback,
//   test_log_destroyed_pending_task, test_task_not_crash_without_finalization,
//   test_proper_refcounts, test_exception_traceback, test_cancel_traceback_for_future_* -
//     Python object model (repr, gc, tracebacks, refcounts); C++ has none of them.
//   test_create_task_with_noncoroutine, test_wait_errors (a coroutine passed to wait()),
//   test_create_task_with_asynclike_function - TypeErrors the compiler already rejects.
//   test_context_4 - Python's Task(coro, loop=, context=) constructor is create_task in C++:
//     the same case as test_context_5 (asyncio.create_task) and test_context_6 (loop.create_task).
//   test_cancel_with_message_then_future_result's non-string cases ((5,), None) - a cancel
//     message is a std::string.
//   test_as_completed_same_tasks_in_as_out's coroutine half - C++'s as_completed yields the
//     tasks it was given (a Coroutine is moved into a task and cannot be handed back).
#include "test_tasks_helpers.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

// test_tasks.py: BaseTaskTests.test_cancel
TEST(BaseTaskTests, test_cancel) {
    asyncio::EventLoop loop;
    auto task = []() -> Coroutine<int> {
        co_await asyncio::sleep(10s);
        co_return 12;
    };
    auto t = loop.create_task(task());
    loop.call_soon([t] { t.cancel(); });
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.cancel());
    loop.close();
}

/// The body of test_cancel_with_message_then_future_result/_exception: cancels a sleeping task
/// with `msg`, waits for it, then reads its outcome with result() or exception().
Coroutine<> cancel_then_read(std::string msg, bool use_result) {
    auto task = asyncio::create_task(just_sleep(10s));
    co_await asyncio::sleep(0);
    task.cancel(msg);
    auto fs = std::vector{task};  // named: g++ 12 rejects a braced temporary in a co_await
    co_await asyncio::wait(fs);
    if (use_result)
        task.result();
    else
        (void)task.exception();
}

// test_tasks.py: BaseTaskTests.test_cancel_with_message_then_future_result and
// test_cancel_with_message_then_future_exception
TEST(BaseTaskTests, test_cancel_with_message_then_future_result) {
    for (bool use_result : {true, false}) {
        for (const std::string& msg : std::vector<std::string>{"", "my message"}) {
            try {
                run_bounded(cancel_then_read(msg, use_result));
                ADD_FAILURE() << "no CancelledError";
            } catch (const asyncio::CancelledError& e) {
                EXPECT_EQ(e.message(), msg);
            }
        }
    }
}

// test_tasks.py: BaseTaskTests.test_cancellation_exception_context - `raise ValueError from ex`:
// the C++ spelling nests the CancelledError (std::throw_with_nested).
TEST(BaseTaskTests, test_cancellation_exception_context) {
    auto coro = []() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto fut = loop.create_future<void>();
        auto sleep = [&]() -> Coroutine<> {
            fut.set_result();
            co_await asyncio::sleep(10s);
        };
        auto inner_task = asyncio::create_task(sleep());
        co_await fut;
        loop.call_soon([inner_task] { inner_task.cancel("msg"); });
        try {
            co_await inner_task;
        } catch (const asyncio::CancelledError&) {
            std::throw_with_nested(std::invalid_argument("cancelled"));
        }
    };
    try {
        run_bounded(coro());
        ADD_FAILURE() << "no ValueError";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "cancelled");
        try {
            std::rethrow_if_nested(e);
            ADD_FAILURE() << "no context";
        } catch (const asyncio::CancelledError& c) {
            EXPECT_EQ(c.message(), "msg");
        }
    }
}

// test_tasks.py: BaseTaskTests.test_cancel_with_message_before_starting_task
TEST(BaseTaskTests, test_cancel_with_message_before_starting_task) {
    auto coro = []() -> Coroutine<> {
        auto task = asyncio::create_task(just_sleep(10s));
        task.cancel("my message");  // deliberately no sleep before
        auto fs = std::vector{task};  // named: g++ 12 rejects a braced temporary in a co_await
        co_await asyncio::wait(fs);
        (void)task.exception();
    };
    try {
        run_bounded(coro());
        ADD_FAILURE() << "no CancelledError";
    } catch (const asyncio::CancelledError& e) {
        EXPECT_EQ(e.message(), "my message");
    }
}

// test_tasks.py: BaseTaskTests.test_cancel_yield
TEST(BaseTaskTests, test_cancel_yield) {
    asyncio::EventLoop loop;
    auto task = []() -> Coroutine<int> {
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        co_return 12;
    };
    auto t = loop.create_task(task());
    loop.run_until_complete(one_loop_turn());  // start coro (run_briefly)
    t.cancel();
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.cancel());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_inner_future
TEST(BaseTaskTests, test_cancel_inner_future) {
    asyncio::EventLoop loop;
    auto f = loop.create_future<void>();
    auto task = [](asyncio::Future<> f) -> Coroutine<int> {
        co_await f;
        co_return 12;
    };
    auto t = loop.create_task(task(f));
    loop.run_until_complete(one_loop_turn());
    f.cancel();
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(t.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_both_task_and_inner_future
TEST(BaseTaskTests, test_cancel_both_task_and_inner_future) {
    asyncio::EventLoop loop;
    auto f = loop.create_future<void>();
    auto task = [](asyncio::Future<> f) -> Coroutine<int> {
        co_await f;
        co_return 12;
    };
    auto t = loop.create_task(task(f));
    loop.run_until_complete(one_loop_turn());
    f.cancel();
    t.cancel();
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(t.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_task_catching
TEST(BaseTaskTests, test_cancel_task_catching) {
    asyncio::EventLoop loop;
    auto fut1 = loop.create_future<void>();
    auto fut2 = loop.create_future<void>();
    auto task = [](asyncio::Future<> fut1, asyncio::Future<> fut2) -> Coroutine<int> {
        co_await fut1;
        try {
            co_await fut2;
        } catch (const asyncio::CancelledError&) {
            co_return 42;
        }
        co_return 0;
    };
    auto t = loop.create_task(task(fut1, fut2));
    loop.run_until_complete(one_loop_turn());
    fut1.set_result();
    loop.run_until_complete(one_loop_turn());
    t.cancel();
    EXPECT_TRUE(fut2.cancelled());
    EXPECT_EQ(loop.run_until_complete(t), 42);
    EXPECT_FALSE(t.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_task_ignoring
TEST(BaseTaskTests, test_cancel_task_ignoring) {
    asyncio::EventLoop loop;
    auto fut1 = loop.create_future<void>();
    auto fut2 = loop.create_future<void>();
    auto fut3 = loop.create_future<int>();
    auto task = [](asyncio::Future<> fut1, asyncio::Future<> fut2, asyncio::Future<int> fut3) -> Coroutine<int> {
        co_await fut1;
        try {
            co_await fut2;
        } catch (const asyncio::CancelledError&) {
        }
        co_return co_await fut3;
    };
    auto t = loop.create_task(task(fut1, fut2, fut3));
    loop.run_until_complete(one_loop_turn());
    fut1.set_result();
    loop.run_until_complete(one_loop_turn());
    t.cancel();
    EXPECT_TRUE(fut2.cancelled());
    loop.run_until_complete(one_loop_turn());
    fut3.set_result(42);
    EXPECT_EQ(loop.run_until_complete(t), 42);
    EXPECT_FALSE(fut3.cancelled());
    EXPECT_FALSE(t.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_current_task - a task that cancels itself sees
// CancelledError at its very next await: the 100 s sleep is cancelled at once.
TEST(BaseTaskTests, test_cancel_current_task) {
    asyncio::EventLoop loop;
    bool slept = false;
    auto task = [&]() -> Coroutine<int> {
        asyncio::current_task()->cancel();
        co_await asyncio::sleep(100s);  // would hit run_bounded-free test's timeout if not cancelled
        slept = true;
        co_return 12;
    };
    auto t = loop.create_task(task());
    EXPECT_FALSE(t.cancelled());
    // A bound, in case the sleep is not cancelled: the test then fails instead of hanging.
    auto guard = loop.call_later(30s, [&loop] { loop.stop(); });
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    guard.cancel();
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(slept);
    EXPECT_FALSE(t.cancel());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_at_end - cancelled right before its return: the task
// ends cancelled, the value is dropped.
TEST(BaseTaskTests, test_cancel_at_end) {
    asyncio::EventLoop loop;
    auto task = []() -> Coroutine<int> {
        asyncio::current_task()->cancel();
        co_return 12;
    };
    auto t = loop.create_task(task());
    EXPECT_FALSE(t.cancelled());
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.cancel());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancel_awaited_task (bpo-34872) - the next task the
// self-cancelled task awaits is cancelled, and what that one awaits too.
TEST(BaseTaskTests, test_cancel_awaited_task) {
    asyncio::EventLoop loop;
    auto fut = loop.create_future<void>();
    Task<> nested_task;
    auto nested = [](asyncio::Future<> fut) -> Coroutine<> { co_await fut; };
    auto coro = [&]() -> Coroutine<> {
        nested_task = asyncio::create_task(nested(fut));
        co_await asyncio::sleep(0);
        asyncio::current_task()->cancel();
        co_await nested_task;  // cancelled at once
    };
    auto task = loop.create_task(coro());
    EXPECT_THROW(loop.run_until_complete(task), asyncio::CancelledError);
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(nested_task.cancelled());
    EXPECT_TRUE(fut.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_uncancel_resets_must_cancel
TEST(BaseTaskTests, test_uncancel_resets_must_cancel) {
    asyncio::EventLoop loop;
    auto fut = loop.create_future<void>();
    auto coro = [](asyncio::Future<> fut) -> Coroutine<int> {
        co_await fut;
        co_return 42;
    };
    auto task = loop.create_task(coro(fut));
    loop.run_until_complete(one_loop_turn());  // the task waits for fut
    fut.set_result();                             // the task is runnable
    task.cancel();                                // a request nobody took yet
    EXPECT_EQ(task.cancelling(), 1u);
    task.uncancel();  // undone: the request is dropped
    EXPECT_EQ(task.cancelling(), 0u);
    EXPECT_EQ(loop.run_until_complete(task), 42);
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_uncancel_structured_blocks - a hand-written timeout block
// (cancel from a timer, uncancel in the block's exit) keeps the count in sync.
TEST(BaseTaskTests, test_uncancel_structured_blocks) {
    struct Outcome {
        bool timed_out, structured_block_finished, outer_code_reached;
    };
    auto make_request_with_timeout = [](std::chrono::milliseconds sleep, std::chrono::milliseconds timeout) -> Coroutine<Outcome> {
        auto task = *asyncio::current_task();
        auto& loop = asyncio::get_running_loop();
        bool timed_out = false, structured_block_finished = false;
        auto on_timeout = [&] {
            timed_out = true;
            task.cancel();
        };
        auto handle = loop.call_later(timeout, on_timeout);
        std::exception_ptr error;
        try {
            co_await asyncio::sleep(sleep);
            structured_block_finished = true;
        } catch (...) {
            error = std::current_exception();
        }
        handle.cancel();
        bool converted = false;
        if (timed_out && task.uncancel() == 0 && as<asyncio::CancelledError>(error)) converted = true;
        if (error && !converted) std::rethrow_exception(error);
        // Outer code not affected by the timeout:
        co_await asyncio::sleep(0);
        co_return Outcome{timed_out, structured_block_finished, true};
    };
    asyncio::EventLoop loop;
    auto t1 = loop.create_task(make_request_with_timeout(1h, 1ms));
    Outcome o1 = loop.run_until_complete(t1);
    EXPECT_TRUE(o1.timed_out);
    EXPECT_FALSE(o1.structured_block_finished);  // it was cancelled
    EXPECT_TRUE(o1.outer_code_reached);          // uncancelled after the block, ran to the end
    EXPECT_EQ(t1.cancelling(), 0u);
    auto t2 = loop.create_task(make_request_with_timeout(0ms, 1h));
    Outcome o2 = loop.run_until_complete(t2);
    EXPECT_FALSE(o2.timed_out);
    EXPECT_TRUE(o2.structured_block_finished);
    EXPECT_TRUE(o2.outer_code_reached);
    EXPECT_EQ(t2.cancelling(), 0u);
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_stop_while_run_in_complete
TEST(BaseTaskTests, test_stop_while_run_in_complete) {
    asyncio::EventLoop loop;
    int x = 0;
    auto task = [&]() -> Coroutine<> {
        while (x < 10) {
            co_await asyncio::sleep(1ms);
            x += 1;
            if (x == 2) loop.stop();
        }
    };
    auto t = loop.create_task(task());
    try {
        loop.run_until_complete(t);
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Event loop stopped before Future completed.");
    }
    EXPECT_FALSE(t.done());
    EXPECT_EQ(x, 2);
    t.cancel();
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    loop.close();
}

// The rule behind test_cancel_* and Python's Task._cancelled_exc: the CancelledError an awaiter
// sees is the one the task raised - same type (a subclass stays a subclass), same message,
// same object.
TEST(BaseTaskTests, test_awaiter_sees_the_cancelled_error_the_task_raised) {
    struct MyCancelled : asyncio::CancelledError {
        MyCancelled() : asyncio::CancelledError("mine") {}
    };
    run_bounded([]() -> Coroutine<> {
        auto inner = []() -> Coroutine<> {
            co_await asyncio::sleep(0);
            throw MyCancelled();
        };
        auto t = asyncio::create_task(inner());
        auto e1 = co_await outcome(t);
        EXPECT_TRUE(t.cancelled());
        const auto* seen = as<MyCancelled>(e1);
        CO_ASSERT_TRUE(seen);
        EXPECT_EQ(seen->message(), "mine");
        // result() and exception() give the very same object again.
        std::exception_ptr e2;
        try {
            t.result();
        } catch (...) {
            e2 = std::current_exception();
        }
        EXPECT_EQ(as<MyCancelled>(e2), seen);
    }());
}

// test_tasks.py: BaseTaskTests.test_wait
TEST(BaseTaskTests, test_wait) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1ms));
        auto b = asyncio::create_task(just_sleep(2ms));
        for (int i = 0; i < 2; ++i) {  // doing it again exercises the already-done path
            auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
            auto [done, pending] = co_await asyncio::wait(fs);
            EXPECT_EQ(done.size(), 2u);
            EXPECT_TRUE(pending.empty());
        }
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_duplicate_coroutines
TEST(BaseTaskTests, test_wait_duplicate_coroutines) {
    run_bounded([]() -> Coroutine<> {
        auto coro = [](std::string s) -> Coroutine<std::string> { co_return s; };
        auto c = asyncio::create_task(coro("test"));
        auto fs = std::vector{c, c, asyncio::create_task(coro("spam"))};  // named: g++ 12 rejects a braced temporary in a co_await
        auto [done, pending] = co_await asyncio::wait(fs);
        EXPECT_TRUE(pending.empty());
        std::set<std::string> results;
        for (auto& f : done) results.insert(f.result());
        EXPECT_EQ(results, (std::set<std::string>{"test", "spam"}));
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_errors (the empty set; a coroutine and a bad
// return_when do not compile)
TEST(BaseTaskTests, test_wait_errors) {
    run_bounded([]() -> Coroutine<> {
        std::vector<Task<>> none;
        // Python raises at the await; the C++ wait() checks its arguments when called.
        EXPECT_THROW((void)asyncio::wait(none), std::invalid_argument);
        co_return;
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_first_completed
TEST(BaseTaskTests, test_wait_first_completed) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1h));
        auto b = asyncio::create_task(just_sleep(1ms));
        auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
        auto [done, pending] = co_await asyncio::wait(fs, asyncio::FIRST_COMPLETED);
        EXPECT_EQ(done, std::vector{b});
        EXPECT_EQ(pending, std::vector{a});
        EXPECT_FALSE(a.done());
        EXPECT_TRUE(b.done());
        a.cancel();
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_really_done
TEST(BaseTaskTests, test_wait_really_done) {
    run_bounded([]() -> Coroutine<> {
        auto coro1 = []() -> Coroutine<> { co_await asyncio::sleep(0); };
        auto coro2 = []() -> Coroutine<> {
            co_await asyncio::sleep(0);
            co_await asyncio::sleep(0);
        };
        auto a = asyncio::create_task(coro1());
        auto b = asyncio::create_task(coro2());
        auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
        auto [done, pending] = co_await asyncio::wait(fs, asyncio::FIRST_COMPLETED);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_TRUE(a.done());
        EXPECT_TRUE(b.done());
    }());
}

Coroutine<> raise_zero_division(std::chrono::milliseconds d) {
    if (d.count() > 0) co_await asyncio::sleep(d);
    throw ZeroDivisionError();
}

// test_tasks.py: BaseTaskTests.test_wait_first_exception
TEST(BaseTaskTests, test_wait_first_exception) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1h));
        auto b = asyncio::create_task(raise_zero_division(0ms));
        auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
        auto [done, pending] = co_await asyncio::wait(fs, asyncio::FIRST_EXCEPTION);
        EXPECT_EQ(done, std::vector{b});
        EXPECT_EQ(pending, std::vector{a});
        a.cancel();
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_first_exception_in_wait
TEST(BaseTaskTests, test_wait_first_exception_in_wait) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1h));
        auto b = asyncio::create_task(raise_zero_division(1ms));
        auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
        auto [done, pending] = co_await asyncio::wait(fs, asyncio::FIRST_EXCEPTION);
        EXPECT_EQ(done, std::vector{b});
        EXPECT_EQ(pending, std::vector{a});
        a.cancel();
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_with_exception
TEST(BaseTaskTests, test_wait_with_exception) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1ms));
        auto b = asyncio::create_task(raise_zero_division(2ms));
        for (int i = 0; i < 2; ++i) {
            auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
            auto [done, pending] = co_await asyncio::wait(fs);
            EXPECT_EQ(done.size(), 2u);
            EXPECT_TRUE(pending.empty());
            EXPECT_EQ(std::count_if(done.begin(), done.end(), [](const Task<>& f) { return f.exception() != nullptr; }), 1);
        }
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_with_timeout and test_wait_concurrent_complete
TEST(BaseTaskTests, test_wait_with_timeout) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1ms));
        auto b = asyncio::create_task(just_sleep(1h));
        auto fs = std::vector{b, a};  // named: g++ 12 rejects a braced temporary in a co_await
        auto [done, pending] = co_await asyncio::wait(fs, 20ms);
        EXPECT_EQ(done, std::vector{a});
        EXPECT_EQ(pending, std::vector{b});
        b.cancel();
    }());
}

// test_tasks.py: BaseTaskTests.test_wait_generator (any input range)
TEST(BaseTaskTests, test_wait_generator) {
    run_bounded([]() -> Coroutine<> {
        auto func = [](int a) -> Coroutine<int> { co_return a; };
        std::vector<Task<int>> tasks;
        for (int i = 0; i < 10; ++i) tasks.push_back(asyncio::create_task(func(i)));
        auto [done, pending] = co_await asyncio::wait(tasks, asyncio::ALL_COMPLETED);
        EXPECT_EQ(done.size(), 10u);
        EXPECT_EQ(pending.size(), 0u);
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed (both iteration forms)
TEST(BaseTaskTests, test_as_completed) {
    run_bounded([]() -> Coroutine<> {
        {  // try_iterator: awaiting the k-th gives the k-th to finish
            std::vector<Task<std::string>> in{asyncio::create_task(sleeper(1ms, "b")), asyncio::create_task(sleeper(50ms, "c")),
                                              asyncio::create_task(sleeper(1ms, "a"))};
            std::vector<std::string> values;
            for (auto& f : asyncio::as_completed(in)) values.push_back(co_await std::move(f));
            CO_ASSERT_TRUE(values.size() == 3);
            EXPECT_TRUE(values[0] == "a" || values[1] == "a");
            EXPECT_TRUE(values[0] == "b" || values[1] == "b");
            EXPECT_EQ(values[2], "c");
        }
        {  // try_async_iterator: the tasks themselves, as they finish
            std::vector<Task<std::string>> in{asyncio::create_task(sleeper(1ms, "b")), asyncio::create_task(sleeper(50ms, "c")),
                                              asyncio::create_task(sleeper(1ms, "a"))};
            std::vector<std::string> values;
            auto it = asyncio::as_completed(in);
            while (auto t = co_await it.next()) values.push_back(co_await *t);
            CO_ASSERT_TRUE(values.size() == 3);
            EXPECT_EQ(values[2], "c");
        }
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_same_tasks_in_as_out (the task half)
TEST(BaseTaskTests, test_as_completed_same_tasks_in_as_out) {
    run_bounded([]() -> Coroutine<> {
        auto coro = [](std::string s) -> Coroutine<std::string> { co_return s; };
        std::vector<Task<std::string>> in{asyncio::create_task(coro("b")), asyncio::create_task(coro("d"))};
        std::vector<Task<std::string>> out;
        auto it = asyncio::as_completed(in);
        while (auto t = co_await it.next()) out.push_back(*t);
        CO_ASSERT_TRUE(out.size() == 2);
        EXPECT_TRUE(std::find(out.begin(), out.end(), in[0]) != out.end());
        EXPECT_TRUE(std::find(out.begin(), out.end(), in[1]) != out.end());
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_with_timeout
TEST(BaseTaskTests, test_as_completed_with_timeout) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(sleeper(1h, "a"));
        // b is done before the call (an eager task that never suspends), so that on a busy
        // machine the 20 ms timeout cannot fire before b finishes (Python's test moves a virtual
        // clock instead).
        auto value_now = [](std::string x) -> Coroutine<std::string> { co_return x; };
        auto b = asyncio::create_task(value_now("b"), asyncio::TaskOptions{.eager_start = true});
        std::vector<std::string> values;
        int timeouts = 0;
        auto inputs = std::vector{a, b};
        for (auto& f : asyncio::as_completed(inputs, 20ms)) {
            auto e = co_await outcome(std::move(f));
            if (as<asyncio::TimeoutError>(e)) ++timeouts;
        }
        EXPECT_EQ(timeouts, 1);
        EXPECT_EQ(b.result(), "b");
        EXPECT_FALSE(a.done());  // the timeout cancels nothing
        a.cancel();
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_duplicate_coroutines (the same task twice
// counts once)
TEST(BaseTaskTests, test_as_completed_duplicate_coroutines) {
    run_bounded([]() -> Coroutine<> {
        auto coro = [](std::string s) -> Coroutine<std::string> { co_return s; };
        auto c = asyncio::create_task(coro("ham"));
        std::vector<std::string> result;
        auto inputs = std::vector{c, c, asyncio::create_task(coro("spam"))};
        for (auto& f : asyncio::as_completed(inputs))
            result.push_back(co_await std::move(f));
        std::sort(result.begin(), result.end());
        EXPECT_EQ(result, (std::vector<std::string>{"ham", "spam"}));
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_result
TEST(BaseTaskTests, test_shield_result) {
    run_bounded([]() -> Coroutine<> {
        auto inner = asyncio::get_running_loop().create_future<int>();
        auto outer = asyncio::shield(inner);
        inner.set_result(42);
        EXPECT_EQ(co_await outer, 42);
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_exception
TEST(BaseTaskTests, test_shield_exception) {
    run_bounded([]() -> Coroutine<> {
        auto inner = asyncio::get_running_loop().create_future<int>();
        auto outer = asyncio::shield(inner);
        inner.set_exception(std::make_exception_ptr(ZeroDivisionError()));
        EXPECT_EQ(type_name(co_await outcome(outer)), "ZeroDivisionError");
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_cancel_inner
TEST(BaseTaskTests, test_shield_cancel_inner) {
    run_bounded([]() -> Coroutine<> {
        auto inner = asyncio::get_running_loop().create_future<int>();
        auto outer = asyncio::shield(inner);
        inner.cancel();
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(outer.cancelled());
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_cancel_outer
TEST(BaseTaskTests, test_shield_cancel_outer) {
    run_bounded([]() -> Coroutine<> {
        auto inner = asyncio::get_running_loop().create_future<int>();
        auto outer = asyncio::shield(inner);
        outer.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(outer.cancelled());
        EXPECT_FALSE(inner.cancelled());
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_shortcut
TEST(BaseTaskTests, test_shield_shortcut) {
    run_bounded([]() -> Coroutine<> {
        auto fut = asyncio::get_running_loop().create_future<int>();
        fut.set_result(42);
        auto res = asyncio::shield(fut);
        EXPECT_TRUE(res.done());
        EXPECT_EQ(co_await res, 42);
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_effect
TEST(BaseTaskTests, test_shield_effect) {
    run_bounded([]() -> Coroutine<> {
        // Cancelling outer() cancels inner() but not vice versa.
        std::vector<int> proof;
        auto waiter = asyncio::get_running_loop().create_future<void>();
        auto inner = [&]() -> Coroutine<> {
            co_await waiter;
            proof.push_back(1);
        };
        auto outer = [&]() -> Coroutine<> {
            co_await asyncio::shield(asyncio::create_task(inner()));
            proof.push_back(100);
        };
        auto f = asyncio::create_task(outer());
        co_await asyncio::sleep(0);
        f.cancel();
        EXPECT_EQ(type_name(co_await outcome(f)), "CancelledError");
        waiter.set_result();
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        EXPECT_EQ(proof, std::vector{1});
    }());
}

// test_tasks.py: BaseTaskTests.test_shield_gather
TEST(BaseTaskTests, test_shield_gather) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto child1 = loop.create_future<int>();
        auto child2 = loop.create_future<int>();
        auto parent = asyncio::gather(child1, child2);
        auto outer = asyncio::shield(parent);
        co_await asyncio::sleep(0);
        outer.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(outer.cancelled());
        child1.set_result(1);
        child2.set_result(2);
        auto [x, y] = co_await parent;
        EXPECT_EQ(x + 10 * y, 21);
    }());
}

// test_tasks.py: BaseTaskTests.test_gather_shield
TEST(BaseTaskTests, test_gather_shield) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto child1 = loop.create_future<int>();
        auto child2 = loop.create_future<int>();
        auto inner1 = asyncio::shield(child1);
        auto inner2 = asyncio::shield(child2);
        auto parent = asyncio::gather(inner1, inner2);
        co_await asyncio::sleep(0);
        parent.cancel();
        // This should cancel inner1 and inner2 but not child1 and child2.
        co_await asyncio::sleep(0);
        EXPECT_EQ(type_name(co_await outcome(parent)), "CancelledError");
        EXPECT_TRUE(inner1.cancelled());
        EXPECT_TRUE(inner2.cancelled());
        child1.set_result(1);
        child2.set_result(2);
        co_await asyncio::sleep(0);
    }());
}

// test_tasks.py: BaseTaskTests.test_cancel_gather_1 (Python issue #26923: gather drops
// cancellation) - a gather whose children are all done refuses to be cancelled.
TEST(BaseTaskTests, test_cancel_gather_1) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto fut = loop.create_future<int>();
        auto child_coro = [](asyncio::Future<int> fut) -> Coroutine<int> { co_return co_await fut; };
        auto gather_future = asyncio::gather(child_coro(fut));
        std::optional<bool> cancel_result;
        fut.add_done_callback([&](asyncio::Future<int>) { cancel_result = gather_future.cancel(); });
        fut.set_result(42);
        auto [v] = co_await gather_future;
        CO_ASSERT_TRUE(cancel_result.has_value());
        EXPECT_EQ(*cancel_result, false);
        EXPECT_FALSE(gather_future.cancelled());
        EXPECT_EQ(v, 42);
    }());
}

Coroutine<> gather_in_a_loop() {
    for (;;) (void)co_await asyncio::gather(asyncio::return_exceptions, just_sleep(1ms));
}

/// test_cancel_gather_2's main(): cancels a task looping over gather(return_exceptions).
Coroutine<> gather_forever_then_cancel(std::string msg) {
    auto qwe = asyncio::create_task(gather_in_a_loop());
    co_await asyncio::sleep(5ms);
    qwe.cancel(msg);
    co_await qwe;
}

// test_tasks.py: BaseTaskTests.test_cancel_gather_2 - gather() propagates the CancelledError
// (and its message) raised by the inner task to its caller.
TEST(BaseTaskTests, test_cancel_gather_2) {
    for (const std::string& msg : std::vector<std::string>{"", "my message"}) {
        try {
            run_bounded(gather_forever_then_cancel(msg));
            ADD_FAILURE() << "gather() does not propagate CancelledError";
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), msg);
        }
    }
}

// test_tasks.py: CoroutineGatherTests.test_duplicate_coroutines - C++'s analogue of the same
// coroutine object twice is the same Task twice: it runs once and gives both slots its result.
TEST(CoroutineGatherTests, test_duplicate_coroutines) {
    run_bounded([]() -> Coroutine<> {
        int runs = 0;
        auto coro = [&](std::string s) -> Coroutine<std::string> {
            ++runs;
            co_return s;
        };
        auto c = asyncio::create_task(coro("abc"));
        auto [a, b, d] = co_await asyncio::gather(c, c, asyncio::create_task(coro("def")));
        EXPECT_EQ(a, "abc");
        EXPECT_EQ(b, "abc");
        EXPECT_EQ(d, "def");
        EXPECT_EQ(runs, 2);
    }());
}

// test_tasks.py: CoroutineGatherTests.test_cancellation_broadcast - cancelling the outer gather
// cancels the children; a child that swallows it does not stop the gather from ending
// cancelled.
TEST(CoroutineGatherTests, test_cancellation_broadcast) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto waiter = loop.create_future<void>();
        auto proof = 0;
        auto inner = [&]() -> Coroutine<> {
            co_await waiter;
            proof += 1;
        };
        auto child1 = asyncio::create_task(inner());
        auto child2 = asyncio::create_task(inner());
        std::optional<asyncio::Future<std::tuple<asyncio::Nothing, asyncio::Nothing>>> gatherer;
        auto outer = [&]() -> Coroutine<> {
            gatherer.emplace(asyncio::gather(child1, child2));
            co_await *gatherer;
            proof += 100;
        };
        auto f = asyncio::create_task(outer());
        co_await asyncio::sleep(0);
        EXPECT_TRUE(f.cancel());
        EXPECT_EQ(type_name(co_await outcome(f)), "CancelledError");
        EXPECT_FALSE(f.cancel());
        EXPECT_EQ(type_name(co_await outcome(*gatherer)), "CancelledError");
        EXPECT_FALSE(gatherer->cancel());
        EXPECT_TRUE(waiter.cancelled());
        EXPECT_TRUE(child1.cancelled());
        EXPECT_TRUE(child2.cancelled());
        EXPECT_EQ(proof, 0);
    }());
}

// test_tasks.py: CoroutineGatherTests.test_exception_marking - the first exception completes the
// gather; the other children keep running and are not cancelled.
TEST(CoroutineGatherTests, test_exception_marking) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto a = loop.create_future<void>();
        auto b = loop.create_future<void>();
        auto inner = [](asyncio::Future<> f) -> Coroutine<> { co_await f; };
        auto ta = asyncio::create_task(inner(a));
        auto tb = asyncio::create_task(inner(b));
        auto g = asyncio::gather(ta, tb);
        co_await asyncio::sleep(0);
        a.set_exception(std::make_exception_ptr(ZeroDivisionError()));
        EXPECT_EQ(type_name(co_await outcome(g)), "ZeroDivisionError");
        EXPECT_FALSE(tb.done());
        b.set_result();
        co_await tb;
    }());
}

// test_tasks.py: GatherTestsBase.test_return_exceptions
TEST(FutureGatherTests, test_return_exceptions) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto a = loop.create_future<int>();
        auto b = loop.create_future<int>();
        auto c = loop.create_future<int>();
        auto d = loop.create_future<int>();
        auto fut = asyncio::gather(asyncio::return_exceptions, a, b, c, d);
        a.set_result(1);
        b.set_exception(std::make_exception_ptr(ZeroDivisionError()));
        c.set_result(3);
        d.set_exception(std::make_exception_ptr(std::invalid_argument("x")));
        auto [ra, rb, rc, rd] = co_await fut;
        EXPECT_EQ(std::get<0>(ra), 1);
        EXPECT_EQ(type_name(std::get<1>(rb)), "ZeroDivisionError");
        EXPECT_EQ(std::get<0>(rc), 3);
        EXPECT_EQ(type_name(std::get<1>(rd)), "ValueError");
    }());
}

// test_tasks.py: FutureGatherTests.test_one_cancellation
TEST(FutureGatherTests, test_one_cancellation) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto a = loop.create_future<int>();
        auto b = loop.create_future<int>();
        auto c = loop.create_future<int>();
        auto d = loop.create_future<int>();
        auto e = loop.create_future<int>();
        auto fut = asyncio::gather(a, b, c, d, e);
        int calls = 0;
        fut.add_done_callback([&](auto) { ++calls; });
        a.set_result(1);
        b.cancel();
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(fut.done());
        EXPECT_EQ(calls, 1);
        EXPECT_FALSE(fut.cancelled());  // it ends with the child's CancelledError, not cancelled
        EXPECT_EQ(type_name(fut.exception()), "CancelledError");
        // Does nothing
        c.set_result(3);
        d.cancel();
        e.set_exception(std::make_exception_ptr(std::runtime_error("x")));
        (void)e.exception();
        co_await asyncio::sleep(0);
        EXPECT_EQ(calls, 1);
    }());
}

// test_tasks.py: BaseTaskTests.test_other_loop_future - the futures of two loops are rejected
// (Python's Task.__step: "Task ... got Future ... attached to a different loop").
TEST(BaseTaskTests, test_other_loop_future) {
    asyncio::EventLoop other;
    auto foreign = other.create_future<int>();
    auto e = run_bounded([](asyncio::Future<int> f) -> Coroutine<std::exception_ptr> {
        co_return co_await outcome(f);
    }(foreign));
    const auto* error = as<std::runtime_error>(e);
    ASSERT_TRUE(error);
    // Python's regex 'Task .* got Future .* attached' (std::regex trips g++ 12's
    // maybe-uninitialized warning under ASan):
    const std::string what = error->what();
    const auto got = what.find(" got Future ");
    EXPECT_TRUE(what.rfind("Task ", 0) == 0 && got != std::string::npos && what.find(" attached", got) != std::string::npos) << what;
    other.close();
}

// test_tasks.py: gather() of futures of two loops is rejected too.
TEST(BaseTaskTests, test_gather_futures_of_two_loops) {
    asyncio::EventLoop other;
    auto foreign = other.create_future<int>();
    run_bounded([](asyncio::Future<int> f) -> Coroutine<> {
        auto mine = asyncio::get_running_loop().create_future<int>();
        mine.set_result(1);
        EXPECT_THROW((void)asyncio::gather(mine, f), std::invalid_argument);  // as Python: at the call
        co_return;
    }(foreign));
    other.close();
}

// --- contextvars: a task runs in the context it captured at creation -----------------------

namespace cv = nogil::contextvars;

// test_tasks.py: BaseTaskTests.test_context_1 (sleep(0): the parent sets its value before the
// child's first step either way)
TEST(BaseTaskTests, test_context_1) {
    cv::ContextVar<std::string> cvar("cvar", "nope");
    auto sub = [](cv::ContextVar<std::string> cvar) -> Coroutine<> {
        co_await asyncio::sleep(0);
        EXPECT_EQ(cvar.get(), "nope");
        cvar.set("something else");
    };
    auto main_ = [](cv::ContextVar<std::string> cvar, decltype(sub) sub) -> Coroutine<> {
        EXPECT_EQ(cvar.get(), "nope");
        auto subtask = asyncio::create_task(sub(cvar));
        cvar.set("yes");
        EXPECT_EQ(cvar.get(), "yes");
        co_await subtask;
        EXPECT_EQ(cvar.get(), "yes");
    };
    asyncio::EventLoop loop;
    loop.run_until_complete(main_(cvar, sub));
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_context_2
TEST(BaseTaskTests, test_context_2) {
    cv::ContextVar<std::string> cvar("cvar", "nope");
    auto main_ = [](cv::ContextVar<std::string> cvar) -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        EXPECT_EQ(cvar.get(), "nope");
        for (int j = 0; j < 2; ++j) {
            auto fut = loop.create_future<void>();
            // This change must not pollute the context of the "main()" task.
            fut.add_done_callback([cvar](asyncio::Future<void>) { cvar.set("something else"); });
            cvar.set("yes" + std::to_string(j));
            loop.call_soon([fut] { fut.set_result(); });
            co_await fut;
            EXPECT_EQ(cvar.get(), "yes" + std::to_string(j));
            for (int i = 0; i < 3; ++i) {
                // The task passed its context to add_done_callback (of the sleep's future):
                cvar.set("yes" + std::to_string(i) + "-" + std::to_string(j));
                co_await asyncio::sleep(1ms);
                EXPECT_EQ(cvar.get(), "yes" + std::to_string(i) + "-" + std::to_string(j));
            }
        }
    };
    asyncio::EventLoop loop;
    loop.run_until_complete(main_(cvar));
    loop.close();
    EXPECT_EQ(cvar.get(), "nope");
}

// test_tasks.py: BaseTaskTests.test_context_3 - 100 tasks, each modifying cvar (sleeps of 0 to
// 2 ms interleave them; nothing depends on their length)
TEST(BaseTaskTests, test_context_3) {
    cv::ContextVar<int> cvar("cvar", -1);
    auto sub = [](cv::ContextVar<int> cvar, int num, unsigned seed) -> Coroutine<> {
        std::mt19937 rng(seed);
        for (int i = 0; i < 10; ++i) {
            cvar.set(num + i);
            co_await asyncio::sleep(std::chrono::microseconds(rng() % 2000));
            EXPECT_EQ(cvar.get(), num + i);
        }
    };
    auto main_ = [](cv::ContextVar<int> cvar, decltype(sub) sub) -> Coroutine<> {
        std::vector<Task<>> tasks;
        std::mt19937 rng(3);
        for (int i = 0; i < 100; ++i) tasks.push_back(asyncio::create_task(sub(cvar, static_cast<int>(rng() % 11), rng())));
        co_await asyncio::gather(tasks);
    };
    asyncio::EventLoop loop;
    loop.run_until_complete(main_(cvar, sub));
    loop.close();
    EXPECT_EQ(cvar.get(), -1);
}

Coroutine<> set_after_a_turn(cv::ContextVar<int> cvar, int val) {
    co_await asyncio::sleep(0);
    cvar.set(val);
}

/// The body of test_context_5 and test_context_6: two tasks run in one given context, one after
/// the other; each set() lands in that context. `via_loop`: loop.create_task, else
/// asyncio.create_task.
std::vector<std::optional<int>> tasks_share_a_given_context(bool via_loop) {
    cv::ContextVar<int> cvar("cvar");
    auto main_ = [](cv::ContextVar<int> cvar, bool via_loop) -> Coroutine<std::vector<std::optional<int>>> {
        std::vector<std::optional<int>> ret;
        cv::Context ctx = cv::copy_context();
        ret.push_back(ctx.get(cvar));
        for (int val = 1; val <= 2; ++val) {
            auto t = via_loop ? asyncio::get_running_loop().create_task(set_after_a_turn(cvar, val), {.context = &ctx})
                              : asyncio::create_task(set_after_a_turn(cvar, val), {.context = &ctx});
            co_await t;
            ret.push_back(ctx.get(cvar));
        }
        co_return ret;
    };
    asyncio::EventLoop loop;
    auto ret = loop.run_until_complete(main_(cvar, via_loop));
    loop.close();
    return ret;
}

// test_tasks.py: BaseTaskTests.test_context_5 (asyncio.create_task(coro, context=ctx))
TEST(BaseTaskTests, test_context_5) {
    EXPECT_EQ(tasks_share_a_given_context(false), (std::vector<std::optional<int>>{std::nullopt, 1, 2}));
}

// test_tasks.py: BaseTaskTests.test_context_6 (loop.create_task(coro, context=ctx))
TEST(BaseTaskTests, test_context_6) {
    EXPECT_EQ(tasks_share_a_given_context(true), (std::vector<std::optional<int>>{std::nullopt, 1, 2}));
}

// test_context.py: AsyncContextTest.test_asyncio_independent_contexts (CPython's development
// branch; the rule it checks holds in every version)
TEST(AsyncContextTest, test_asyncio_independent_contexts) {
    cv::ContextVar<std::string> cvar("cvar", "A");
    run_bounded([](cv::ContextVar<std::string> cvar) -> Coroutine<> {
        asyncio::Event updated1, updated2;
        auto task1 = [](cv::ContextVar<std::string> cvar, asyncio::Event* updated1, asyncio::Event* updated2) -> Coroutine<> {
            EXPECT_EQ(cvar.get(), "A");
            co_await asyncio::sleep(0);
            cvar.set("B");
            co_await asyncio::sleep(0);
            updated1->set();
            co_await updated2->wait();
            EXPECT_EQ(cvar.get(), "B");
        };
        auto task2 = [](cv::ContextVar<std::string> cvar, asyncio::Event* updated1, asyncio::Event* updated2) -> Coroutine<> {
            co_await updated1->wait();
            EXPECT_EQ(cvar.get(), "A");
            co_await asyncio::sleep(0);
            cvar.set("C");
            co_await asyncio::sleep(0);
            updated2->set();
            co_await asyncio::sleep(0);
            EXPECT_EQ(cvar.get(), "C");
        };
        auto body = [&](asyncio::TaskGroup& tg) -> Coroutine<> {
            tg.create_task(task1(cvar, &updated1, &updated2));
            tg.create_task(task2(cvar, &updated1, &updated2));
            co_return;
        };
        co_await asyncio::TaskGroup::run(body);
        EXPECT_EQ(cvar.get(), "A");
    }(cvar));
}

// A task keeps the context it built at its first set() for its later steps, and an eager task
// runs its first step in its own context too (Python's eager_start enters the task's context).
TEST(BaseTaskTests, test_context_eager_task_runs_in_its_own_context) {
    cv::ContextVar<int> cvar("cvar", 0);
    run_bounded([](cv::ContextVar<int> cvar) -> Coroutine<> {
        cvar.set(1);
        auto child = [](cv::ContextVar<int> cvar) -> Coroutine<int> {
            EXPECT_EQ(cvar.get(), 1);  // copied from the creator
            cvar.set(2);
            co_await asyncio::sleep(0);
            co_return cvar.get();
        };
        auto t = asyncio::create_task(child(cvar), {.eager_start = true});
        EXPECT_EQ(cvar.get(), 1);  // the eager step's set() stayed in the child's context
        EXPECT_EQ(co_await t, 2);
        EXPECT_EQ(t.get_context()[cvar], 2);
    }(cvar));
}

// Python's rule: a context that a running task is inside cannot be entered by another task
// (Context.run raises "is already entered"). Python reports the failed step and leaves the task
// pending forever; nogil fails the task with that RuntimeError (docs/fidelity.md).
TEST(BaseTaskTests, test_context_already_entered_fails_the_task) {
    run_bounded([]() -> Coroutine<> {
        cv::Context ctx;
        auto body = [](cv::Context ctx) -> Coroutine<> {
            // Entering our own context again, eagerly, from inside it.
            auto nested = asyncio::create_task(one_loop_turn(), {.eager_start = true, .context = &ctx});
            EXPECT_TRUE(nested.done());
            auto e = nested.exception();
            const auto* error = as<std::runtime_error>(e);
            EXPECT_TRUE(error && std::string(error->what()).find("is already entered") != std::string::npos);
            co_return;
        };
        co_await asyncio::create_task(body(ctx), {.context = &ctx});
    }());
}

}  // namespace
