// CPython's Lib/test/test_asyncio/test_queues.py (3.13), ported: Queue, LifoQueue,
// PriorityQueue, task_done/join and 3.13's shutdown.
//
// Not applicable in C++:
//   test_repr, test_str, test_generic_alias - Python object model.
//   test_maxsize's negative/float maxsize - a std::size_t.
//   test_get_with_putters' mock loop, test_why_are_getters_waiting - white-box.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using namespace std::chrono_literals;

namespace {

// test_queues.py: QueueBasicTests.test_empty
TEST(QueueBasicTests, test_empty) {
    asyncio::Queue<int> q;
    EXPECT_TRUE(q.empty());
    q.put_nowait(1);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_TRUE(q.empty());
}

// test_queues.py: QueueBasicTests.test_full
TEST(QueueBasicTests, test_full) {
    asyncio::Queue<int> q;
    EXPECT_FALSE(q.full());
    asyncio::Queue<int> q1(1);
    q1.put_nowait(1);
    EXPECT_TRUE(q1.full());
}

// test_queues.py: QueueBasicTests.test_order
TEST(QueueBasicTests, test_order) {
    asyncio::Queue<int> q;
    for (int i : {1, 3, 2}) q.put_nowait(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(q.get_nowait());
    EXPECT_EQ(items, (std::vector{1, 3, 2}));
}

// test_queues.py: QueueBasicTests.test_maxsize
TEST(QueueBasicTests, test_maxsize) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q(2);
        EXPECT_EQ(q.maxsize(), 2u);
        std::vector<int> have_been_put;
        auto putter = [&]() -> Coroutine<> {
            for (int i = 0; i < 3; ++i) {
                co_await q.put(i);
                have_been_put.push_back(i);
            }
        };
        auto t = asyncio::create_task(putter());
        for (int i = 0; i < 2; ++i) co_await asyncio::sleep(0);
        EXPECT_EQ(have_been_put, (std::vector{0, 1}));  // the putter is blocked on the full queue
        EXPECT_EQ(q.get_nowait(), 0);
        co_await t;
        EXPECT_EQ(have_been_put, (std::vector{0, 1, 2}));
    }());
}

// test_queues.py: QueueGetTests.test_blocking_get
TEST(QueueGetTests, test_blocking_get) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        q.put_nowait(1);
        EXPECT_EQ(co_await q.get(), 1);
    }());
}

// test_queues.py: QueueGetTests.test_nonblocking_get_exception
TEST(QueueGetTests, test_nonblocking_get_exception) {
    asyncio::Queue<int> q;
    EXPECT_THROW(q.get_nowait(), asyncio::QueueEmpty);
}

// test_queues.py: QueueGetTests.test_get_cancelled_race - a getter cancelled after an item was
// promised to it: the item goes to the next getter, none is lost.
TEST(QueueGetTests, test_get_cancelled_race) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<std::string> q;
        auto get = [](asyncio::Queue<std::string>& q) -> Coroutine<std::string> { co_return co_await q.get(); };
        auto t1 = asyncio::create_task(get(q));
        auto t2 = asyncio::create_task(get(q));
        co_await asyncio::sleep(0);
        t1.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t1.done());
        q.put_nowait("a");
        co_await asyncio::sleep(0);
        EXPECT_EQ(t2.result(), "a");
    }());
}

// test_queues.py: QueueGetTests.test_cancelled_getters_not_being_held_in_self_getters
TEST(QueueGetTests, test_cancelled_getters_not_being_held_in_self_getters) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q(1);
        auto e = co_await outcome(asyncio::wait_for(q.get(), 1ms));
        EXPECT_EQ(type_name(e), "TimeoutError");
        q.put_nowait(1);
        EXPECT_EQ(q.get_nowait(), 1);  // no stale getter took it
    }());
}

// test_queues.py: QueueGetTests.test_cancelled_get_item_not_lost (bpo-31620 family): a getter
// woken with an item and cancelled before it runs leaves the item in the queue.
TEST(QueueGetTests, test_cancelled_get_item_not_lost) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        auto get = [](asyncio::Queue<int>& q) -> Coroutine<int> { co_return co_await q.get(); };
        auto t = asyncio::create_task(get(q));
        co_await asyncio::sleep(0);
        q.put_nowait(7);  // promised to t...
        t.cancel();       // ...which is cancelled before it runs
        EXPECT_EQ(type_name(co_await outcome(t)), "CancelledError");
        EXPECT_EQ(q.qsize(), 1u);
        EXPECT_EQ(q.get_nowait(), 7);
    }());
}

// test_queues.py: QueuePutTests.test_blocking_put
TEST(QueuePutTests, test_blocking_put) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        co_await q.put(1);
        EXPECT_EQ(co_await q.get(), 1);
    }());
}

// test_queues.py: QueuePutTests.test_nonblocking_put_exception
TEST(QueuePutTests, test_nonblocking_put_exception) {
    asyncio::Queue<int> q(1);
    q.put_nowait(1);
    EXPECT_THROW(q.put_nowait(2), asyncio::QueueFull);
}

