// CPython's Lib/test/test_asyncio/test_waitfor.py (3.13), ported.
//
// SlowTask (which ignores cancel requests until its deadline) becomes a task that swallows
// cancellations until an Event is set, so no test waits on wall-clock time for its ordering.
// A TimeoutError raised `from` the CancelledError (Python's __cause__/__context__) carries it
// nested (std::nested_exception).
//
// Not applicable in C++: none of the module's cases (all are ported).
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using namespace std::chrono_literals;

namespace {

/// Python's SlowTask: runs until `exit_at` is set, ignoring cancel requests meanwhile.
struct SlowTask {
    asyncio::Event exit_at;
    bool exited = false;
    int cancels_ignored = 0;
    Coroutine<> run() {
        while (!exit_at.is_set()) {
            try {
                co_await exit_at.wait();
            } catch (const asyncio::CancelledError&) {
                ++cancels_ignored;
            }
        }
        exited = true;
    }
};

// test_waitfor.py: AsyncioWaitForTest.test_asyncio_wait_for_cancelled
TEST(AsyncioWaitForTest, test_asyncio_wait_for_cancelled) {
    run_bounded([]() -> Coroutine<> {
        SlowTask t;
        auto waitfortask = asyncio::create_task(asyncio::wait_for(t.run(), 1h));
        co_await asyncio::sleep(0);
        waitfortask.cancel();
        co_await asyncio::sleep(0);
        EXPECT_EQ(t.cancels_ignored, 1);
        t.exit_at.set();
        auto fs = std::vector{waitfortask};  // named: g++ 12 rejects a braced temporary in a co_await
        co_await asyncio::wait(fs);
        EXPECT_TRUE(t.exited);
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_asyncio_wait_for_timeout - wait_for returns only once
// the (cancel-ignoring) inner coroutine has finished.
TEST(AsyncioWaitForTest, test_asyncio_wait_for_timeout) {
    run_bounded([]() -> Coroutine<> {
        SlowTask t;
        auto release = [&]() -> Coroutine<> {
            while (t.cancels_ignored == 0) co_await asyncio::sleep(1ms);
            t.exit_at.set();
        };
        auto releaser = asyncio::create_task(release());
        (void)co_await outcome(asyncio::wait_for(t.run(), 5ms));  // it swallowed: no TimeoutError either way
        EXPECT_TRUE(t.exited);
        co_await releaser;
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_future_done
TEST(AsyncioWaitForTest, test_wait_for_timeout_less_then_0_or_0_future_done) {
    run_bounded([]() -> Coroutine<> {
        auto fut = asyncio::get_running_loop().create_future<std::string>();
        fut.set_result("done");
        auto ret = co_await asyncio::wait_for(fut, 0s);
        EXPECT_EQ(ret, "done");
        EXPECT_TRUE(fut.done());
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started
TEST(AsyncioWaitForTest, test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started) {
    run_bounded([]() -> Coroutine<> {
        bool foo_started = false;
        auto foo = [&]() -> Coroutine<> {
            foo_started = true;
            co_return;
        };
        auto e = co_await outcome(asyncio::wait_for(foo(), 0s));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_FALSE(foo_started);
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0
TEST(AsyncioWaitForTest, test_wait_for_timeout_less_then_0_or_0) {
    run_bounded([]() -> Coroutine<> {
        for (auto timeout : {0s, -1s}) {
            SCOPED_TRACE(timeout.count());
            bool foo_running = false;
            asyncio::Event started;
            auto foo = [&]() -> Coroutine<std::string> {
                foo_running = true;
                started.set();
                struct Finally {
                    bool& running;
                    ~Finally() { running = false; }
                } finally{foo_running};
                co_await asyncio::sleep(1h);
                co_return "done";
            };
            auto fut = asyncio::create_task(foo());
            co_await started.wait();
            auto e = co_await outcome(asyncio::wait_for(fut, timeout));
            EXPECT_EQ(type_name(e), "TimeoutError");
            EXPECT_TRUE(fut.done());
            EXPECT_TRUE(fut.cancelled());
            EXPECT_FALSE(foo_running);
        }
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for
TEST(AsyncioWaitForTest, test_wait_for) {
    run_bounded([]() -> Coroutine<> {
        bool foo_running = false;
        auto foo = [&]() -> Coroutine<std::string> {
            foo_running = true;
            struct Finally {
                bool& running;
                ~Finally() { running = false; }
            } finally{foo_running};
            co_await asyncio::sleep(1h);
            co_return "done";
        };
        auto fut = asyncio::create_task(foo());
        auto e = co_await outcome(asyncio::wait_for(fut, 10ms));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(fut.done());
        EXPECT_TRUE(fut.cancelled());
        EXPECT_FALSE(foo_running);
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_blocking
TEST(AsyncioWaitForTest, test_wait_for_blocking) {
    run_bounded([]() -> Coroutine<> {
        auto coro = []() -> Coroutine<std::string> { co_return "done"; };
        EXPECT_EQ(co_await asyncio::wait_for(coro(), std::nullopt), "done");
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_race_condition
TEST(AsyncioWaitForTest, test_wait_for_race_condition) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto fut = loop.create_future<std::string>();
        loop.call_soon([fut] { fut.set_result("ok"); });
        EXPECT_EQ(co_await asyncio::wait_for(fut, 200ms), "ok");
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_cancellation_race_condition
TEST(AsyncioWaitForTest, test_wait_for_cancellation_race_condition) {
    run_bounded([]() -> Coroutine<> {
        auto inner = []() -> Coroutine<int> {
            bool cancelled = false;
            try {
                co_await asyncio::sleep(1s);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            EXPECT_TRUE(cancelled);
            co_return 1;
        };
        EXPECT_EQ(co_await asyncio::wait_for(inner(), 10ms), 1);
    }());
}

/// The tests' inner(): on cancel, sleeps a little before re-raising; `task_done` when it ends.
Coroutine<> slow_to_cancel(bool* task_done) {
    struct Finally {
        bool* done;
        ~Finally() { *done = true; }
    } finally{task_done};
    bool cancelled = false;
    try {
        co_await asyncio::sleep(1h);
    } catch (const asyncio::CancelledError&) {
        cancelled = true;
    }
    if (cancelled) {
        co_await asyncio::sleep(1ms);
        throw asyncio::CancelledError();
    }
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation - and the
// TimeoutError's context is the CancelledError (nested).
TEST(AsyncioWaitForTest, test_wait_for_waits_for_task_cancellation) {
    run_bounded([]() -> Coroutine<> {
        bool task_done = false;
        auto inner = [&]() -> Coroutine<> { co_await slow_to_cancel(&task_done); };
        auto inner_task = asyncio::create_task(inner());
        auto e = co_await outcome(asyncio::wait_for(inner_task, 1ms));
        EXPECT_TRUE(task_done);
        const auto* timeout = as<asyncio::TimeoutError>(e);
        CO_ASSERT_TRUE(timeout);
        const auto* chained = dynamic_cast<const std::nested_exception*>(timeout);
        CO_ASSERT_TRUE(chained);
        EXPECT_EQ(type_name(chained->nested_ptr()), "CancelledError");
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation_w_timeout_0
TEST(AsyncioWaitForTest, test_wait_for_waits_for_task_cancellation_w_timeout_0) {
    run_bounded([]() -> Coroutine<> {
        bool task_done = false;
        auto inner = [&]() -> Coroutine<> { co_await slow_to_cancel(&task_done); };
        auto foo = [&]() -> Coroutine<> {
            auto inner_task = asyncio::create_task(inner());
            co_await asyncio::sleep(1ms);
            co_await asyncio::wait_for(inner_task, 0s);
        };
        auto e = co_await outcome(foo());
        EXPECT_TRUE(task_done);
        const auto* timeout = as<asyncio::TimeoutError>(e);
        CO_ASSERT_TRUE(timeout);
        const auto* chained = dynamic_cast<const std::nested_exception*>(timeout);
        CO_ASSERT_TRUE(chained);
        EXPECT_EQ(type_name(chained->nested_ptr()), "CancelledError");
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_reraises_exception_during_cancellation
TEST(AsyncioWaitForTest, test_wait_for_reraises_exception_during_cancellation) {
    struct FooException : std::runtime_error {
        FooException() : std::runtime_error("FooException") {}
    };
    run_bounded([]() -> Coroutine<> {
        auto foo = []() -> Coroutine<> {
            auto inner = []() -> Coroutine<> {
                try {
                    co_await asyncio::sleep(1h);
                } catch (...) {
                }
                throw FooException();
            };
            auto inner_task = asyncio::create_task(inner());
            co_await asyncio::wait_for(inner_task, 1ms);
        };
        EXPECT_TRUE(as<FooException>(co_await outcome(foo())));
    }());
}

Coroutine<> test_cancel_wait_for(std::optional<std::chrono::seconds> timeout) {
    auto& loop = asyncio::get_running_loop();
    auto blocking_coroutine = [&]() -> Coroutine<> {
        auto fut = loop.create_future<void>();
        co_await fut;  // never set
    };
    auto task = asyncio::create_task(blocking_coroutine());
    auto wait = timeout ? asyncio::create_task(asyncio::wait_for(task, *timeout))
                        : asyncio::create_task(asyncio::wait_for(task, std::nullopt));
    loop.call_soon([wait] { wait.cancel(); });
    EXPECT_EQ(type_name(co_await outcome(wait)), "CancelledError");
    // Python issue #23219: cancelling the wait must also cancel the task
    EXPECT_TRUE(task.cancelled());
}

// test_waitfor.py: AsyncioWaitForTest.test_cancel_blocking_wait_for
TEST(AsyncioWaitForTest, test_cancel_blocking_wait_for) { run_bounded(test_cancel_wait_for(std::nullopt)); }

// test_waitfor.py: AsyncioWaitForTest.test_cancel_wait_for
TEST(AsyncioWaitForTest, test_cancel_wait_for) { run_bounded(test_cancel_wait_for(60s)); }

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_cancel_suppressed (GH-86296)
TEST(AsyncioWaitForTest, test_wait_for_cancel_suppressed) {
    run_bounded([]() -> Coroutine<> {
        auto return_42 = []() -> Coroutine<int> {
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
            }
            co_return 42;
        };
        EXPECT_EQ(co_await asyncio::wait_for(return_42(), 10ms), 42);
    }());
}

// test_waitfor.py: AsyncioWaitForTest.test_wait_for_issue86296
TEST(AsyncioWaitForTest, test_wait_for_issue86296) {
    run_bounded([]() -> Coroutine<> {
        auto inner = []() -> Coroutine<std::string> { co_return "done"; };
        auto inner_task = asyncio::create_task(inner());
        bool reached_end = false;
        auto wait_for_coro = [&]() -> Coroutine<> {
            co_await asyncio::wait_for(inner_task, 100s);
            co_await asyncio::sleep(1s);
            reached_end = true;
        };
        auto task = asyncio::create_task(wait_for_coro());
        EXPECT_FALSE(task.done());
        co_await asyncio::sleep(0);  // run the task
        task.cancel();
        EXPECT_EQ(type_name(co_await outcome(task)), "CancelledError");
        EXPECT_TRUE(inner_task.done());
        EXPECT_EQ(co_await inner_task, "done");
        EXPECT_FALSE(reached_end);
    }());
}

/// Python's `await asyncio.sleep(0.1); return 'done'`, ending when `release` is set rather than
/// after a time, so that "still running after the timeout" does not depend on the machine's speed.
Coroutine<std::string> done_when(asyncio::Event& release) {
    co_await release.wait();
    co_return "done";
}

// test_waitfor.py: WaitForShieldTests.test_zero_timeout
TEST(WaitForShieldTests, test_zero_timeout) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event release;
        auto task = asyncio::create_task(done_when(release));
        auto shielded_task = asyncio::shield(task);
        auto e = co_await outcome(asyncio::wait_for(shielded_task, 0s));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_FALSE(task.done());  // running in the background
        EXPECT_FALSE(task.cancelled());
        EXPECT_TRUE(shielded_task.cancelled());
        release.set();
        EXPECT_EQ(co_await task, "done");
    }());
}

// test_waitfor.py: WaitForShieldTests.test_none_timeout
TEST(WaitForShieldTests, test_none_timeout) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event release;
        auto task = asyncio::create_task(done_when(release));
        asyncio::get_running_loop().call_soon([&release] { release.set(); });
        co_await asyncio::wait_for(asyncio::shield(task), std::nullopt);
        EXPECT_TRUE(task.done());
        EXPECT_EQ(co_await task, "done");
    }());
}

// test_waitfor.py: WaitForShieldTests.test_shielded_timeout
TEST(WaitForShieldTests, test_shielded_timeout) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event release;
        auto task = asyncio::create_task(done_when(release));
        auto e = co_await outcome(asyncio::wait_for(asyncio::shield(task), 1ms));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_FALSE(task.done());
        EXPECT_FALSE(task.cancelled());
        release.set();
        EXPECT_EQ(co_await task, "done");
    }());
}

}  // namespace
