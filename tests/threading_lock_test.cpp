// Mirrors CPython's Lib/test/lock_tests.py (BaseLockTests, LockTests) for nogil::threading::Lock.
#include <nogil/threading/lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using nogil::threading::Lock;
using Clock = std::chrono::steady_clock;

TEST(Lock, StartsUnlocked) {
    Lock lock;
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, AcquireRelease) {
    Lock lock;
    EXPECT_TRUE(lock.acquire());
    EXPECT_TRUE(lock.locked());
    lock.release();
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, TryAcquireIsNotReentrant) {
    Lock lock;
    EXPECT_TRUE(lock.acquire(false));
    EXPECT_FALSE(lock.acquire(false));
    lock.release();
}

TEST(Lock, TryAcquireFailsWhileAnotherThreadHoldsIt) {
    Lock lock;
    lock.acquire();
    bool got = true;
    std::thread([&] { got = lock.acquire(false); }).join();
    EXPECT_FALSE(got);
    lock.release();
}

TEST(Lock, ReleaseUnlockedThrowsRuntimeError) {
    Lock lock;
    try {
        lock.release();
        FAIL() << "release of an unlocked lock did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "release unlocked lock");
    }
    lock.acquire();
    lock.release();
    EXPECT_THROW(lock.release(), std::runtime_error);
}

TEST(Lock, TimeoutArgumentsAreCheckedLikePython) {
    Lock lock;
    try {
        lock.acquire(false, 1s);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "can't specify a timeout for a non-blocking call");
    }
    try {
        lock.acquire(-100ms);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "timeout value must be a non-negative number");
    }
    EXPECT_THROW(lock.acquire(true, std::chrono::duration<double>(-1.0)), std::invalid_argument);
    EXPECT_FALSE(lock.locked());
    // Up to TIMEOUT_MAX is accepted; beyond it is Python's OverflowError.
    EXPECT_TRUE(lock.acquire(nogil::threading::TIMEOUT_MAX));
    lock.release();
    EXPECT_THROW(lock.acquire(std::chrono::duration<double>(1e300)), nogil::OverflowError);
    EXPECT_THROW(lock.acquire(std::chrono::hours::max()), nogil::OverflowError);
    EXPECT_FALSE(lock.locked());
    // std::chrono's TimedLockable keeps the standard's meaning: saturate.
    EXPECT_TRUE(lock.try_lock_for(std::chrono::hours::max()));
    lock.release();
    EXPECT_TRUE(lock.acquire(0s));
    EXPECT_FALSE(lock.acquire(0s));
    lock.release();
}

TEST(Lock, TimedAcquireGivesUpNoEarlierThanTheTimeout) {
    Lock lock;
    lock.acquire();
    bool got = true;
    Clock::duration elapsed{};
    std::thread([&] {
        auto start = Clock::now();
        got = lock.acquire(100ms);
        elapsed = Clock::now() - start;
    }).join();
    EXPECT_FALSE(got);
    EXPECT_GE(elapsed, 100ms);
    // test_state_after_timeout: the lock still works after a timed-out waiter left.
    lock.release();
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

TEST(Lock, ContendedAcquireBlocksUntilRelease) {
    constexpr int threads = 5;
    Lock lock;
    lock.acquire();
    std::atomic<int> finished{0};
    std::latch started(threads);
    std::vector<std::jthread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            started.count_down();
            lock.acquire();
            finished.fetch_add(1);
            lock.release();
        });
    }
    started.wait();
    EXPECT_EQ(finished.load(), 0);  // all of them must still be stuck behind the held lock
    lock.release();
    pool.clear();
    EXPECT_EQ(finished.load(), threads);
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, AnotherThreadMayRelease) {  // test_different_thread
    Lock lock;
    lock.acquire();
    std::thread([&] { lock.release(); }).join();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

TEST(Lock, ReleaseByAnotherThreadWakesABlockedAcquirer) {  // test_reacquire
    Lock lock;
    lock.acquire();
    std::latch started(1);
    std::jthread waiter([&] {
        started.count_down();
        lock.acquire();  // released below by the main thread; then released by the next thread
    });
    started.wait();
    lock.release();
    waiter.join();
    EXPECT_TRUE(lock.locked());
    std::thread([&] { lock.release(); }).join();
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, WorksWithStandardGuards) {  // Python's `with lock:`
    Lock lock;
    {
        std::scoped_lock guard(lock);
        EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
    {
        std::unique_lock guard(lock, std::try_to_lock);
        EXPECT_TRUE(guard.owns_lock());
        std::unique_lock second(lock, std::defer_lock);
        EXPECT_FALSE(second.try_lock_for(1ms));
        EXPECT_FALSE(second.try_lock_until(Clock::now() + 1ms));
    }
    EXPECT_FALSE(lock.locked());
    try {
        std::scoped_lock guard(lock);
        throw std::logic_error("leave the block by an exception");
    } catch (const std::logic_error&) {
    }
    EXPECT_FALSE(lock.locked());
}

TEST(LockStress, ExactCountUnderContention) {
    constexpr int threads = 8;
    constexpr int increments = 20000;
    Lock lock;
    long counter = 0;  // deliberately non-atomic: the lock is all that protects it
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&] {
                for (int n = 0; n < increments; ++n) {
                    std::scoped_lock guard(lock);
                    ++counter;
                }
            });
    }
    EXPECT_EQ(counter, long{threads} * increments);
}

TEST(LockStress, TimedAndTryAcquirersNeverOverlap) {
    constexpr int threads = 6;
    constexpr int increments = 5000;
    Lock lock;
    long counter = 0;
    std::atomic<int> holders{0};
    std::atomic<bool> overlap{false};
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&, i] {
                for (int n = 0; n < increments;) {
                    bool got = (i % 2 == 0) ? lock.acquire(1ms) : lock.acquire(false);
                    if (!got) continue;
                    if (holders.fetch_add(1) != 0) overlap = true;
                    ++counter;
                    holders.fetch_sub(1);
                    ++n;
                    lock.release();
                }
            });
    }
    EXPECT_FALSE(overlap.load());
    EXPECT_EQ(counter, long{threads} * increments);
}

TEST(LockStress, HandOffBetweenThreads) {
    // A lock used as a binary semaphore: one thread acquires, the other releases, many times.
    constexpr int rounds = 5000;
    Lock full, empty;
    full.acquire();
    long value = 0, sum = 0;
    std::jthread producer([&] {
        for (int i = 1; i <= rounds; ++i) {
            empty.acquire();
            value = i;
            full.release();
        }
    });
    for (int i = 1; i <= rounds; ++i) {
        full.acquire();
        sum += value;
        empty.release();
    }
    producer.join();
    EXPECT_EQ(sum, long{rounds} * (rounds + 1) / 2);
}

}  // namespace
