// Mirrors CPython's test_waitfor.py and the wait/as_completed parts of test_tasks.py.
#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

// ----------------------------------------------------------------------------- wait_for

TEST(AsyncioWaitFor, ReturnsTheValueInTime) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        EXPECT_EQ(co_await asyncio::wait_for(sleep_then(1ms, 3), 10s), 3);
        EXPECT_EQ(co_await asyncio::wait_for(sleep_then(1ms, 4), std::nullopt), 4);
        EXPECT_EQ(co_await asyncio::wait_for(asyncio::sleep(1ms, 5), 10.0), 5);
    }());
}

TEST(AsyncioWaitFor, TimeoutCancelsAndWaitsForTheInnerTask) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        bool finished_cleanup = false;
        auto inner = asyncio::create_task([](bool* done) -> asyncio::Coroutine<int> {
            bool cancelled = false;
            try {
                co_await asyncio::sleep(10s);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await asyncio::sleep(2ms);  // slow cleanup: wait_for must wait for it
                *done = true;
                throw asyncio::CancelledError();
            }
            co_return 0;
        }(&finished_cleanup));
        auto start = std::chrono::steady_clock::now();
        EXPECT_THROW(co_await asyncio::wait_for(inner, 5ms), asyncio::TimeoutError);
        EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
        EXPECT_TRUE(inner.cancelled());
        EXPECT_TRUE(finished_cleanup);
    }());
}

TEST(AsyncioWaitFor, InnerThatSwallowsTheCancelGivesItsValue) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto inner = []() -> asyncio::Coroutine<int> {
            try {
                co_await asyncio::sleep(10s);
            } catch (const asyncio::CancelledError&) {
            }
            co_return 42;
        };
        EXPECT_EQ(co_await asyncio::wait_for(inner(), 1ms), 42);
        EXPECT_EQ(co_await asyncio::wait_for(asyncio::create_task(inner()), 1ms), 42);
    }());
}

TEST(AsyncioWaitFor, NonPositiveTimeoutOnADoneAwaitableGivesItsResult) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto done = asyncio::create_task(sleep_then(0ms, 7));
        co_await done;
        EXPECT_EQ(co_await asyncio::wait_for(done, 0s), 7);
        EXPECT_EQ(co_await asyncio::wait_for(done, -1s), 7);
        asyncio::Future<int> f;
        f.set_result(8);
        EXPECT_EQ(co_await asyncio::wait_for(f, 0.0), 8);
    }());
}

TEST(AsyncioWaitFor, NonPositiveTimeoutOnAPendingOneCancelsItAndTimesOut) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        bool started = false;
        auto never = [](bool* started) -> asyncio::Coroutine<int> {
            *started = true;
            co_await asyncio::sleep(10s);
            co_return 0;
        };
        EXPECT_THROW(co_await asyncio::wait_for(never(&started), 0s), asyncio::TimeoutError);
        EXPECT_FALSE(started) << "cancelled before it ran";
        auto t = asyncio::create_task(never(&started));
        co_await asyncio::sleep(0);
        EXPECT_THROW(co_await asyncio::wait_for(t, -1.0), asyncio::TimeoutError);
        EXPECT_TRUE(t.cancelled());
    }());
}

TEST(AsyncioWaitFor, ExceptionPassesThrough) {
    asyncio::run([]() -> asyncio::Coroutine<> { EXPECT_THROW(co_await asyncio::wait_for(fail_after(1ms), 10s), Boom); }());
}

TEST(AsyncioWaitFor, CancellingTheWaiterCancelsTheInnerAndIsNotATimeout) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto inner = asyncio::create_task(sleep_then(10s, 0));
        auto waiter = asyncio::create_task([](asyncio::Task<int> inner) -> asyncio::Coroutine<int> {
            co_return co_await asyncio::wait_for(inner, 10s);
        }(inner));
        co_await asyncio::sleep(1ms);
        waiter.cancel();
        try {
            co_await waiter;
            ADD_FAILURE();
        } catch (const asyncio::CancelledError&) {
        } catch (const asyncio::TimeoutError&) {
            ADD_FAILURE() << "a cancel is not a timeout";
        }
        EXPECT_TRUE(inner.cancelled());
    }());
}

TEST(AsyncioWaitFor, SelfCancellationInsideIsACancel) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<int> {
            auto inner = []() -> asyncio::Coroutine<int> {
                asyncio::current_task()->cancel();
                co_await asyncio::sleep(0);
                co_return 1;
            };
            co_return co_await asyncio::wait_for(inner(), 10s);
        }());
        EXPECT_THROW(co_await t, asyncio::CancelledError);
    }());
}

// ----------------------------------------------------------------------------- wait

TEST(AsyncioWait, AllCompleted) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(2ms, 1)), asyncio::create_task(sleep_then(1ms, 2))};
        auto [done, pending] = co_await asyncio::wait(ts);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_TRUE(pending.empty());
    }());
}

