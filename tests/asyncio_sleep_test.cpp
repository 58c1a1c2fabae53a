#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

TEST(AsyncioSleep, ZeroYieldsExactlyOnce) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<std::string> log;
        auto& loop = asyncio::get_running_loop();
        loop.call_soon([&] { log.push_back("a"); });
        co_await asyncio::sleep(0);
        log.push_back("after sleep(0)");
        loop.call_soon([&] { log.push_back("b"); });
        co_await asyncio::sleep(0);
        EXPECT_EQ(log, (std::vector<std::string>{"a", "after sleep(0)", "b"}));
        EXPECT_EQ(loop.core().timer_count(), 0u) << "sleep(0) arms no timer";
    }());
}

TEST(AsyncioSleep, ReturnsNoEarlierThanTheDelay) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto start = std::chrono::steady_clock::now();
        co_await asyncio::sleep(20ms);
        EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
        double t0 = asyncio::get_running_loop().time();
        co_await asyncio::sleep(0.01);
        EXPECT_GE(asyncio::get_running_loop().time() - t0, 0.01);
    }());
}

TEST(AsyncioSleep, ReturnsTheValue) {
    auto v = asyncio::run([]() -> asyncio::Coroutine<std::string> {
        co_return co_await asyncio::sleep(1ms, std::string("done"));
    }());
    EXPECT_EQ(v, "done");
    EXPECT_EQ(asyncio::run([]() -> asyncio::Coroutine<int> { co_return co_await asyncio::sleep(0.0, 4); }()), 4);
}

TEST(AsyncioSleep, NaNThrowsInvalidArgument) {
    EXPECT_THROW((void)asyncio::sleep(std::nan("")), std::invalid_argument);
    EXPECT_THROW((void)asyncio::sleep(std::chrono::duration<double>(std::nan(""))), std::invalid_argument);
}

TEST(AsyncioSleep, NegativeAndHugeDelays) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        co_await asyncio::sleep(-5s);  // like sleep(0)
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<> { co_await asyncio::sleep(1e300); }());
        co_await asyncio::sleep(0);
        t.cancel();
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(t.cancelled());
    }());
}

TEST(AsyncioSleep, CancelDuringSleepZeroIsThrownFromIt) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<int> {
            co_await asyncio::sleep(0);
            co_await asyncio::sleep(0);
            co_return 1;
        }());
        co_await asyncio::sleep(0);  // t is now suspended in its first sleep(0), already rescheduled
        t.cancel();
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(t.cancelled());
    }());
}

TEST(AsyncioSleep, OutsideATaskThrows) {
    asyncio::EventLoop loop;
    // A raw awaiter driven outside a task has no task to suspend.
    auto s = asyncio::sleep(0);
    EXPECT_THROW(s.await_suspend(std::noop_coroutine()), std::runtime_error);
}

}  // namespace
