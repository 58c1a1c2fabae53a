// asyncio::Barrier: CPython's test_asyncio/test_locks.py BarrierTests behaviours.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/barrier.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

asyncio::Coroutine<std::size_t> wait_on(asyncio::Barrier* b) { co_return co_await b->wait(); }

TEST(AsyncioBarrier, PartiesMustBePositive) {  // test_barrier_parties
    try {
        asyncio::Barrier b(0);
        ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "parties must be >= 1");
    }
    EXPECT_THROW(asyncio::Barrier(-4), std::invalid_argument);
    EXPECT_EQ(asyncio::Barrier(5).parties(), 5u);
}

TEST(AsyncioBarrier, IndicesAreTheArrivalOrder) {  // test_context_manager, test_filling_tasks_check_return_value
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(3);
        std::vector<asyncio::Task<std::size_t>> tasks;
        for (int i = 0; i < 3; ++i) tasks.push_back(asyncio::create_task(wait_on(&barrier)));
        auto res = co_await asyncio::gather(std::vector<asyncio::Task<std::size_t>>(tasks));
        EXPECT_EQ(res, (std::vector<std::size_t>{0, 1, 2}));
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
    }());
}

TEST(AsyncioBarrier, FillingTaskByTaskAndOneParty) {  // test_filling_task_by_task, test_filling_one_task_twice
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier one(1);
        std::size_t i = co_await one.wait();
        std::size_t j = co_await one.wait();
        EXPECT_EQ(i, 0u);
        EXPECT_EQ(j, 0u);
        asyncio::Barrier barrier(3);
        auto t1 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        EXPECT_EQ(barrier.n_waiting(), 1u);
        auto t2 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        EXPECT_EQ(barrier.n_waiting(), 2u);
        auto t3 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::gather(t1, t2, t3);
        EXPECT_EQ(barrier.n_waiting(), 0u);
    }());
}

asyncio::Coroutine<> twice(asyncio::Barrier* b, std::vector<int>* results) {
    co_await b->wait();
    results->push_back(1);
    co_await b->wait();
    results->push_back(2);
}

TEST(AsyncioBarrier, TasksWaitTwice) {  // test_filling_tasks_wait_twice, test_blocking_tasks_while_draining
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(5);
        std::vector<int> results;
        std::vector<asyncio::Task<>> tasks;
        for (int i = 0; i < 5; ++i) tasks.push_back(asyncio::create_task(twice(&barrier, &results)));
        co_await asyncio::gather(std::vector<asyncio::Task<>>(tasks));
        EXPECT_EQ(results.size(), 10u);
        EXPECT_EQ(std::count(results.begin(), results.begin() + 5, 1), 5);  // nobody passes round 2 early
        EXPECT_EQ(barrier.n_waiting(), 0u);
    }());
}

TEST(AsyncioBarrier, CancelledWaiterLeaves) {  // test_filling_tasks_cancel_one
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(3);
        auto t1 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        auto t2 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        EXPECT_EQ(barrier.n_waiting(), 2u);
        t1.cancel();
        co_await asyncio::sleep(0);
        EXPECT_EQ(barrier.n_waiting(), 1u);
        EXPECT_THROW(co_await t1, asyncio::CancelledError);
        auto t3 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        EXPECT_EQ(barrier.n_waiting(), 2u);
        auto t4 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::gather(t2, t3, t4);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
    }());
}

TEST(AsyncioBarrier, CancelAfterPassingStillLetsTheRoundEnd) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(2);
        auto t1 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        std::size_t mine = co_await barrier.wait();  // passes: t1 is woken...
        EXPECT_EQ(mine, 1u);
        t1.cancel();  // ...and cancelled before it runs
        EXPECT_THROW(co_await t1, asyncio::CancelledError);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
        auto t2 = asyncio::create_task(wait_on(&barrier));  // the barrier is filling again
        std::size_t again = co_await barrier.wait();
        std::size_t other = co_await t2;
        EXPECT_EQ(again + other, 1u);
    }());
}

asyncio::Coroutine<int> wait_catching_broken(asyncio::Barrier* b) {
    try {
        co_await b->wait();
    } catch (const asyncio::BrokenBarrierError&) {
        co_return 1;
    }
    co_return 0;
}

TEST(AsyncioBarrier, ResetBreaksCurrentWaitersThenRefills) {  // test_reset_barrier_while_tasks_waiting
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(5);
        std::vector<asyncio::Task<int>> tasks;
        for (int i = 0; i < 4; ++i) tasks.push_back(asyncio::create_task(wait_catching_broken(&barrier)));
        co_await asyncio::sleep(0);
        barrier.reset();
        EXPECT_EQ(barrier.n_waiting(), 0u);  // resetting
        auto broken = co_await asyncio::gather(std::vector<asyncio::Task<int>>(tasks));
        EXPECT_EQ(std::accumulate(broken.begin(), broken.end(), 0), 4);
        EXPECT_FALSE(barrier.broken());
        // Filling again: a full round passes.
        std::vector<asyncio::Task<int>> again;
        for (int i = 0; i < 5; ++i) again.push_back(asyncio::create_task(wait_catching_broken(&barrier)));
        auto ok = co_await asyncio::gather(std::vector<asyncio::Task<int>>(again));
        EXPECT_EQ(std::accumulate(ok.begin(), ok.end(), 0), 0);
    }());
}

TEST(AsyncioBarrier, AbortBreaksNowAndLaterUntilReset) {  // test_abort_barrier, test_abort_barrier_when_exception
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(3);
        auto t1 = asyncio::create_task(wait_catching_broken(&barrier));
        co_await asyncio::sleep(0);
        barrier.abort();
        EXPECT_TRUE(barrier.broken());
        int b1 = co_await t1;
        EXPECT_EQ(b1, 1);
        try {
            co_await barrier.wait();
            ADD_FAILURE();
        } catch (const asyncio::BrokenBarrierError& e) {
            EXPECT_STREQ(e.what(), "Barrier aborted");
        }
        barrier.reset();
        EXPECT_FALSE(barrier.broken());
        std::vector<asyncio::Task<int>> again;
        for (int i = 0; i < 3; ++i) again.push_back(asyncio::create_task(wait_catching_broken(&barrier)));
        auto ok = co_await asyncio::gather(std::vector<asyncio::Task<int>>(again));
        EXPECT_EQ(std::accumulate(ok.begin(), ok.end(), 0), 0);
    }());
}

TEST(AsyncioBarrier, ArrivalsWhileDrainingWaitForTheNextRound) {  // test_draining_state
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Barrier barrier(2);
        auto t1 = asyncio::create_task(wait_on(&barrier));
        co_await asyncio::sleep(0);
        std::size_t mine = co_await barrier.wait();  // last arrival: returns at once, t1 drains
        EXPECT_EQ(mine, 1u);
        EXPECT_EQ(barrier.n_waiting(), 0u);          // draining
        // An eager task arrives at once, while the barrier drains: it blocks until t1 has left.
        auto late = asyncio::create_task(wait_on(&barrier), asyncio::TaskOptions{.eager_start = true});
        EXPECT_FALSE(late.done());
        EXPECT_EQ(barrier.n_waiting(), 0u);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t1.done());
        EXPECT_FALSE(late.done());
        std::size_t second = co_await barrier.wait();
        std::size_t first = co_await late;
        EXPECT_EQ(first + second, 1u);  // one round of two: indices 0 and 1
        EXPECT_EQ(barrier.n_waiting(), 0u);
    }());
}

}  // namespace
