// detail::InjectionQueue, the thread pool's lock-free multi-producer queue: FIFO order, and under
// many producers and several consumers taking turns, every item comes out exactly once, in each
// producer's order.
#include "concurrent/futures/detail/injection_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using nogil::concurrent::futures::detail::FutureState;
using nogil::concurrent::futures::detail::FutureStateBase;
using nogil::concurrent::futures::detail::InjectionQueue;

struct Node final : FutureState<void> {
    int producer = 0;
    int seq = 0;
};

TEST(InjectionQueue, EmptyQueuePopsNothing) {
    InjectionQueue q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.pop(), nullptr);
    EXPECT_EQ(q.pop(), nullptr) << "popping an empty queue leaves it usable";
    EXPECT_TRUE(q.empty());
}

TEST(InjectionQueue, FifoAndReusableAfterDraining) {
    InjectionQueue q;
    std::vector<std::unique_ptr<Node>> nodes(5);
    for (auto& n : nodes) n = std::make_unique<Node>();
    for (int round = 0; round < 3; ++round) {
        for (auto& n : nodes) EXPECT_TRUE(q.push(n.get()));
        EXPECT_FALSE(q.empty());
        for (auto& n : nodes) EXPECT_EQ(q.pop(), n.get());
        EXPECT_EQ(q.pop(), nullptr);
        EXPECT_TRUE(q.empty());
    }
    // Interleaved: one in, one out, the queue never holds more than one item.
    for (auto& n : nodes) {
        EXPECT_TRUE(q.push(n.get()));
        EXPECT_EQ(q.pop(), n.get());
    }
    EXPECT_TRUE(q.empty());
}

TEST(InjectionQueue, CloseRejectsPushesAndKeepsQueuedItems) {
    InjectionQueue q;
    Node a, b, c;
    EXPECT_TRUE(q.push(&a));
    EXPECT_TRUE(q.push(&b));
    EXPECT_FALSE(q.closed());
    q.close();
    EXPECT_TRUE(q.closed());
    EXPECT_FALSE(q.push(&c));
    EXPECT_EQ(q.pop(), &a);
    EXPECT_EQ(q.pop(), &b) << "the last item is handed out after close too (the stub goes back in)";
    EXPECT_EQ(q.pop(), nullptr);
    EXPECT_TRUE(q.empty());
    EXPECT_TRUE(q.closed());
    EXPECT_FALSE(q.push(&c));
}

// 6 producers push 5,000 items each while 3 consumers pop in turns (a mutex, as the pool's spin
// lock): every item is popped exactly once, each producer's items in the order pushed.
TEST(InjectionQueue, StressManyProducersConsumersTakingTurns) {
    constexpr int producers = 6;
    constexpr int consumers = 3;
    constexpr int per_producer = 5'000;
    InjectionQueue q;
    std::vector<std::vector<Node>> nodes(producers);
    for (int p = 0; p < producers; ++p) {
        nodes[static_cast<std::size_t>(p)] = std::vector<Node>(per_producer);
        for (int i = 0; i < per_producer; ++i) {
            auto& n = nodes[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)];
            n.producer = p;
            n.seq = i;
        }
    }
    std::mutex consumer_turn;
    std::atomic<int> popped{0};
    std::vector<int> next_seq(producers, 0);  // guarded by consumer_turn
    std::atomic<int> order_errors{0};
    std::latch go(producers + consumers);
    std::vector<std::thread> ts;
    for (int p = 0; p < producers; ++p) {
        ts.emplace_back([&, p] {
            go.arrive_and_wait();
            for (auto& n : nodes[static_cast<std::size_t>(p)]) ASSERT_TRUE(q.push(&n));
        });
    }
    for (int c = 0; c < consumers; ++c) {
        ts.emplace_back([&] {
            go.arrive_and_wait();
            while (popped.load() < producers * per_producer) {
                std::lock_guard turn(consumer_turn);
                for (int k = 0; k < 16; ++k) {
                    FutureStateBase* item = q.pop();
                    if (!item) break;
                    auto* n = static_cast<Node*>(item);
                    if (next_seq[static_cast<std::size_t>(n->producer)]++ != n->seq) order_errors.fetch_add(1);
                    popped.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(popped.load(), producers * per_producer);
    EXPECT_EQ(order_errors.load(), 0);
    for (int p = 0; p < producers; ++p) EXPECT_EQ(next_seq[static_cast<std::size_t>(p)], per_producer);
    EXPECT_EQ(q.pop(), nullptr);
    EXPECT_TRUE(q.empty());
}

// Producers push until the queue is closed under them (by producer 0, after a number of its own
// pushes that varies by round), a consumer pops meanwhile, then drains until empty(): every push
// that returned true is popped exactly once, none that returned false.
TEST(InjectionQueue, StressCloseWhilePushing) {
    constexpr int producers = 4;
    constexpr int per_producer = 2'000;
    for (int round = 0; round < 10; ++round) {
        InjectionQueue q;
        std::vector<std::vector<Node>> nodes(producers);
        for (auto& v : nodes) v = std::vector<Node>(per_producer);
        std::atomic<int> accepted{0};
        std::latch go(producers + 1);
        std::vector<std::thread> ts;
        for (int p = 0; p < producers; ++p) {
            ts.emplace_back([&, p] {
                go.arrive_and_wait();
                int mine = 0;
                for (auto& n : nodes[static_cast<std::size_t>(p)]) {
                    if (p == 0 && mine == round * 150) q.close();
                    if (!q.push(&n)) return;
                    accepted.fetch_add(1);
                    ++mine;
                }
            });
        }
        int popped = 0;
        std::thread consumer([&] {
            go.arrive_and_wait();
            while (!q.closed()) {
                if (q.pop()) ++popped;
            }
            while (!q.empty()) {  // a push may be half linked: it finishes shortly
                if (q.pop()) ++popped;
            }
        });
        for (auto& t : ts) t.join();
        consumer.join();
        EXPECT_EQ(popped, accepted.load()) << "round " << round;
        EXPECT_EQ(q.pop(), nullptr);
    }
}

}  // namespace
