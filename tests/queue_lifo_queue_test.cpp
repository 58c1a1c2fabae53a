// LifoQueue<T>'s own behaviour: last in, first out. Shared behaviour: queue_detail_base_test.cpp.
#include <nogil/queue/lifo_queue.hpp>

#include <gtest/gtest.h>

#include <future>
#include <memory>

namespace {

namespace q = nogil::queue;
using namespace std::chrono_literals;

TEST(LifoQueue, LastInFirstOut) {
    q::LifoQueue<int> queue;
    for (int i : {111, 333, 222}) queue.put(i);
    EXPECT_EQ(queue.get(), 222);
    queue.put(444);
    EXPECT_EQ(queue.get(), 444);
    EXPECT_EQ(queue.get(), 333);
    EXPECT_EQ(queue.get(), 111);
    EXPECT_THROW(queue.get_nowait(), q::Empty);
}

TEST(LifoQueue, BlockedPutterLandsOnTop) {
    q::LifoQueue<int> queue(2);
    queue.put(1);
    queue.put(2);
    auto putter = std::async(std::launch::async, [&] { queue.put(3); });
    EXPECT_EQ(queue.get(), 2);  // frees the slot the putter waits for
    putter.get();
    EXPECT_EQ(queue.get(), 3);
    EXPECT_EQ(queue.get(), 1);
}

TEST(LifoQueue, MoveOnlyItems) {
    q::LifoQueue<std::unique_ptr<int>> queue(1);
    queue.put(std::make_unique<int>(1));
    auto kept = std::make_unique<int>(2);
    EXPECT_THROW(queue.put(std::move(kept), 1ms), q::Full);
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(*queue.get(), 1);
    queue.put(std::move(kept));
    EXPECT_EQ(*queue.get(), 2);
}

}  // namespace
