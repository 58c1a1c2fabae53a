#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

asyncio::Coroutine<int> after(std::chrono::milliseconds d, int v) {
    co_await asyncio::sleep(d);
    co_return v;
}
asyncio::Coroutine<> nothing() { co_await asyncio::sleep(0); }

TEST(AsyncioGather, TupleInArgumentOrderWithNothingForVoid) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, n, b] = co_await asyncio::gather(after(3ms, 1), nothing(), after(1ms, 2));
        EXPECT_EQ(a, 1);
        EXPECT_EQ(n, asyncio::Nothing{});
        EXPECT_EQ(b, 2);
    }());
}

std::vector<int>* start_order = nullptr;
asyncio::Coroutine<int> record_start(int v) {
    start_order->push_back(v);
    co_await asyncio::sleep(0);
    co_return v;
}

TEST(AsyncioGather, ChildrenStartInArgumentOrder) {
    std::vector<int> order;
    start_order = &order;
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b, c] = co_await asyncio::gather(record_start(1), record_start(2), record_start(3));
        EXPECT_EQ(a + b + c, 6);
    }());
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3})) << "Python's gather schedules its children in order";
    start_order = nullptr;
}

TEST(AsyncioGather, RangeGivesAVector) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> coros;
        for (int i = 0; i < 10; ++i) coros.push_back(after(std::chrono::milliseconds(10 - i), i));
        std::vector<int> got = co_await asyncio::gather(std::move(coros));
        EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
        std::vector<asyncio::Coroutine<int>> none;
        EXPECT_TRUE((co_await asyncio::gather(std::move(none))).empty());
    }());
}

TEST(AsyncioGather, TasksAndFuturesMixed) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(after(1ms, 5));
        asyncio::Future<std::string> f;
        asyncio::get_running_loop().call_soon([f] { f.set_result("f"); });
        auto [x, y, z] = co_await asyncio::gather(t, f, asyncio::sleep(1ms, 9));
        EXPECT_EQ(x, 5);
        EXPECT_EQ(y, "f");
        EXPECT_EQ(z, 9);
    }());
}

TEST(AsyncioGather, FirstExceptionPropagatesAndOthersKeepRunning) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto slow = asyncio::create_task(after(20ms, 1));
        EXPECT_THROW((co_await asyncio::gather(fail_after(1ms), slow)), Boom);
        EXPECT_FALSE(slow.cancelled()) << "the other children are not cancelled";
        EXPECT_EQ(co_await slow, 1);
    }());
}

TEST(AsyncioGather, ReturnExceptionsCollectsThem) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cancelled = asyncio::create_task(after(1h, 0));
        asyncio::get_running_loop().call_soon([cancelled] { cancelled.cancel("c"); });
        auto [ok, bad, c] = co_await asyncio::gather(asyncio::return_exceptions, after(1ms, 3), fail_after(1ms), cancelled);
        EXPECT_EQ(std::get<0>(ok), 3);
        EXPECT_EQ(bad.index(), 1u);
        if (bad.index() == 1) {
            EXPECT_THROW(std::rethrow_exception(std::get<1>(bad)), Boom);
        }
        EXPECT_EQ(c.index(), 1u);
        if (c.index() == 1) {
            EXPECT_THROW(std::rethrow_exception(std::get<1>(c)), asyncio::CancelledError);
        }
    }());
}

TEST(AsyncioGather, ReturnExceptionsOverARange) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<asyncio::Coroutine<int>> coros;
        coros.push_back(after(1ms, 1));
        coros.push_back(fail_after(1ms));
        auto got = co_await asyncio::gather(asyncio::return_exceptions, std::move(coros));
        EXPECT_EQ(got.size(), 2u);
        if (got.size() != 2) co_return;
        EXPECT_EQ(std::get<0>(got[0]), 1);
        EXPECT_EQ(got[1].index(), 1u);
    }());
}

TEST(AsyncioGather, AChildCancelledIsACancelledErrorForTheGatherNotACancelOfIt) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto child = asyncio::create_task(after(1h, 0));
        auto g = asyncio::gather(child, after(1ms, 1));
        co_await asyncio::sleep(0);
        child.cancel();
        EXPECT_THROW((co_await g), asyncio::CancelledError);
        EXPECT_FALSE(g.cancelled()) << "the gather future holds a CancelledError, it is not cancelled";
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

TEST(AsyncioGather, CancellingTheGatheringTaskCancelsEveryChild) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto a = asyncio::create_task(after(1h, 1));
        auto b = asyncio::create_task(after(1h, 2));
        auto waiter = asyncio::create_task([](asyncio::Task<int> a, asyncio::Task<int> b) -> asyncio::Coroutine<> {
            co_await asyncio::gather(asyncio::return_exceptions, a, b);
        }(a, b));
        co_await asyncio::sleep(0);
        waiter.cancel();
        try {
            co_await waiter;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(waiter.cancelled()) << "cancellation wins over return_exceptions";
        EXPECT_TRUE(a.cancelled());
        EXPECT_TRUE(b.cancelled());
    }());
}

TEST(AsyncioGather, CancelOnTheGatherFutureReturnsFalseWhenAllChildrenAreDone) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto a = asyncio::create_task(after(0ms, 1));
        co_await a;
        auto g = asyncio::gather(a);
        EXPECT_FALSE(g.cancel());
        auto [v] = co_await g;
        EXPECT_EQ(v, 1);
    }());
}

TEST(AsyncioGather, SameTaskTwiceIsWaitedOnce) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto a = asyncio::create_task(after(1ms, 4));
        auto [x, y] = co_await asyncio::gather(a, a);
        EXPECT_EQ(x, 4);
        EXPECT_EQ(y, 4);
    }());
}

TEST(AsyncioGather, MoveOnlyResultsAreMovedOutOfTheChildren) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto make = [](int v) -> asyncio::Coroutine<std::unique_ptr<int>> {
            co_await asyncio::sleep(0);
            co_return std::make_unique<int>(v);
        };
        auto second = asyncio::create_task(make(2));
        auto [a, b] = co_await asyncio::gather(make(1), std::move(second));
        EXPECT_EQ(*a + *b, 3);
        std::vector<asyncio::Task<std::unique_ptr<int>>> tasks;
        for (int i = 0; i < 3; ++i) tasks.push_back(asyncio::create_task(make(i)));
        std::vector<std::unique_ptr<int>> all = co_await asyncio::gather(tasks);
        EXPECT_TRUE(all.size() == 3u && *all[2] == 2);
    }());
}

TEST(AsyncioGather, LateChildExceptionsAreNotReportedAsNeverRetrieved) {
    std::vector<std::string> messages;
    asyncio::run([](std::vector<std::string>* out) -> asyncio::Coroutine<> {
        asyncio::get_running_loop().set_exception_handler(
            [out](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { out->push_back(c.message); });
        auto fail_after = [](int turns) -> asyncio::Coroutine<int> {
            for (int i = 0; i < turns; ++i) co_await asyncio::sleep(0);
            throw std::runtime_error("late");
            co_return 0;
        };
        try {
            co_await asyncio::gather(fail_after(1), fail_after(3));
        } catch (const std::runtime_error&) {
        }
        for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0);
    }(&messages));
    EXPECT_TRUE(messages.empty()) << messages.front();
}

}  // namespace