TEST(AsyncioWait, FirstCompleted) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(10s, 1)), asyncio::create_task(sleep_then(1ms, 2))};
        auto [done, pending] = co_await asyncio::wait(ts, asyncio::FIRST_COMPLETED);
        EXPECT_EQ(done.size(), 1u);
        EXPECT_EQ(done.size() == 1 ? done[0].result() : -1, 2);
        EXPECT_EQ(pending.size(), 1u);
        EXPECT_FALSE(ts[0].done()) << "wait never cancels";
        ts[0].cancel();
    }());
}

TEST(AsyncioWait, FirstException) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(10s, 1)), asyncio::create_task(fail_after(1ms)),
                                           asyncio::create_task(sleep_then(0ms, 3))};
        co_await ts[2];  // done before the wait starts
        auto [done, pending] = co_await asyncio::wait(ts, asyncio::FIRST_EXCEPTION);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_EQ(pending.size(), 1u);
        ts[0].cancel();
    }());
}

TEST(AsyncioWait, TimeoutReturnsPendingWithoutCancelling) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(10s, 1)), asyncio::create_task(sleep_then(1ms, 2))};
        auto start = std::chrono::steady_clock::now();
        auto [done, pending] = co_await asyncio::wait(ts, 5ms);
        EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
        EXPECT_EQ(done.size(), 1u);
        EXPECT_EQ(pending.size(), 1u);
        EXPECT_FALSE(ts[0].cancelled());
        ts[0].cancel();
    }());
}

TEST(AsyncioWait, EmptyThrows) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> none;
        EXPECT_THROW((void)asyncio::wait(none), std::invalid_argument);
        co_return;
    }());
}

TEST(AsyncioWait, CancellingTheWaiterLeavesTheTasksRunning) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(5ms, 1))};
        auto waiter = asyncio::create_task([](std::vector<asyncio::Task<int>> ts) -> asyncio::Coroutine<> {
            co_await asyncio::wait(ts);
        }(ts));
        co_await asyncio::sleep(0);
        waiter.cancel();
        EXPECT_THROW(co_await waiter, asyncio::CancelledError);
        EXPECT_FALSE(ts[0].done());
        EXPECT_EQ(co_await ts[0], 1);
    }());
}

// ----------------------------------------------------------------------------- as_completed
// CPython's test_as_completed*: each case runs in both forms, plain iteration (results) and
// next() (Python 3.13's async iteration: the original tasks).

/// Three tasks whose value is their index, finishing in the order 1, 2, 0.
std::vector<asyncio::Task<int>> staggered() {
    return {asyncio::create_task(sleep_then(6ms, 0)), asyncio::create_task(sleep_then(2ms, 1)),
            asyncio::create_task(sleep_then(4ms, 2))};
}

TEST(AsyncioAsCompleted, PlainIterationYieldsResultsInCompletionOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> coros;
        coros.push_back(sleep_then(6ms, 3));
        coros.push_back(sleep_then(2ms, 1));
        coros.push_back(sleep_then(4ms, 2));
        std::vector<int> order;
        for (auto& next : asyncio::as_completed(coros)) order.push_back(co_await std::move(next));
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    }());
}

TEST(AsyncioAsCompleted, NextYieldsTheOriginalTasksInCompletionOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto ts = staggered();
        auto it = asyncio::as_completed(ts);
        std::vector<asyncio::Task<int>> out;
        while (auto t = co_await it.next()) out.push_back(*t);
        CO_ASSERT_TRUE(out.size() == 3u);
        EXPECT_TRUE(out[0] == ts[1]);
        EXPECT_TRUE(out[1] == ts[2]);
        EXPECT_TRUE(out[2] == ts[0]);
        EXPECT_EQ(out[2].result(), 0);
        EXPECT_FALSE(co_await it.next()) << "stays exhausted";
    }());
}

TEST(AsyncioAsCompleted, NextYieldsTasksWrappingTheCoroutinesGiven) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> coros;
        coros.push_back(sleep_then(2ms, 1));
        coros.push_back(sleep_then(0ms, 0));
        auto it = asyncio::as_completed(coros);
        std::vector<int> values;
        while (auto t = co_await it.next()) {
            EXPECT_TRUE(t->done());
            values.push_back(t->result());
        }
        EXPECT_EQ(values, (std::vector<int>{0, 1}));
    }());
}

TEST(AsyncioAsCompleted, NextGivesAFailedTaskWithoutThrowing) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(fail_after(1ms)), asyncio::create_task(sleep_then(3ms, 2))};
        auto it = asyncio::as_completed(ts);
        auto first = co_await it.next();
        CO_ASSERT_TRUE(first);
        EXPECT_TRUE(*first == ts[0]);
        EXPECT_THROW((void)first->result(), Boom);
        auto second = co_await it.next();
        CO_ASSERT_TRUE(second);
        EXPECT_EQ(second->result(), 2);
    }());
}

