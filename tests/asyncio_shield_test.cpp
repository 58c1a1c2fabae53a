#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <stdexcept>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

TEST(AsyncioShield, PassesTheResultThrough) {
    asyncio::run([]() -> asyncio::Coroutine<> { EXPECT_EQ(co_await asyncio::shield(sleep_then(1ms, 5)), 5); }());
}

TEST(AsyncioShield, CancellingTheAwaiterLeavesTheInnerRunning) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> gate;
        auto inner = asyncio::create_task([](asyncio::Future<int> gate) -> asyncio::Coroutine<int> {
            co_return co_await gate;
        }(gate));
        auto outer = asyncio::create_task([](asyncio::Task<int> inner) -> asyncio::Coroutine<int> {
            co_return co_await asyncio::shield(inner);
        }(inner));
        co_await asyncio::sleep(0);
        outer.cancel();
        EXPECT_THROW(co_await outer, asyncio::CancelledError);
        EXPECT_FALSE(inner.done());
        EXPECT_FALSE(gate.cancelled());
        gate.set_result(9);
        EXPECT_EQ(co_await inner, 9);
    }());
}

TEST(AsyncioShield, InnerCancelledMeansOuterCancelled) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto inner = asyncio::create_task(sleep_then(1h, 0));
        auto outer = asyncio::shield(inner);
        co_await asyncio::sleep(0);
        inner.cancel();
        EXPECT_THROW(co_await outer, asyncio::CancelledError);
        EXPECT_TRUE(outer.cancelled());
    }());
}

TEST(AsyncioShield, ExceptionPassesThrough) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto failing = []() -> asyncio::Coroutine<int> {
            co_await asyncio::sleep(0);
            throw std::domain_error("d");
        };
        EXPECT_THROW(co_await asyncio::shield(failing()), std::domain_error);
    }());
}

TEST(AsyncioShield, DoneInnerGivesADoneOuter) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto inner = asyncio::create_task(sleep_then(0ms, 2));
        co_await inner;
        auto outer = asyncio::shield(inner);
        EXPECT_TRUE(outer.done());
        EXPECT_EQ(outer.result(), 2);
    }());
}

TEST(AsyncioShield, WithWaitForTheInnerSurvivesTheTimeout) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto inner = asyncio::create_task(sleep_then(10ms, 3));
        EXPECT_THROW(co_await asyncio::wait_for(asyncio::shield(inner), 1ms), asyncio::TimeoutError);
        EXPECT_FALSE(inner.cancelled());
        EXPECT_EQ(co_await inner, 3);
    }());
}

}  // namespace
