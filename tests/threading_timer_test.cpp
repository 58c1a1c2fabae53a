// nogil::threading::Timer, after CPython's TimerTests in Lib/test/test_threading.py.
#include <nogil/threading/event.hpp>
#include <nogil/threading/timer.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

namespace {

using namespace std::chrono_literals;
using nogil::threading::Event;
using nogil::threading::Timer;
using Clock = std::chrono::steady_clock;

TEST(Timer, CallsTheFunctionWithItsArgumentsAfterTheInterval) {
    int got = 0;
    Clock::time_point fired{};
    auto start = Clock::now();
    Timer t(30ms, [&](int a, int b) {
        got = a + b;
        fired = Clock::now();
    }, 40, 2);
    t.start();
    t.join();
    EXPECT_EQ(got, 42);
    EXPECT_GE(fired - start, 30ms);
}

TEST(Timer, CancelBeforeStartMeansNoCall) {
    bool called = false;
    Timer t(1ms, [&] { called = true; });
    t.cancel();
    t.start();
    t.join();
    EXPECT_FALSE(called);
}

TEST(Timer, CancelDuringTheIntervalEndsTheThreadWithoutCalling) {
    bool called = false;
    Timer t(std::chrono::hours(1), [&] { called = true; });
    t.start();
    EXPECT_TRUE(t.is_alive());
    t.cancel();
    t.join();  // returns because cancel() woke the waiting timer thread
    EXPECT_FALSE(called);
    EXPECT_FALSE(t.is_alive());
}

TEST(Timer, CancelAfterFiringIsHarmless) {
    std::atomic<int> calls{0};
    Timer t(0s, [&] { calls.fetch_add(1); });
    t.start();
    t.join();
    t.cancel();
    EXPECT_EQ(calls.load(), 1);
}

TEST(Timer, IsAThreadWithNameAndOptions) {
    Timer unnamed(0s, [] {});
    EXPECT_EQ(unnamed.name().rfind("Thread-", 0), 0u) << unnamed.name();
    Event ran;
    std::string seen_name;
    Timer named({.name = "ticker", .daemon = true}, 1ms, [&] {
        seen_name = nogil::threading::current_thread().name();
        ran.set();
    });
    EXPECT_TRUE(named.daemon());
    named.start();
    EXPECT_TRUE(ran.wait(std::chrono::hours(1)));
    named.join();
    EXPECT_EQ(seen_name, "ticker");
    EXPECT_THROW(named.start(), std::runtime_error);
}

TEST(TimerStress, ManyTimersHalfCancelled) {
    constexpr int timers = 40;
    std::atomic<int> calls{0};
    std::vector<Timer> all;
    for (int i = 0; i < timers; ++i) all.emplace_back(i % 2 ? std::chrono::hours(1) : 0h, [&] { calls.fetch_add(1); });
    for (auto& t : all) t.start();
    for (int i = 1; i < timers; i += 2) all[i].cancel();
    for (auto& t : all) t.join();
    EXPECT_EQ(calls.load(), timers / 2);
}

}  // namespace
