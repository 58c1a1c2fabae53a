// Mirrors CPython's Lib/test/lock_tests.py (ConditionTests) for nogil::threading::Condition.
#include <nogil/threading/condition.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using nogil::threading::Condition;
using nogil::threading::Lock;
using nogil::threading::RLock;
using Clock = std::chrono::steady_clock;

// Polls, under the condition's lock, until `ready()`; a spin for a state, not a sleep for ordering.
template <class Ready>
void poll_until(Condition& cond, Ready ready) {
    for (;;) {
        {
            std::scoped_lock guard(cond);
            if (ready()) return;
        }
        std::this_thread::yield();
    }
}

TEST(Condition, WaitAndNotifyRequireTheLock) {  // test_unacquired_wait, test_unacquired_notify
    Condition cond;
    try {
        cond.wait();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot wait on un-acquired lock");
    }
    EXPECT_THROW(cond.wait(1ms), std::runtime_error);
    try {
        cond.notify();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot notify on un-acquired lock");
    }
    EXPECT_THROW(cond.notify_all(), std::runtime_error);
}

TEST(Condition, DefaultLockIsReentrant) {  // test_acquire
    Condition cond;
    EXPECT_TRUE(cond.acquire());
    EXPECT_TRUE(cond.acquire());
    bool other = true;
    std::thread([&] { other = cond.acquire(false); }).join();
    EXPECT_FALSE(other);
    cond.release();
    cond.release();
    EXPECT_THROW(cond.release(), std::runtime_error);
}

TEST(Condition, TimedWaitReturnsFalseAndReacquires) {  // test_timeout
    Lock lock;
    Condition cond(lock);
    std::scoped_lock guard(cond);
    auto start = Clock::now();
    EXPECT_FALSE(cond.wait(50ms));
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(cond.wait(-1s));
    EXPECT_TRUE(lock.locked());
}

TEST(Condition, NotifyWakesWaitersInFifoOrder) {
    constexpr int waiters = 5;
    Condition cond;
    int entered = 0;
    std::vector<int> order;
    std::vector<std::jthread> pool;
    for (int i = 0; i < waiters; ++i) {
        pool.emplace_back([&, i] {
            std::scoped_lock guard(cond);
            ++entered;
            cond.wait();  // entered is seen by the main thread only once this waiter is queued
            order.push_back(i);
        });
        poll_until(cond, [&] { return entered == i + 1; });
    }
    for (int k = 1; k <= waiters; ++k) {
        {
            std::scoped_lock guard(cond);
            cond.notify();
        }
        poll_until(cond, [&] { return static_cast<int>(order.size()) == k; });
    }
    pool.clear();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Condition, NotifyNWakesExactlyN) {  // test_notify
    constexpr int waiters = 5;
    Condition cond;
    int entered = 0, woken = 0;
    std::vector<std::jthread> pool;
    for (int i = 0; i < waiters; ++i)
        pool.emplace_back([&] {
            std::scoped_lock guard(cond);
            ++entered;
            EXPECT_TRUE(cond.wait());
            ++woken;
        });
    poll_until(cond, [&] { return entered == waiters; });
    {
        std::scoped_lock guard(cond);
        cond.notify(2);
        EXPECT_EQ(woken, 0);  // they need the lock this thread still holds
    }
    poll_until(cond, [&] { return woken == 2; });
    {
        std::scoped_lock guard(cond);
        EXPECT_EQ(woken, 2);
        cond.notify_all();
    }
    pool.clear();
    EXPECT_EQ(woken, waiters);
}

TEST(Condition, WaitReleasesAnRLockFullyAndRestoresItsDepth) {
    RLock lock;
    Condition cond(lock);
    bool flag = false;
    lock.acquire();
    lock.acquire();
    std::jthread notifier([&] {
        std::scoped_lock guard(cond);  // possible only if wait() released both levels
        flag = true;
        cond.notify();
    });
    EXPECT_TRUE(cond.wait_for([&] { return flag; }));
    lock.release();
    EXPECT_TRUE(lock.locked());  // the second level is back
    lock.release();
    EXPECT_FALSE(lock.locked());
}

TEST(Condition, WaitForReturnsThePredicateResult) {  // test_waitfor
    Condition cond;
    int state = 0;
    std::jthread producer([&] {
        for (int i = 0; i < 4; ++i) {
            std::scoped_lock guard(cond);
            ++state;
            cond.notify();
        }
    });
    std::scoped_lock guard(cond);
    EXPECT_TRUE(cond.wait_for([&] { return state == 4; }));
    EXPECT_EQ(state, 4);
}

TEST(Condition, WaitForWithTimeoutGivesUp) {  // test_waitfor_timeout
    Condition cond;
    std::scoped_lock guard(cond);
    int calls = 0;
    auto start = Clock::now();
    EXPECT_FALSE(cond.wait_for(
        [&] {
            ++calls;
            return false;
        },
        50ms));
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_GE(calls, 2);  // checked before waiting and once more at the timeout
    EXPECT_TRUE(cond.wait_for([] { return true; }, 0s));
}

TEST(ConditionStress, ProducersAndConsumersExchangeExactTotals) {
    constexpr int producers = 4, consumers = 4, items = 5000;
    Lock lock;
    Condition not_empty(lock);
    std::deque<int> queue;
    int producers_left = producers;
    std::atomic<long> consumed_sum{0}, consumed_count{0};
    {
        std::vector<std::jthread> pool;
        for (int c = 0; c < consumers; ++c)
            pool.emplace_back([&] {
                for (;;) {
                    std::scoped_lock guard(not_empty);
                    not_empty.wait_for([&] { return !queue.empty() || producers_left == 0; });
                    if (queue.empty()) return;
                    consumed_sum.fetch_add(queue.front());
                    consumed_count.fetch_add(1);
                    queue.pop_front();
                }
            });
        for (int p = 0; p < producers; ++p)
            pool.emplace_back([&] {
                for (int i = 1; i <= items; ++i) {
                    std::scoped_lock guard(not_empty);
                    queue.push_back(i);
                    not_empty.notify();
                }
                std::scoped_lock guard(not_empty);
                if (--producers_left == 0) not_empty.notify_all();
            });
    }
    EXPECT_EQ(consumed_count.load(), long{producers} * items);
    EXPECT_EQ(consumed_sum.load(), long{producers} * items * (items + 1) / 2);
}

TEST(ConditionStress, ShortTimedWaitsRacingNotifiesKeepExactTotals) {
    // Timeouts expiring while notify() picks the same waiter exercise the unlink race in wait().
    constexpr int threads = 4, tokens_each = 2000;
    Condition cond;
    int tokens = 0;
    long taken = 0;
    {
        std::vector<std::jthread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&] {
                for (int n = 0; n < tokens_each; ++n) {
                    std::scoped_lock guard(cond);
                    while (tokens == 0) cond.wait(100us);
                    --tokens;
                    ++taken;
                }
            });
        for (int n = 0; n < threads * tokens_each; ++n) {
            std::scoped_lock guard(cond);
            ++tokens;
            cond.notify();
        }
    }
    EXPECT_EQ(taken, long{threads} * tokens_each);
    EXPECT_EQ(tokens, 0);
}

}  // namespace
