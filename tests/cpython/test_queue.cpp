// CPython's Lib/test/test_queue.py, ported: BaseQueueTestMixin (on Queue, LifoQueue and
// PriorityQueue), the 3.13 shutdown tests and BaseSimpleQueueTest. Not applicable: FailingQueueTest
// (it monkeypatches _put/_get to raise; a C++ storage policy is fixed at compile time),
// test_is_default / C-vs-Python variants (one implementation), reentrancy through __del__ (no GC).
#include <nogil/errors.hpp>
#include <nogil/queue.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

namespace q = nogil::queue;
using namespace std::chrono_literals;

const std::vector<int> QUEUE_SIZE_ITEMS{111, 333, 222};

template <class Queue>
std::vector<int> target_order();
template <>
std::vector<int> target_order<q::Queue<int>>() { return {111, 333, 222}; }
template <>
std::vector<int> target_order<q::LifoQueue<int>>() { return {222, 333, 111}; }
template <>
std::vector<int> target_order<q::PriorityQueue<int>>() { return {111, 222, 333}; }

template <class Queue>
class BaseQueueTest : public ::testing::Test {};
using QueueTypes = ::testing::Types<q::Queue<int>, q::LifoQueue<int>, q::PriorityQueue<int>>;
TYPED_TEST_SUITE(BaseQueueTest, QueueTypes);

// test_queue.py: BaseQueueTestMixin.simple_queue_test / test_basic
TYPED_TEST(BaseQueueTest, test_basic) {
    TypeParam queue(3);
    EXPECT_TRUE(queue.empty());
    EXPECT_FALSE(queue.full());
    for (int x : QUEUE_SIZE_ITEMS) queue.put(x);
    EXPECT_EQ(queue.qsize(), 3u);
    EXPECT_TRUE(queue.full());
    std::vector<int> got;
    for (int i = 0; i < 3; ++i) got.push_back(queue.get());
    EXPECT_EQ(got, target_order<TypeParam>());
    // A put on a full queue blocks until a get frees a slot (do_blocking_test).
    for (int x : QUEUE_SIZE_ITEMS) queue.put(x);
    std::thread getter([&] { queue.get(); });
    queue.put(444);  // blocks until the getter took one
    getter.join();
    EXPECT_TRUE(queue.full());
    EXPECT_THROW(queue.put_nowait(555), q::Full);
    EXPECT_THROW(queue.put(555, 10ms), q::Full);
    EXPECT_THROW(queue.put(555, false), q::Full);
    for (int i = 0; i < 3; ++i) queue.get();
    EXPECT_TRUE(queue.empty());
    EXPECT_THROW(queue.get_nowait(), q::Empty);
    EXPECT_THROW(queue.get(10ms), q::Empty);
    EXPECT_THROW(queue.get(false), q::Empty);
    // A get on an empty queue blocks until a put.
    std::thread putter([&] { queue.put(777); });
    EXPECT_EQ(queue.get(), 777);
    putter.join();
}

// test_queue.py: BaseQueueTestMixin.test_queue_task_done
TYPED_TEST(BaseQueueTest, test_queue_task_done) {
    TypeParam queue;
    EXPECT_THROW(queue.task_done(), std::invalid_argument);  // Python: ValueError
}

// test_queue.py: BaseQueueTestMixin.test_queue_join (queue_join_test twice)
TYPED_TEST(BaseQueueTest, test_queue_join) {
    TypeParam queue;
    for (int round = 0; round < 2; ++round) {
        std::atomic<int> cum{0};
        std::vector<std::thread> workers;
        for (int i = 0; i < 2; ++i)
            workers.emplace_back([&] {
                for (;;) {
                    int x = queue.get();
                    if (x < 0) {
                        queue.task_done();
                        return;
                    }
                    cum.fetch_add(x);
                    queue.task_done();
                }
            });
        for (int i = 0; i < 100; ++i) queue.put(i);
        queue.join();
        EXPECT_EQ(cum.load(), 4950);
        for (int i = 0; i < 2; ++i) queue.put(-1);  // one sentinel per worker
        queue.join();
        for (auto& t : workers) t.join();
    }
}

// test_queue.py: BaseQueueTestMixin.test_queue_task_done (after join: too many task_done)
TYPED_TEST(BaseQueueTest, test_queue_task_done_after_join) {
    TypeParam queue;
    queue.put(1);
    queue.get();
    queue.task_done();
    EXPECT_THROW(queue.task_done(), std::invalid_argument);
}

// test_queue.py: BaseQueueTestMixin.test_negative_timeout_raises_exception
TYPED_TEST(BaseQueueTest, test_negative_timeout_raises_exception) {
    TypeParam queue(2);
    EXPECT_THROW(queue.put(1, -1s), std::invalid_argument);
    EXPECT_THROW(queue.get(-1s), std::invalid_argument);
}

// test_queue.py: the timeout given to Condition.wait: above threading.TIMEOUT_MAX an OverflowError
TYPED_TEST(BaseQueueTest, test_timeout_above_TIMEOUT_MAX) {
    TypeParam queue(1);
    const auto too_long = nogil::threading::TIMEOUT_MAX + std::chrono::duration<double>(1);
    EXPECT_THROW(queue.get(too_long), nogil::OverflowError);
    queue.put(1);
    EXPECT_THROW(queue.put(2, too_long), nogil::OverflowError);
}

// test_queue.py: BaseQueueTestMixin.test_nowait
TYPED_TEST(BaseQueueTest, test_nowait) {
    TypeParam queue(3);
    for (int i = 0; i < 3; ++i) queue.put_nowait(1);
    EXPECT_THROW(queue.put_nowait(4), q::Full);
    for (int i = 0; i < 3; ++i) queue.get_nowait();
    EXPECT_THROW(queue.get_nowait(), q::Empty);
}

