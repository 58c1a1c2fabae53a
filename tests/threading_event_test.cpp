// Mirrors CPython's Lib/test/lock_tests.py (EventTests) for nogil::threading::Event.
#include <nogil/threading/event.hpp>
#include <nogil/threading/thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using nogil::threading::Event;
using Clock = std::chrono::steady_clock;

// Returns true once the thread `tid` has been seen asleep in a futex several times in a row: the
// only way to know a waiter really blocks, without sleeping for ordering. Returns false if this
// kernel does not report wait channels (wchan reads "0"), so the caller can skip.
bool wait_until_blocked_in_futex(unsigned long tid) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int streak = 0;
    while (streak < 3) {
        std::ifstream wchan("/proc/self/task/" + std::to_string(tid) + "/wchan");
        std::string where;
        wchan >> where;
        if (where.find("futex") != std::string::npos) {
            ++streak;
        } else {
            streak = 0;
            if (std::chrono::steady_clock::now() > give_up) return false;
        }
        std::this_thread::yield();
    }
    return true;
}

TEST(Event, SetClearIsSet) {
    Event event;
    EXPECT_FALSE(event.is_set());
    event.set();
    EXPECT_TRUE(event.is_set());
    event.set();
    EXPECT_TRUE(event.is_set());
    event.clear();
    EXPECT_FALSE(event.is_set());
    event.clear();
    EXPECT_FALSE(event.is_set());
}

TEST(Event, WaitReturnsAtOnceWhenSet) {
    Event event;
    event.set();
    EXPECT_TRUE(event.wait());
    EXPECT_TRUE(event.wait(0s));
    EXPECT_TRUE(event.wait(-1s));
}

TEST(Event, SetWakesEveryWaiter) {  // test_notify
    constexpr int threads = 6;
    Event event;
    std::atomic<int> woken{0};
    std::latch started(threads);
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&] {
            started.count_down();
            if (event.wait()) woken.fetch_add(1);
        });
    started.wait();
    event.set();
    pool.clear();
    EXPECT_EQ(woken.load(), threads);
}

TEST(Event, TimedWaitReturnsFalseNoEarlierThanTheTimeout) {
    Event event;
    auto start = Clock::now();
    EXPECT_FALSE(event.wait(50ms));
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_FALSE(event.wait(-5ms));
    EXPECT_FALSE(event.wait(0s));
}

TEST(Event, TimedWaitSeesASetFromAnotherThread) {
    Event event, go;
    std::jthread setter([&] {
        go.wait();
        event.set();
    });
    go.set();
    EXPECT_TRUE(event.wait(std::chrono::hours(1)));
}

TEST(Event, WaiterWokenBySetReturnsTrueEvenIfClearedBeforeItRuns) {  // test_set_and_clear
    constexpr int threads = 4;
    Event event;
    std::atomic<int> woken_true{0};
    std::vector<unsigned long> tids(threads);
    std::latch ids_known(threads);
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&, i] {
            tids[i] = nogil::threading::get_native_id();
            ids_known.count_down();
            if (event.wait(std::chrono::seconds(30))) woken_true.fetch_add(1);
        });
    ids_known.wait();
    bool all_asleep = true;
    for (auto tid : tids) all_asleep = all_asleep && wait_until_blocked_in_futex(tid);
    event.set();
    event.clear();
    pool.clear();
    if (!all_asleep) GTEST_SKIP() << "this kernel does not show where threads sleep (/proc/*/wchan)";
    EXPECT_EQ(woken_true.load(), threads);
    EXPECT_FALSE(event.is_set());
}

TEST(EventStress, PingPongKeepsStrictAlternation) {
    constexpr int rounds = 5000;
    Event ping, pong;
    long sum = 0;
    long value = 0;
    std::jthread partner([&] {
        for (int i = 1; i <= rounds; ++i) {
            ping.wait();
            ping.clear();
            sum += value;
            pong.set();
        }
    });
    for (int i = 1; i <= rounds; ++i) {
        value = i;
        ping.set();
        pong.wait();
        pong.clear();
    }
    partner.join();
    EXPECT_EQ(sum, long{rounds} * (rounds + 1) / 2);
}

TEST(EventStress, ManyWaitersManyRounds) {
    constexpr int threads = 6;
    constexpr int rounds = 300;
    Event go[rounds];
    std::atomic<int> passed{0};
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&] {
                for (auto& event : go) {
                    event.wait();
                    passed.fetch_add(1);
                }
            });
        for (auto& event : go) event.set();
    }
    EXPECT_EQ(passed.load(), threads * rounds);
}

}  // namespace
