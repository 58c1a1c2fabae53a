// CPython's Lib/test/test_asyncio/test_timeouts.py (3.13), ported.
//
// `async with asyncio.timeout(d) as cm: body` is `co_await cm.run(body())` (or
// `co_await asyncio::timeout(d, body())` when cm is not needed). A TimeoutError that Python
// raises `from` a CancelledError carries it nested (std::nested_exception).
//
// Not applicable in C++:
//   test_repr_active, test_repr_expired, test_repr_finished, test_repr_disabled - Timeout has no
//     repr (C++ objects have no printable form by default).
//   test_nested_timeouts_concurrent, test_nested_timeouts_loop_busy - they block the loop with
//     time.sleep to make deadlines pass, i.e. time the test; our tests never assert timing.
//     The ordering they check (both deadlines passed: the outer raises) is test_nested_timeouts.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using namespace std::chrono_literals;

namespace {

Coroutine<> sleep_for(std::chrono::milliseconds d) { co_await asyncio::sleep(d); }

// test_timeouts.py: TimeoutTests.test_timeout_basic
TEST(TimeoutTests, test_timeout_basic) {
    run_bounded([]() -> Coroutine<> {
        auto cm = asyncio::timeout(10ms);
        auto e = co_await outcome(cm.run(sleep_for(1h)));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cm.expired());
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_at_basic
TEST(TimeoutTests, test_timeout_at_basic) {
    run_bounded([]() -> Coroutine<> {
        const double deadline = asyncio::get_running_loop().time() + 0.01;
        auto cm = asyncio::timeout_at(deadline);
        auto e = co_await outcome(cm.run(sleep_for(1h)));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cm.expired());
        CO_ASSERT_TRUE(cm.when().has_value());
        EXPECT_NEAR(*cm.when(), deadline, 1e-6);
    }());
}

// test_timeouts.py: TimeoutTests.test_nested_timeouts - only the outermost raises TimeoutError
TEST(TimeoutTests, test_nested_timeouts) {
    run_bounded([]() -> Coroutine<> {
        const double deadline = asyncio::get_running_loop().time() + 0.01;
        bool cancelled = false;
        auto cm1 = asyncio::timeout_at(deadline);
        auto cm2 = asyncio::timeout_at(deadline);
        auto inner = [&]() -> Coroutine<> {
            try {
                co_await cm2.run(sleep_for(1h));
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
                throw;
            }
        };
        auto e = co_await outcome(cm1.run(inner()));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(cm1.expired());
        EXPECT_TRUE(cm2.expired());
    }());
}

// test_timeouts.py: TimeoutTests.test_waiter_cancelled
TEST(TimeoutTests, test_waiter_cancelled) {
    run_bounded([]() -> Coroutine<> {
        bool cancelled = false;
        auto body = [&]() -> Coroutine<> {
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
                throw;
            }
        };
        auto e = co_await outcome(asyncio::timeout(10ms, body()));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cancelled);
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_not_called (without the elapsed-time assertion)
TEST(TimeoutTests, test_timeout_not_called) {
    run_bounded([]() -> Coroutine<> {
        auto cm = asyncio::timeout(1h);
        co_await cm.run(sleep_for(1ms));
        const double t1 = asyncio::get_running_loop().time();
        EXPECT_FALSE(cm.expired());
        CO_ASSERT_TRUE(cm.when().has_value());
        EXPECT_GT(*cm.when(), t1);
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_disabled and test_timeout_at_disabled
TEST(TimeoutTests, test_timeout_disabled) {
    run_bounded([]() -> Coroutine<> {
        auto cm = asyncio::timeout(std::nullopt);
        co_await cm.run(sleep_for(1ms));
        EXPECT_FALSE(cm.expired());
        EXPECT_FALSE(cm.when().has_value());
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_zero
TEST(TimeoutTests, test_timeout_zero) {
    run_bounded([]() -> Coroutine<> {
        const double t0 = asyncio::get_running_loop().time();
        auto cm = asyncio::timeout(0s);
        auto e = co_await outcome(cm.run(sleep_for(1h)));
        const double t1 = asyncio::get_running_loop().time();
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cm.expired());
        CO_ASSERT_TRUE(cm.when().has_value());
        EXPECT_LE(t0 - 1e-6, *cm.when());
        EXPECT_LE(*cm.when(), t1);
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_zero_sleep_zero
TEST(TimeoutTests, test_timeout_zero_sleep_zero) {
    run_bounded([]() -> Coroutine<> {
        auto cm = asyncio::timeout(0s);
        auto e = co_await outcome(cm.run(sleep_for(0ms)));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cm.expired());
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_in_the_past_sleep_zero
TEST(TimeoutTests, test_timeout_in_the_past_sleep_zero) {
    run_bounded([]() -> Coroutine<> {
        const double t0 = asyncio::get_running_loop().time();
        auto cm = asyncio::timeout(-11s);
        auto e = co_await outcome(cm.run(sleep_for(0ms)));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(cm.expired());
        CO_ASSERT_TRUE(cm.when().has_value());
        EXPECT_LE(*cm.when(), t0);
    }());
}

Coroutine<> raise_key_error() {
    throw std::out_of_range("KeyError");
    co_return;
}

// test_timeouts.py: TimeoutTests.test_foreign_exception_passed
TEST(TimeoutTests, test_foreign_exception_passed) {
    run_bounded([]() -> Coroutine<> {
        auto cm = asyncio::timeout(10ms);
        auto e = co_await outcome(cm.run(raise_key_error()));
        EXPECT_TRUE(as<std::out_of_range>(e));
        EXPECT_FALSE(cm.expired());
    }());
}

Coroutine<> crash() {
    try {
        co_await asyncio::sleep(1h);
    } catch (...) {
    }
    throw ZeroDivisionError();
}

// test_timeouts.py: TimeoutTests.test_foreign_exception_on_timeout
TEST(TimeoutTests, test_foreign_exception_on_timeout) {
    run_bounded([]() -> Coroutine<> {
        auto e = co_await outcome(asyncio::timeout(10ms, crash()));
        EXPECT_EQ(type_name(e), "ZeroDivisionError");
    }());
}

// test_timeouts.py: TimeoutTests.test_foreign_cancel_doesnt_timeout_if_not_expired
TEST(TimeoutTests, test_foreign_cancel_doesnt_timeout_if_not_expired) {
    run_bounded([]() -> Coroutine<> {
        auto cm = asyncio::timeout(1h);
        auto body = []() -> Coroutine<> {
            asyncio::current_task()->cancel();
            co_await asyncio::sleep(1h);
        };
        auto e = co_await outcome(cm.run(body()));
        EXPECT_EQ(type_name(e), "CancelledError");
        EXPECT_FALSE(cm.expired());
        asyncio::current_task()->uncancel();
    }());
}

// test_timeouts.py: TimeoutTests.test_outer_task_is_not_cancelled
TEST(TimeoutTests, test_outer_task_is_not_cancelled) {
    run_bounded([]() -> Coroutine<> {
        auto outer = []() -> Coroutine<> {
            auto e = co_await outcome(asyncio::timeout(1ms, sleep_for(1h)));
            EXPECT_EQ(type_name(e), "TimeoutError");
        };
        auto task = asyncio::create_task(outer());
        co_await task;
        EXPECT_FALSE(task.cancelled());
        EXPECT_TRUE(task.done());
    }());
}

// test_timeouts.py: TimeoutTests.test_reschedule
TEST(TimeoutTests, test_reschedule) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto fut = loop.create_future<asyncio::Timeout*>();
        const double deadline1 = loop.time() + 10;
        const double deadline2 = deadline1 + 20;
        auto f = [&]() -> Coroutine<> {
            auto cm = asyncio::timeout_at(deadline1);
            auto body = [&]() -> Coroutine<> {
                fut.set_result(&cm);
                co_await asyncio::sleep(50s);
            };
            co_await cm.run(body());
        };
        auto task = asyncio::create_task(f());
        asyncio::Timeout* cm = co_await fut;
        EXPECT_NEAR(*cm->when(), deadline1, 1e-6);
        cm->reschedule(deadline2);
        EXPECT_NEAR(*cm->when(), deadline2, 1e-6);
        cm->reschedule(std::nullopt);
        EXPECT_FALSE(cm->when().has_value());
        task.cancel();
        bool expired = cm->expired();  // cm dies with the task's frame: read it first
        EXPECT_EQ(type_name(co_await outcome(task)), "CancelledError");
        EXPECT_FALSE(expired);
    }());
}

// test_timeouts.py: TimeoutTests.test_nested_timeout_in_finally
TEST(TimeoutTests, test_nested_timeout_in_finally) {
    run_bounded([]() -> Coroutine<> {
        bool inner_timed_out = false;
        auto body = [&]() -> Coroutine<> {
            std::exception_ptr pending;
            try {
                co_await asyncio::sleep(1s);
            } catch (...) {
                pending = std::current_exception();
            }
            // Python's `finally:` (no co_await in a C++ handler: record, then clean up)
            auto e = co_await outcome(asyncio::timeout(10ms, sleep_for(1h)));
            inner_timed_out = type_name(e) == "TimeoutError";
            if (pending) std::rethrow_exception(pending);
        };
        auto e = co_await outcome(asyncio::timeout(10ms, body()));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_TRUE(inner_timed_out);
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_after_cancellation
TEST(TimeoutTests, test_timeout_after_cancellation) {
    run_bounded([]() -> Coroutine<> {
        bool cancelled = false;
        try {
            asyncio::current_task()->cancel();
            co_await asyncio::sleep(1s);  // work which will be cancelled
        } catch (const asyncio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        auto e = co_await outcome(asyncio::timeout(0s, sleep_for(1s)));  // some cleanup
        EXPECT_EQ(type_name(e), "TimeoutError");
        asyncio::current_task()->uncancel();
    }());
}

// test_timeouts.py: TimeoutTests.test_cancel_in_timeout_after_cancellation
TEST(TimeoutTests, test_cancel_in_timeout_after_cancellation) {
    run_bounded([]() -> Coroutine<> {
        try {
            asyncio::current_task()->cancel();
            co_await asyncio::sleep(1s);
        } catch (const asyncio::CancelledError&) {
        }
        auto body = []() -> Coroutine<> {
            asyncio::current_task()->cancel();
            co_await asyncio::sleep(2s);  // some cleanup
        };
        auto e = co_await outcome(asyncio::timeout(1s, body()));
        EXPECT_EQ(type_name(e), "CancelledError");
        asyncio::current_task()->uncancel();
        asyncio::current_task()->uncancel();
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_exception_cause - `raise TimeoutError from exc`:
// the CancelledError is nested in the TimeoutError.
TEST(TimeoutTests, test_timeout_exception_cause) {
    run_bounded([]() -> Coroutine<> {
        auto e = co_await outcome(asyncio::timeout(0s, sleep_for(1s)));
        const auto* timeout = as<asyncio::TimeoutError>(e);
        CO_ASSERT_TRUE(timeout);
        const auto* cause = dynamic_cast<const std::nested_exception*>(timeout);
        CO_ASSERT_TRUE(cause);
        EXPECT_EQ(type_name(cause->nested_ptr()), "CancelledError");
        bool rethrown = false;
        try {
            std::rethrow_if_nested(*timeout);
        } catch (const asyncio::CancelledError&) {
            rethrown = true;
        }
        EXPECT_TRUE(rethrown);
    }());
}

// test_timeouts.py: TimeoutTests.test_timeout_taskgroup (3.13) - a timeout around a TaskGroup whose
// child is still running: the group is cancelled, the timeout raises TimeoutError.
TEST(TimeoutTests, test_timeout_taskgroup) {
    run_bounded([]() -> Coroutine<> {
        auto body = [](asyncio::TaskGroup& tg) -> Coroutine<> {
            tg.create_task(sleep_for(1h));
            co_await asyncio::sleep(1h);
        };
        auto e = co_await outcome(asyncio::timeout(1ms, asyncio::TaskGroup::run(body)));
        EXPECT_EQ(type_name(e), "TimeoutError");
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

}  // namespace
