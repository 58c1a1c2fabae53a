// Queue<T>'s own behaviour: first in, first out. The behaviour it shares with LifoQueue and
// PriorityQueue (blocking, timeouts, task_done/join, shutdown, stress) is in queue_detail_base_test.cpp.
#include <nogil/queue/queue.hpp>

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace q = nogil::queue;

TEST(Queue, FirstInFirstOut) {
    q::Queue<int> queue;
    for (int i : {111, 333, 222}) queue.put(i);
    EXPECT_EQ(queue.get(), 111);
    queue.put(444);
    EXPECT_EQ(queue.get(), 333);
    EXPECT_EQ(queue.get(), 222);
    EXPECT_EQ(queue.get(), 444);
    EXPECT_TRUE(queue.empty());
}

TEST(Queue, OrderIsKeptAcrossAFullBoundedQueue) {
    q::Queue<int> queue(2);
    constexpr int kItems = 2000;
    auto producer = std::async(std::launch::async, [&] {
        for (int i = 0; i < kItems; ++i) queue.put(i);
    });
    for (int i = 0; i < kItems; ++i) ASSERT_EQ(queue.get(), i);  // one producer: its order survives
    producer.get();
}

TEST(Queue, MoveOnlyItemsKeepTheirOrder) {
    q::Queue<std::unique_ptr<std::string>> queue;
    queue.put(std::make_unique<std::string>("first"));
    queue.put(std::make_unique<std::string>("second"));
    EXPECT_EQ(*queue.get(), "first");
    EXPECT_EQ(*queue.get_nowait(), "second");
}

TEST(Queue, ExceptionsAreThePythonNames) {
    static_assert(std::is_base_of_v<std::exception, q::Empty>);
    q::Queue<int> queue(1);
    queue.put(1);
    try {
        queue.put_nowait(2);
        FAIL();
    } catch (const q::Full& e) {
        EXPECT_STREQ(e.what(), "queue.Full");
    }
    queue.shutdown(true);
    try {
        queue.get();
        FAIL();
    } catch (const q::ShutDown& e) {
        EXPECT_STREQ(e.what(), "queue.ShutDown");
    }
}

}  // namespace
