// Mirrors CPython's test_waitfor.py and the wait/as_completed parts of test_tasks.py.
#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

asyncio::Coroutine<int> sleep_then(std::chrono::milliseconds d, int v) {
    co_await asyncio::sleep(d);
    co_return v;
}
struct Boom : std::runtime_error {
    using std::runtime_error::runtime_error;
};
asyncio::Coroutine<int> fail_after(std::chrono::milliseconds d) {
    co_await asyncio::sleep(d);
    throw Boom("boom");
}

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

TEST(AsyncioAsCompleted, YieldsInCompletionOrder) {
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

TEST(AsyncioAsCompleted, ExceptionsAndTimeout) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Task<int>> ts{asyncio::create_task(fail_after(1ms)), asyncio::create_task(sleep_then(10s, 0))};
        auto nexts = asyncio::as_completed(ts, 200ms);
        EXPECT_EQ(nexts.size(), 2u);
        EXPECT_THROW(co_await std::move(nexts[0]), Boom);
        EXPECT_THROW(co_await std::move(nexts[1]), asyncio::TimeoutError);
        EXPECT_FALSE(ts[1].done()) << "as_completed does not cancel on timeout";
        ts[1].cancel();
    }());
}

}  // namespace