// test_queues.py: QueuePutTests.test_put_cancelled_race
TEST(QueuePutTests, test_put_cancelled_race) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<std::string> q(1);
        auto put = [](asyncio::Queue<std::string>& q, std::string v) -> Coroutine<> { co_await q.put(v); };
        auto t_a = asyncio::create_task(put(q, "a"));
        auto t_b = asyncio::create_task(put(q, "X"));
        auto t_c = asyncio::create_task(put(q, "b"));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t_a.done());
        EXPECT_FALSE(t_b.done());
        t_b.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t_b.cancelled());
        EXPECT_EQ(q.get_nowait(), "a");
        EXPECT_EQ(co_await q.get(), "b");
        co_await t_c;
    }());
}

// test_queues.py: QueuePutTests.test_float_maxsize's integer half / test_put_with_waiting_getters
TEST(QueuePutTests, test_put_with_waiting_getters) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<std::string> q;
        auto get = [](asyncio::Queue<std::string>& q) -> Coroutine<std::string> { co_return co_await q.get(); };
        auto t = asyncio::create_task(get(q));
        co_await asyncio::sleep(0);
        co_await q.put("a");
        EXPECT_EQ(co_await t, "a");
    }());
}

// test_queues.py: LifoQueueTests.test_order
TEST(LifoQueueTests, test_order) {
    asyncio::LifoQueue<int> q;
    for (int i : {1, 3, 2}) q.put_nowait(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(q.get_nowait());
    EXPECT_EQ(items, (std::vector{2, 3, 1}));
}

// test_queues.py: PriorityQueueTests.test_order
TEST(PriorityQueueTests, test_order) {
    asyncio::PriorityQueue<int> q;
    for (int i : {1, 3, 2}) q.put_nowait(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(q.get_nowait());
    EXPECT_EQ(items, (std::vector{1, 2, 3}));
}

// test_queues.py: _QueueJoinTestMixin.test_task_done_underflow
TEST(QueueJoinTests, test_task_done_underflow) {
    asyncio::Queue<int> q;
    EXPECT_THROW(q.task_done(), std::invalid_argument);
}

// test_queues.py: _QueueJoinTestMixin.test_task_done
TEST(QueueJoinTests, test_task_done) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        for (int i = 0; i < 100; ++i) q.put_nowait(i);
        int accumulator = 0;
        bool running = true;
        auto worker = [&]() -> Coroutine<> {
            while (running) {
                int item = co_await q.get();
                accumulator += item;
                q.task_done();
            }
        };
        auto t1 = asyncio::create_task(worker());
        auto t2 = asyncio::create_task(worker());
        co_await q.join();
        EXPECT_EQ(accumulator, 4950);
        running = false;
        t1.cancel();
        t2.cancel();
        (void)co_await outcome(t1);
        (void)co_await outcome(t2);
    }());
}

// test_queues.py: _QueueJoinTestMixin.test_join_empty_queue
TEST(QueueJoinTests, test_join_empty_queue) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        co_await q.join();
        co_await q.join();
    }());
}

// test_queues.py: _QueueShutdownTestMixin.test_format / test_shutdown_empty
TEST(QueueShutdownTests, test_shutdown_empty) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        q.shutdown();
        EXPECT_TRUE(as<asyncio::QueueShutDown>(co_await outcome(q.put(1))));
        EXPECT_THROW(q.put_nowait(1), asyncio::QueueShutDown);
        EXPECT_TRUE(as<asyncio::QueueShutDown>(co_await outcome(q.get())));
        EXPECT_THROW(q.get_nowait(), asyncio::QueueShutDown);
    }());
}

// test_queues.py: _QueueShutdownTestMixin.test_shutdown_nonempty
TEST(QueueShutdownTests, test_shutdown_nonempty) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        q.put_nowait(1);
        q.shutdown();
        EXPECT_EQ(co_await q.get(), 1);  // items already in still come out
        EXPECT_TRUE(as<asyncio::QueueShutDown>(co_await outcome(q.get())));
    }());
}

// test_queues.py: _QueueShutdownTestMixin.test_shutdown_immediate
TEST(QueueShutdownTests, test_shutdown_immediate) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q;
        q.put_nowait(1);
        q.shutdown(true);
        EXPECT_TRUE(as<asyncio::QueueShutDown>(co_await outcome(q.get())));
        co_await q.join();  // the discarded items count as done
    }());
}

// test_queues.py: _QueueShutdownTestMixin.test_shutdown_allowed_transitions /
// test_shutdown_getter_waiting - blocked getters and putters are woken with QueueShutDown.
TEST(QueueShutdownTests, test_shutdown_wakes_waiters) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Queue<int> q(1);
        auto get = [](asyncio::Queue<int>& q) -> Coroutine<int> { co_return co_await q.get(); };
        auto getter = asyncio::create_task(get(q));
        co_await asyncio::sleep(0);
        q.shutdown();
        EXPECT_TRUE(as<asyncio::QueueShutDown>(co_await outcome(getter)));
        asyncio::Queue<int> full(1);
        full.put_nowait(1);
        auto put = [](asyncio::Queue<int>& q) -> Coroutine<> { co_await q.put(2); };
        auto putter = asyncio::create_task(put(full));
        co_await asyncio::sleep(0);
        full.shutdown();
        EXPECT_TRUE(as<asyncio::QueueShutDown>(co_await outcome(putter)));
    }());
}

}  // namespace