// test_queue.py: BaseQueueTestMixin.test_shrinking_queue (issue 10110) — not applicable: maxsize
// is fixed at construction (Python lets a caller assign q.maxsize).

// test_queue.py: BaseQueueTestMixin.test_shutdown_empty
TYPED_TEST(BaseQueueTest, test_shutdown_empty) {
    TypeParam queue;
    queue.shutdown();
    EXPECT_THROW(queue.put(1), q::ShutDown);
    EXPECT_THROW(queue.get(), q::ShutDown);
}

// test_queue.py: BaseQueueTestMixin.test_shutdown_nonempty
TYPED_TEST(BaseQueueTest, test_shutdown_nonempty) {
    TypeParam queue;
    queue.put(1);
    queue.shutdown();
    EXPECT_EQ(queue.get(), 1);
    EXPECT_THROW(queue.get(), q::ShutDown);
}

// test_queue.py: BaseQueueTestMixin.test_shutdown_immediate
TYPED_TEST(BaseQueueTest, test_shutdown_immediate) {
    TypeParam queue;
    queue.put(1);
    queue.shutdown(true);
    EXPECT_THROW(queue.get(), q::ShutDown);
}

// test_queue.py: BaseQueueTestMixin.test_shutdown_allowed_transitions
TYPED_TEST(BaseQueueTest, test_shutdown_allowed_transitions) {
    TypeParam queue;
    EXPECT_FALSE(queue.is_shutdown());
    queue.shutdown();
    EXPECT_TRUE(queue.is_shutdown());
    queue.shutdown(true);
    EXPECT_TRUE(queue.is_shutdown());
    queue.shutdown(false);
    EXPECT_TRUE(queue.is_shutdown());
}

// test_queue.py: BaseQueueTestMixin._shutdown_all_methods_in_many_threads — blocked getters and
// putters and joiners are released by shutdown(immediate = true).
TYPED_TEST(BaseQueueTest, test_shutdown_all_methods_in_many_threads) {
    TypeParam full(1);
    full.put(1);
    TypeParam empty;
    std::atomic<int> shut_down{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&] {
            try {
                full.put(2);
            } catch (const q::ShutDown&) {
                shut_down.fetch_add(1);
            }
        });
        threads.emplace_back([&] {
            try {
                empty.get();
            } catch (const q::ShutDown&) {
                shut_down.fetch_add(1);
            }
        });
    }
    threads.emplace_back([&] { full.join(); });  // released: immediate discards the items
    full.shutdown(true);
    empty.shutdown(true);
    for (auto& t : threads) t.join();
    EXPECT_EQ(shut_down.load(), 6);
}

// test_queue.py: BaseQueueTestMixin.test_shutdown_put_join / test_shutdown_get_task_done_join —
// with immediate = false the queued items still count for join() until task_done.
TYPED_TEST(BaseQueueTest, test_shutdown_get_task_done_join) {
    TypeParam queue(2);
    queue.put(1);
    queue.put(2);
    queue.shutdown();
    std::thread joiner([&] { queue.join(); });
    queue.get();
    queue.task_done();
    queue.get();
    queue.task_done();
    joiner.join();
    EXPECT_THROW(queue.get(), q::ShutDown);
}

// ---- BaseSimpleQueueTest ------------------------------------------------------------------------

// test_queue.py: BaseSimpleQueueTest.test_basic
TEST(SimpleQueueTest, test_basic) {
    q::SimpleQueue<int> queue;
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.qsize(), 0u);
    queue.put(1);
    EXPECT_FALSE(queue.empty());
    EXPECT_EQ(queue.qsize(), 1u);
    queue.put_nowait(2);
    queue.put(3);
    EXPECT_EQ(queue.get(), 1);
    EXPECT_EQ(queue.get_nowait(), 2);
    EXPECT_EQ(queue.get(false), 3);
    EXPECT_THROW(queue.get(false), q::Empty);
    EXPECT_THROW(queue.get(10ms), q::Empty);
    EXPECT_THROW(queue.get_nowait(), q::Empty);
}

// test_queue.py: BaseSimpleQueueTest.test_negative_timeout_raises_exception
TEST(SimpleQueueTest, test_negative_timeout_raises_exception) {
    q::SimpleQueue<int> queue;
    queue.put(1);
    EXPECT_THROW(queue.get(-1s), std::invalid_argument);
}

// test_queue.py: BaseSimpleQueueTest.test_order
TEST(SimpleQueueTest, test_order) {
    q::SimpleQueue<int> queue;
    std::vector<int> inputs{3, 1, 4, 1, 5, 9, 2, 6};
    for (int x : inputs) queue.put(x);
    std::vector<int> results;
    while (!queue.empty()) results.push_back(queue.get());
    EXPECT_EQ(results, inputs);
}

// test_queue.py: BaseSimpleQueueTest.test_many_threads (run_threads with senders and receivers)
TEST(SimpleQueueTest, test_many_threads) {
    q::SimpleQueue<int> queue;
    constexpr int N = 10000, THREADS = 5;
    std::atomic<long> sum{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < THREADS; ++t)
        threads.emplace_back([&, t] {
            for (int i = t; i < N; i += THREADS) queue.put(i);
        });
    for (int t = 0; t < THREADS; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < N / THREADS; ++i) sum.fetch_add(queue.get());
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(sum.load(), static_cast<long>(N) * (N - 1) / 2);
    EXPECT_TRUE(queue.empty());
}

// test_queue.py: BaseSimpleQueueTest.test_reentrancy — not applicable: it puts from a __del__
// finalizer run by the GC inside put().

}  // namespace
