// Mirrors CPython's Lib/test/lock_tests.py (RLockTests) for nogil::threading::RLock.
#include <nogil/threading/rlock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using nogil::threading::RLock;
using Clock = std::chrono::steady_clock;

bool acquire_elsewhere(RLock& lock) {
    bool got = false;
    std::thread([&] {
        got = lock.acquire(false);
        if (got) lock.release();
    }).join();
    return got;
}

TEST(RLock, IsReentrantAndCountsLevels) {
    RLock lock;
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(lock.acquire());
    EXPECT_TRUE(lock.acquire());
    EXPECT_TRUE(lock.acquire(false));
    EXPECT_TRUE(lock.acquire(10ms));
    EXPECT_TRUE(lock.locked());
    for (int i = 0; i < 3; ++i) {
        lock.release();
        EXPECT_TRUE(lock.locked());
        EXPECT_FALSE(acquire_elsewhere(lock));
    }
    lock.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(acquire_elsewhere(lock));
}

TEST(RLock, ReleaseUnacquiredThrows) {
    RLock lock;
    try {
        lock.release();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot release un-acquired lock");
    }
    lock.acquire();
    lock.release();
    EXPECT_THROW(lock.release(), std::runtime_error);
}

TEST(RLock, OnlyTheOwnerMayRelease) {  // test_different_thread
    RLock lock;
    lock.acquire();
    bool threw = false;
    std::thread([&] {
        try {
            lock.release();
        } catch (const std::runtime_error&) {
            threw = true;
        }
    }).join();
    EXPECT_TRUE(threw);
    EXPECT_TRUE(lock.locked());
    lock.release();
}

TEST(RLock, TimeoutArgumentsAreCheckedLikePython) {
    RLock lock;
    EXPECT_THROW(lock.acquire(false, 1s), std::invalid_argument);
    EXPECT_THROW(lock.acquire(-1s), std::invalid_argument);
    EXPECT_FALSE(lock.locked());
}

TEST(RLock, TimedAcquireGivesUpNoEarlierThanTheTimeout) {
    RLock lock;
    lock.acquire();
    bool got = true;
    Clock::duration elapsed{};
    std::thread([&] {
        auto start = Clock::now();
        got = lock.acquire(50ms);
        elapsed = Clock::now() - start;
    }).join();
    EXPECT_FALSE(got);
    EXPECT_GE(elapsed, 50ms);
    lock.release();
}

TEST(RLock, BlockedAcquirerGetsItOnceFullyReleased) {
    RLock lock;
    lock.acquire();
    lock.acquire();
    std::latch started(1);
    std::atomic<bool> got{false};
    std::jthread waiter([&] {
        started.count_down();
        lock.acquire();
        got = true;
        lock.release();
    });
    started.wait();
    lock.release();
    EXPECT_FALSE(got.load());  // still one level held by this thread
    lock.release();
    waiter.join();
    EXPECT_TRUE(got.load());
}

TEST(RLock, WorksWithNestedStandardGuards) {
    RLock lock;
    {
        std::scoped_lock outer(lock);
        std::scoped_lock inner(lock);
        std::unique_lock timed(lock, std::defer_lock);
        EXPECT_TRUE(timed.try_lock_for(1ms));
    }
    EXPECT_FALSE(lock.locked());
}

TEST(RLockStress, RecursiveIncrementsGiveAnExactCount) {
    constexpr int threads = 6;
    constexpr int increments = 10000;
    RLock lock;
    long counter = 0;
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&] {
                for (int n = 0; n < increments; ++n) {
                    std::scoped_lock outer(lock);
                    std::scoped_lock inner(lock);
                    ++counter;
                }
            });
    }
    EXPECT_EQ(counter, long{threads} * increments);
    EXPECT_FALSE(lock.locked());
}

}  // namespace