TEST(AsyncioAsCompleted, PlainIterationRaisesEachException) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(3ms, 2)), asyncio::create_task(fail_after(1ms))};
        auto it = asyncio::as_completed(ts);
        auto pos = it.begin();
        EXPECT_THROW(co_await std::move(*pos), Boom);
        ++pos;
        EXPECT_EQ(co_await std::move(*pos), 2);
        ++pos;
        EXPECT_TRUE(pos == it.end());
    }());
}

TEST(AsyncioAsCompleted, DoneBeforeTheCallComeFirstInInputOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> later, done_a, done_b;
        done_a.set_result(1);
        done_b.set_result(2);
        std::vector<asyncio::Future<int>> fs{later, done_b, done_a};
        auto it = asyncio::as_completed(fs);
        // Completes before anyone awaits, but after the call: it must come after the done ones.
        asyncio::get_running_loop().call_soon([later]() mutable { later.set_result(3); });
        std::vector<int> values;
        while (auto f = co_await it.next()) values.push_back(f->result());
        EXPECT_EQ(values, (std::vector<int>{2, 1, 3}));
    }());
}

TEST(AsyncioAsCompleted, DuplicatesCountOnce) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto a = asyncio::create_task(sleep_then(1ms, 1));
        auto b = asyncio::create_task(sleep_then(0ms, 2));
        std::vector<asyncio::Task<int>> ts{a, a, b, a};
        auto it = asyncio::as_completed(ts);
        EXPECT_EQ(it.remaining(), 2u);
        std::vector<int> values;
        while (auto t = co_await it.next()) values.push_back(t->result());
        EXPECT_EQ(values, (std::vector<int>{2, 1}));
        int plain = 0;
        for (auto& next : asyncio::as_completed(ts)) {
            co_await std::move(next);
            ++plain;
        }
        EXPECT_EQ(plain, 2);
    }());
}

TEST(AsyncioAsCompleted, EmptyInputGivesNothing) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> none;
        auto it = asyncio::as_completed(none, 1ms);
        EXPECT_FALSE(co_await it.next());
        EXPECT_TRUE(it.begin() == it.end());
    }());
}

TEST(AsyncioAsCompleted, TimeoutRaisesFromTheAwaitThatPassesItInBothForms) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> never;
        std::vector<asyncio::Future<int>> fs{never, asyncio::Future<int>()};
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(1ms, 1)), asyncio::create_task(sleep_then(10s, 0))};
        {
            auto start = std::chrono::steady_clock::now();
            auto it = asyncio::as_completed(ts, 20ms);
            auto first = co_await it.next();
            CO_ASSERT_TRUE(first);
            EXPECT_EQ(first->result(), 1);
            EXPECT_THROW((void)co_await it.next(), asyncio::TimeoutError);
            EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
            EXPECT_FALSE(co_await it.next()) << "every input was drawn";
        }
        {
            auto start = std::chrono::steady_clock::now();
            auto it = asyncio::as_completed(fs, 20ms);
            auto pos = it.begin();
            EXPECT_THROW(co_await std::move(*pos), asyncio::TimeoutError);
            EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
            ++pos;
            EXPECT_THROW(co_await std::move(*pos), asyncio::TimeoutError) << "each later await throws too";
            ++pos;
            EXPECT_TRUE(pos == it.end());
        }
        EXPECT_FALSE(never.done()) << "a timeout never cancels an input";
        EXPECT_FALSE(ts[1].done());
        ts[1].cancel();
    }());
}

TEST(AsyncioAsCompleted, TheTimeoutDoesNotCancelTheInputs) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(fail_after(1ms)), asyncio::create_task(sleep_then(10s, 0))};
        // The failing input is done before as_completed starts: its completion is then queued ahead
        // of the timeout's timer whatever the machine's load (a 1 ms task against a 20 ms timeout
        // once lost the race on a loaded machine).
        co_await asyncio::wait(ts, asyncio::FIRST_COMPLETED);
        CO_ASSERT_TRUE(ts[0].done());
        auto nexts = asyncio::as_completed(ts, 20ms);
        EXPECT_EQ(nexts.remaining(), 2u);
        auto pos = nexts.begin();
        EXPECT_THROW(co_await std::move(*pos), Boom);
        ++pos;
        EXPECT_THROW(co_await std::move(*pos), asyncio::TimeoutError);
        EXPECT_FALSE(ts[1].done()) << "as_completed does not cancel on timeout";
        ts[1].cancel();
    }());
}

