// detail::InjectionQueue, the thread pool's lock-free multi-producer queue: FIFO order, and under
// many producers and several consumers taking turns, every item comes out exactly once, in each
// producer's order.
#include <nogil/detail/injection_queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using nogil::detail::FutureState;
using nogil::detail::FutureStateBase;
using nogil::detail::InjectionQueue;

struct Node final : FutureState<void> {
    int producer = 0;
    int seq = 0;
};

TEST(InjectionQueue, EmptyQueuePopsNothing) {
    InjectionQueue q;
    EXPECT_FALSE(q.maybe_nonempty());
    EXPECT_EQ(q.pop(), nullptr);
    EXPECT_EQ(q.pop(), nullptr) << "popping an empty queue leaves it usable";
    EXPECT_FALSE(q.maybe_nonempty());
}

TEST(InjectionQueue, FifoAndReusableAfterDraining) {
    InjectionQueue q;
    std::vector<std::unique_ptr<Node>> nodes(5);
    for (auto& n : nodes) n = std::make_unique<Node>();
    for (int round = 0; round < 3; ++round) {
        for (auto& n : nodes) q.push(n.get());
        EXPECT_TRUE(q.maybe_nonempty());
        for (auto& n : nodes) EXPECT_EQ(q.pop(), n.get());
        EXPECT_EQ(q.pop(), nullptr);
        EXPECT_FALSE(q.maybe_nonempty());
    }
    // Interleaved: one in, one out, the queue never holds more than one item.
    for (auto& n : nodes) {
        q.push(n.get());
        EXPECT_EQ(q.pop(), n.get());
    }
    EXPECT_FALSE(q.maybe_nonempty());
}

// 6 producers push 20,000 items each while 3 consumers pop in turns (a mutex, as the pool's spin
// lock): every item is popped exactly once, each producer's items in the order pushed.
TEST(InjectionQueue, StressManyProducersConsumersTakingTurns) {
    constexpr int producers = 6;
    constexpr int consumers = 3;
    constexpr int per_producer = 20'000;
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
            for (auto& n : nodes[static_cast<std::size_t>(p)]) q.push(&n);
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
    EXPECT_FALSE(q.maybe_nonempty());
}

}  // namespace
