// Mirrors CPython's Lib/test/lock_tests.py (BaseSemaphoreTests, SemaphoreTests,
// BoundedSemaphoreTests) for nogil::threading::Semaphore and BoundedSemaphore.
#include <nogil/threading/semaphore.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using nogil::threading::BoundedSemaphore;
using nogil::threading::Semaphore;
using Clock = std::chrono::steady_clock;

int drain(Semaphore& sem) {
    int n = 0;
    while (sem.acquire(false)) ++n;
    return n;
}

TEST(Semaphore, NegativeInitialValueIsRejected) {
    try {
        Semaphore sem(-1);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "semaphore initial value must be >= 0");
    }
    EXPECT_THROW(BoundedSemaphore(-1), std::invalid_argument);
    Semaphore zero(0);
    EXPECT_FALSE(zero.acquire(false));
}

TEST(Semaphore, DefaultValueIsOne) {
    Semaphore sem;
    EXPECT_EQ(drain(sem), 1);
}

TEST(Semaphore, CountsAcquiresAndReleases) {
    Semaphore sem(3);
    EXPECT_TRUE(sem.acquire());
    EXPECT_TRUE(sem.acquire(false));
    EXPECT_TRUE(sem.acquire(1s));
    EXPECT_FALSE(sem.acquire(false));
    sem.release();
    sem.release(2);
    EXPECT_EQ(drain(sem), 3);
}

TEST(Semaphore, ArgumentsAreCheckedLikePython) {
    Semaphore sem(1);
    EXPECT_THROW(sem.acquire(false, 1s), std::invalid_argument);
    try {
        sem.release(0);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "n must be one or more");
    }
    EXPECT_THROW(sem.release(-3), std::invalid_argument);
    EXPECT_EQ(drain(sem), 1);
    // Unlike Lock, a negative timeout means "do not wait" (CPython's Semaphore does the same).
    EXPECT_FALSE(sem.acquire(-1s));
}

TEST(Semaphore, TimedAcquireGivesUpNoEarlierThanTheTimeout) {
    Semaphore sem(0);
    auto start = Clock::now();
    EXPECT_FALSE(sem.acquire(50ms));
    EXPECT_GE(Clock::now() - start, 50ms);
}

TEST(Semaphore, ReleaseWakesBlockedAcquirers) {  // test_acquire_contended
    constexpr int threads = 6;
    Semaphore sem(0);
    std::atomic<int> through{0};
    std::latch started(threads);
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&] {
            started.count_down();
            sem.acquire();
            through.fetch_add(1);
        });
    started.wait();
    EXPECT_EQ(through.load(), 0);
    sem.release(2);
    sem.release(threads - 2);
    pool.clear();
    EXPECT_EQ(through.load(), threads);
    EXPECT_FALSE(sem.acquire(false));
}

TEST(Semaphore, TryAcquireContendedHandsOutExactlyTheCount) {  // test_try_acquire_contended
    Semaphore sem(4);
    sem.acquire();
    std::atomic<int> got{0}, refused{0};
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < 5; ++i)
            pool.emplace_back([&] {
                for (int n = 0; n < 2; ++n) (sem.acquire(false) ? got : refused).fetch_add(1);
            });
    }
    EXPECT_EQ(got.load(), 3);
    EXPECT_EQ(refused.load(), 7);
}

TEST(Semaphore, ReleaseOfNLetsExactlyNBlockedAcquirersThrough) {  // test_acquire_contended
    constexpr int threads = 6;
    Semaphore sem(0);
    std::atomic<int> through{0};
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&] {
            sem.acquire();
            through.fetch_add(1);
        });
    sem.release(4);
    while (through.load() < 4) std::this_thread::yield();
    EXPECT_FALSE(sem.acquire(false));  // all four units went to the blocked threads
    EXPECT_EQ(through.load(), 4);
    sem.release(2);
    pool.clear();
    EXPECT_EQ(through.load(), threads);
}

TEST(Semaphore, WorksAsAStandardGuard) {
    Semaphore sem(2);
    {
        std::scoped_lock guard(sem);
        EXPECT_EQ(drain(sem), 1);
        sem.release();
    }
    EXPECT_EQ(drain(sem), 2);
}

TEST(BoundedSemaphore, OverReleaseThrows) {
    BoundedSemaphore sem(2);
    try {
        sem.release();
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "Semaphore released too many times");
    }
    sem.acquire();
    sem.acquire();
    EXPECT_THROW(sem.release(3), std::invalid_argument);
    sem.release(2);
    EXPECT_THROW(sem.release(), std::invalid_argument);
    EXPECT_EQ(drain(sem), 2);
}

TEST(SemaphoreStress, NeverMoreHoldersThanTheCount) {
    constexpr int limit = 3;
    constexpr int threads = 8;
    constexpr int iterations = 3000;
    BoundedSemaphore sem(limit);
    std::atomic<int> holders{0}, most{0}, done{0};
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&, i] {
                for (int n = 0; n < iterations; ++n) {
                    if (i % 3 == 0) {
                        while (!sem.acquire(1ms)) {
                        }
                    } else {
                        sem.acquire();
                    }
                    int now = holders.fetch_add(1) + 1;
                    int seen = most.load();
                    while (now > seen && !most.compare_exchange_weak(seen, now)) {
                    }
                    holders.fetch_sub(1);
                    done.fetch_add(1);
                    sem.release();
                }
            });
    }
    EXPECT_LE(most.load(), limit);
    EXPECT_GE(most.load(), 1);
    EXPECT_EQ(done.load(), threads * iterations);
    EXPECT_EQ(drain(sem), limit);  // every release matched an acquire
}

}  // namespace
