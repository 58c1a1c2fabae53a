// PriorityQueue<T, Compare>'s own behaviour: smallest first (Python's heapq order, the opposite of
// std::priority_queue), the comparator. Shared behaviour: queue_detail_base_test.cpp.
#include <nogil/queue/priority_queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace q = nogil::queue;

template <class Queue>
auto drain(Queue& queue) {
    std::vector<typename Queue::value_type> out;
    while (!queue.empty()) out.push_back(queue.get_nowait());
    return out;
}

TEST(PriorityQueue, SmallestFirst) {
    q::PriorityQueue<int> queue;
    for (int i : {111, 333, 222}) queue.put(i);
    EXPECT_EQ(drain(queue), (std::vector<int>{111, 222, 333}));
}

TEST(PriorityQueue, RandomItemsComeOutSorted) {
    std::mt19937 rng(42);
    std::vector<int> items(1000);
    for (auto& i : items) i = static_cast<int>(rng() % 500);
    q::PriorityQueue<int> queue;
    for (int i : items) queue.put(i);
    std::sort(items.begin(), items.end());
    EXPECT_EQ(drain(queue), items);
}

TEST(PriorityQueue, PriorityDataTuples) {
    q::PriorityQueue<std::tuple<int, std::string>> queue;
    queue.put({3, "low"});
    queue.put({1, "urgent"});
    queue.put({2, "normal"});
    EXPECT_EQ(std::get<1>(queue.get()), "urgent");
    EXPECT_EQ(std::get<1>(queue.get()), "normal");
    EXPECT_EQ(std::get<1>(queue.get()), "low");
}

TEST(PriorityQueue, GreaterGivesLargestFirst) {
    q::PriorityQueue<int, std::greater<int>> queue;
    for (int i : {2, 9, 4}) queue.put(i);
    EXPECT_EQ(drain(queue), (std::vector<int>{9, 4, 2}));
}

TEST(PriorityQueue, StatefulComparatorIsUsed) {
    // Closest to a pivot first; the pivot lives in the comparator object.
    struct CloserTo {
        int pivot;
        bool operator()(int a, int b) const { return std::abs(a - pivot) < std::abs(b - pivot); }
    };
    q::PriorityQueue<int, CloserTo> queue(0, CloserTo{10});
    for (int i : {0, 25, 11, 7}) queue.put(i);
    EXPECT_EQ(drain(queue), (std::vector<int>{11, 7, 0, 25}));
}

TEST(PriorityQueue, MoveOnlyItemsWithAComparatorOnThePointee) {
    struct ByValue {
        bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const { return *a < *b; }
    };
    q::PriorityQueue<std::unique_ptr<int>, ByValue> queue(2);
    queue.put(std::make_unique<int>(5));
    queue.put(std::make_unique<int>(3));
    auto kept = std::make_unique<int>(1);
    EXPECT_THROW(queue.put_nowait(std::move(kept)), q::Full);
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(*queue.get(), 3);
    queue.put(std::move(kept));
    EXPECT_EQ(*queue.get(), 1);
    EXPECT_EQ(*queue.get(), 5);
}

TEST(PriorityQueue, BlockedGetterTakesTheSmallestPutWhileItWaited) {
    q::PriorityQueue<int> queue;
    auto getter = std::async(std::launch::async, [&] { return queue.get(); });
    queue.put(4);
    EXPECT_EQ(getter.get(), 4);
    queue.put(8);
    queue.put(6);
    EXPECT_EQ(queue.get(), 6);
}

}  // namespace