TEST(AsyncioAsCompleted, UnusedTimeoutChangesNothing) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(1ms, 7))};
        auto it = asyncio::as_completed(ts, 10s);
        auto t = co_await it.next();
        CO_ASSERT_TRUE(t);
        EXPECT_EQ(t->result(), 7);
        for (auto& next : asyncio::as_completed(ts, 10s)) EXPECT_EQ(co_await std::move(next), 7);
    }());
}

TEST(AsyncioAsCompleted, ResumesAfterABreakAndTheFormsShareOneCount) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> coros;
        for (int i = 0; i < 4; ++i) coros.push_back(sleep_then(std::chrono::milliseconds(i), i));
        auto it = asyncio::as_completed(coros);
        std::multiset<int> got;
        for (auto& next : it) {
            got.insert(co_await std::move(next));
            if (got.size() == 2) break;
        }
        EXPECT_EQ(it.remaining(), 2u);
        { [[maybe_unused]] auto never_awaited = it.next(); }
        EXPECT_EQ(it.remaining(), 2u) << "next() counts when awaited, as __anext__";
        auto t = co_await it.next();
        CO_ASSERT_TRUE(t);
        got.insert(t->result());
        for (auto& next : it) got.insert(co_await std::move(next));  // resumes with the last one
        EXPECT_EQ(got, (std::multiset<int>{0, 1, 2, 3}));
        EXPECT_EQ(it.remaining(), 0u);
        EXPECT_FALSE(co_await it.next());
    }());
}

TEST(AsyncioAsCompleted, AwaitingInReverseStillGivesCompletionOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> coros;
        coros.push_back(sleep_then(1ms, 1));
        coros.push_back(sleep_then(5ms, 2));
        std::vector<asyncio::Coroutine<int>> nexts;
        for (auto& next : asyncio::as_completed(coros)) nexts.push_back(std::move(next));
        CO_ASSERT_TRUE(nexts.size() == 2u);
        EXPECT_EQ(co_await std::move(nexts[1]), 1) << "the first awaited gets the first finished";
        EXPECT_EQ(co_await std::move(nexts[0]), 2);
    }());
}

TEST(AsyncioAsCompleted, ConcurrentAwaitsEachGetOne) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(sleep_then(2ms, 1)), asyncio::create_task(sleep_then(2ms, 2)),
                                           asyncio::create_task(sleep_then(1ms, 3))};
        {
            std::vector<asyncio::Coroutine<int>> nexts;
            for (auto& next : asyncio::as_completed(ts)) nexts.push_back(std::move(next));
            auto values = co_await asyncio::gather(std::move(nexts));
            EXPECT_EQ(std::multiset<int>(values.begin(), values.end()), (std::multiset<int>{1, 2, 3}));
        }
        {
            auto it = asyncio::as_completed(ts);
            std::vector<asyncio::Coroutine<std::optional<asyncio::Task<int>>>> nexts;
            for (int i = 0; i < 3; ++i) nexts.push_back(it.next());
            auto got = co_await asyncio::gather(std::move(nexts));
            std::multiset<int> values;
            for (auto& t : got) values.insert(t ? t->result() : -1);
            EXPECT_EQ(values, (std::multiset<int>{1, 2, 3}));
        }
    }());
}

TEST(AsyncioAsCompleted, CancellingTheIteratingTaskLeavesTheInputsAndLosesNone) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> input;
        std::vector<asyncio::Future<int>> fs{input};
        auto it = asyncio::as_completed(fs);
        auto a = asyncio::create_task(it.next());
        co_await asyncio::sleep(0);  // a waits for the input
        a.cancel();
        EXPECT_THROW((void)co_await a, asyncio::CancelledError);
        EXPECT_FALSE(input.done()) << "the input is not cancelled";
        EXPECT_EQ(it.remaining(), 1u) << "the cancelled call gave its draw back";
        input.set_result(1);
        auto got = co_await it.next();
        CO_ASSERT_TRUE(got);
        EXPECT_TRUE(*got == input) << "a later call gets the input";
        EXPECT_FALSE(co_await it.next());
    }());
}

TEST(AsyncioAsCompleted, ACancelledNextPassesItsInputToTheNextCaller) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> x, y;
        std::vector<asyncio::Future<int>> fs{x, y};
        auto it = asyncio::as_completed(fs);
        auto a = asyncio::create_task(it.next());
        auto b = asyncio::create_task(it.next());
        co_await asyncio::sleep(0);  // both wait, a first
        x.set_result(1);
        co_await asyncio::sleep(0);  // x's callback ran: x is promised to a, which has not run
        a.cancel();
        EXPECT_THROW((void)co_await a, asyncio::CancelledError);
        auto got = co_await b;
        CO_ASSERT_TRUE(got);
        EXPECT_TRUE(*got == x) << "a cancelled waiter does not take an input with it";
        y.set_result(2);
        co_await asyncio::sleep(0);
    }());
}

}  // namespace
