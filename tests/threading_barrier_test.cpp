// Mirrors CPython's Lib/test/lock_tests.py (BarrierTests) for nogil::threading::Barrier.
#include <nogil/threading/barrier.hpp>
#include <nogil/threading/thread.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using nogil::threading::Barrier;
using nogil::threading::BrokenBarrierError;
using Clock = std::chrono::steady_clock;

// Runs body(i) on n threads and joins them all.
template <class Body>
void run_threads(int n, Body body) {
    std::vector<std::jthread> pool;
    for (int i = 0; i < n; ++i) pool.emplace_back(body, i);
}

void wait_until_waiting(Barrier& barrier, std::size_t n) {
    while (barrier.n_waiting() != n) std::this_thread::yield();
}

TEST(Barrier, PartiesMustBePositive) {
    EXPECT_THROW(Barrier(0), std::invalid_argument);
    try {
        Barrier negative(-1);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "parties must be >= 1");
    }
    Barrier b(3);
    EXPECT_EQ(b.parties(), 3u);
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
}

TEST(Barrier, SingleParty) {  // test_single_thread
    Barrier b(1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(b.wait(), 0u);
}

TEST(Barrier, NoThreadStartsARoundBeforeAllFinishedThePrevious) {  // test_barrier
    constexpr int parties = 5, rounds = 4;
    Barrier b(parties);
    std::atomic<int> arrived[rounds] = {};
    std::atomic<bool> early{false};
    run_threads(parties, [&](int) {
        for (int r = 0; r < rounds; ++r) {
            arrived[r].fetch_add(1);
            b.wait();
            if (arrived[r].load() != parties) early = true;
        }
    });
    EXPECT_FALSE(early.load());
    EXPECT_FALSE(b.broken());
}

TEST(Barrier, WaitReturnsEachIndexOncePerRound) {  // test_wait_return
    constexpr int parties = 4;
    Barrier b(parties);
    std::mutex m;
    std::multiset<std::size_t> indices;
    run_threads(parties, [&](int) {
        auto index = b.wait();
        std::scoped_lock guard(m);
        indices.insert(index);
    });
    EXPECT_EQ(indices, (std::multiset<std::size_t>{0, 1, 2, 3}));
}

TEST(Barrier, ActionRunsOnceByTheLastArrivalBeforeRelease) {  // test_action
    constexpr int parties = 4, rounds = 3;
    std::atomic<int> actions{0};
    unsigned long action_thread = 0;
    Barrier b(parties, [&] {
        actions.fetch_add(1);
        action_thread = nogil::threading::get_ident();
    });
    std::atomic<bool> wrong{false};
    run_threads(parties, [&](int) {
        for (int r = 1; r <= rounds; ++r) {
            auto index = b.wait();
            if (actions.load() != 2 * r - 1) wrong = true;  // the action ran before anyone left
            if (index == parties - 1 && action_thread != nogil::threading::get_ident()) wrong = true;
            b.wait();  // a second round (its action runs too) so no one checks a later round's count
        }
    });
    EXPECT_FALSE(wrong.load());
    EXPECT_EQ(actions.load(), 2 * rounds);
}

TEST(Barrier, ThrowingActionBreaksTheBarrier) {
    constexpr int parties = 3;
    Barrier b(parties, [] { throw std::domain_error("action failed"); });
    std::atomic<int> action_errors{0}, broken_errors{0};
    run_threads(parties, [&](int) {
        try {
            b.wait();
        } catch (const std::domain_error&) {
            action_errors.fetch_add(1);
        } catch (const BrokenBarrierError&) {
            broken_errors.fetch_add(1);
        }
    });
    EXPECT_EQ(action_errors.load(), 1);
    EXPECT_EQ(broken_errors.load(), parties - 1);
    EXPECT_TRUE(b.broken());
    EXPECT_THROW(b.wait(), BrokenBarrierError);
    b.reset();
    EXPECT_FALSE(b.broken());
}

// Starts `waiters` threads in b.wait(), calls interrupt() once they all wait, and returns how
// many of them got BrokenBarrierError.
template <class Interrupt>
int broken_waiters_after(Barrier& b, int waiters, Interrupt interrupt) {
    std::atomic<int> broken_errors{0};
    std::vector<std::jthread> pool;
    for (int i = 0; i < waiters; ++i)
        pool.emplace_back([&] {
            try {
                b.wait();
            } catch (const BrokenBarrierError&) {
                broken_errors.fetch_add(1);
            }
        });
    wait_until_waiting(b, static_cast<std::size_t>(waiters));
    interrupt();
    pool.clear();
    return broken_errors.load();
}

TEST(Barrier, AbortBreaksCurrentAndLaterWaits) {  // test_abort
    constexpr int parties = 3;
    Barrier b(parties);
    EXPECT_EQ(broken_waiters_after(b, parties - 1, [&] { b.abort(); }), parties - 1);
    EXPECT_TRUE(b.broken());
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_THROW(b.wait(), BrokenBarrierError);
}

TEST(Barrier, ResetReleasesWaitersWithBrokenBarrierErrorThenWorksAgain) {  // test_reset
    constexpr int parties = 3;
    Barrier b(parties);
    EXPECT_EQ(broken_waiters_after(b, parties - 1, [&] { b.reset(); }), parties - 1);
    EXPECT_FALSE(b.broken());
    std::atomic<int> passed{0};
    run_threads(parties, [&](int) {
        b.wait();
        passed.fetch_add(1);
    });
    EXPECT_EQ(passed.load(), parties);
}

TEST(Barrier, AbortThenResetMakesItUsable) {  // test_abort_and_reset
    Barrier b(2);
    b.abort();
    EXPECT_TRUE(b.broken());
    b.reset();
    EXPECT_FALSE(b.broken());
    run_threads(2, [&](int) { b.wait(); });
}

TEST(Barrier, TimeoutBreaksTheBarrier) {  // test_timeout
    Barrier b(2);
    auto start = Clock::now();
    EXPECT_THROW(b.wait(50ms), BrokenBarrierError);
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_TRUE(b.broken());
}

TEST(Barrier, DefaultTimeoutApplies) {  // test_default_timeout
    Barrier b(2, {}, 50ms);
    auto start = Clock::now();
    EXPECT_THROW(b.wait(), BrokenBarrierError);
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_TRUE(b.broken());
}

TEST(Barrier, ExplicitTimeoutLongEnoughPasses) {
    Barrier b(2, {}, 1ms);
    run_threads(2, [&](int) { b.wait(std::chrono::hours(1)); });
    EXPECT_FALSE(b.broken());
}

TEST(BarrierStress, ManyThreadsManyRounds) {
    constexpr int parties = 8, rounds = 300;
    std::atomic<int> actions{0};
    Barrier b(parties, [&] { actions.fetch_add(1); });
    std::atomic<long> index_sum{0};
    std::atomic<bool> early{false};
    std::atomic<int> arrived[rounds] = {};
    run_threads(parties, [&](int) {
        for (int r = 0; r < rounds; ++r) {
            arrived[r].fetch_add(1);
            index_sum.fetch_add(static_cast<long>(b.wait()));
            if (arrived[r].load() != parties) early = true;
        }
    });
    EXPECT_FALSE(early.load());
    EXPECT_EQ(actions.load(), rounds);
    EXPECT_EQ(index_sum.load(), long{rounds} * parties * (parties - 1) / 2);
}

}  // namespace
