// SimpleQueue<T>: unbounded FIFO, put never blocks, no task tracking; reentrant (no code of T runs
// under its mutex). After CPython's test_queue.py SimpleQueueTest.
#include <nogil/queue/simple_queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace q = nogil::queue;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST(SimpleQueue, FirstInFirstOut) {
    q::SimpleQueue<int> queue;
    EXPECT_TRUE(queue.empty());
    for (int i : {111, 333, 222}) queue.put(i);
    queue.put_nowait(444);
    EXPECT_EQ(queue.qsize(), 4u);
    EXPECT_EQ(queue.get(), 111);
    EXPECT_EQ(queue.get(false), 333);
    EXPECT_EQ(queue.get(1s), 222);
    EXPECT_EQ(queue.get_nowait(), 444);
    EXPECT_TRUE(queue.empty());
}

TEST(SimpleQueue, PutNeverBlocks) {
    q::SimpleQueue<int> queue;
    for (int i = 0; i < 100'000; ++i) queue.put(i);
    EXPECT_EQ(queue.qsize(), 100'000u);
    long long sum = 0;
    for (int i = 0; i < 100'000; ++i) sum += queue.get_nowait();
    EXPECT_EQ(sum, 100'000LL * 99'999 / 2);
}

TEST(SimpleQueue, EmptyWhenNothingArrives) {
    q::SimpleQueue<int> queue;
    EXPECT_THROW(queue.get_nowait(), q::Empty);
    EXPECT_THROW(queue.get(false), q::Empty);
    EXPECT_THROW(queue.get(0s), q::Empty);
    auto start = steady::now();
    EXPECT_THROW(queue.get(50ms), q::Empty);
    EXPECT_GE(steady::now() - start, 50ms);
}

TEST(SimpleQueue, NegativeTimeoutIsRejectedAtOnce) {
    q::SimpleQueue<int> queue;
    queue.put(1);
    try {
        queue.get(-1ms);
        FAIL() << "get accepted a negative timeout";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "'timeout' must be a non-negative number");
    }
    EXPECT_THROW(queue.get(std::chrono::duration<double>(std::nan(""))), std::invalid_argument);
    EXPECT_EQ(queue.qsize(), 1u);  // nothing was taken
}

TEST(SimpleQueue, BlockingGetIsReleasedByPut) {
    q::SimpleQueue<std::string> queue;
    auto getter = std::async(std::launch::async, [&] { return queue.get(); });
    auto timed = std::async(std::launch::async, [&] { return queue.get(std::chrono::hours(1)); });
    EXPECT_EQ(getter.wait_for(20ms), std::future_status::timeout);
    queue.put("a");
    queue.put("b");
    std::string got = getter.get() + timed.get();
    EXPECT_TRUE(got == "ab" || got == "ba") << got;
}

TEST(SimpleQueue, MoveOnlyItems) {
    q::SimpleQueue<std::unique_ptr<int>> queue;
    auto p = std::make_unique<int>(7);
    queue.put(std::move(p));
    EXPECT_EQ(p, nullptr);
    queue.put(std::make_unique<int>(8));
    EXPECT_EQ(*queue.get(), 7);
    // The remaining item is destroyed with the queue (ASan checks for the leak).
}

// An item whose move constructor and destructor use the queue they travel through: this deadlocks
// (or TSan reports a double lock) if any code of T ran under the queue's mutex.
struct Reentrant {
    q::SimpleQueue<Reentrant>* queue;
    int generation;
    std::atomic<int>* destroyed_live;
    Reentrant(q::SimpleQueue<Reentrant>* q, int g, std::atomic<int>* d) : queue(q), generation(g), destroyed_live(d) {}
    Reentrant(Reentrant&& other) noexcept
        : queue(std::exchange(other.queue, nullptr)), generation(other.generation), destroyed_live(other.destroyed_live) {
        (void)queue->qsize();
    }
    ~Reentrant() {
        if (queue == nullptr) return;
        ++*destroyed_live;
        // Like Python's __del__ calling put(): the next generation replaces this one.
        if (generation > 0) queue->put(Reentrant(queue, generation - 1, destroyed_live));
    }
};

TEST(SimpleQueue, ItemsMayUseTheQueueFromTheirConstructorsAndDestructor) {
    std::atomic<int> destroyed{0};
    {
        q::SimpleQueue<Reentrant> queue;
        queue.put(Reentrant(&queue, 3, &destroyed));
        for (int expected = 3; expected >= 0; --expected) {
            Reentrant item = queue.get(1s);
            EXPECT_EQ(item.generation, expected);
        }  // each destroyed item has put its successor
        EXPECT_TRUE(queue.empty());
    }
    EXPECT_EQ(destroyed.load(), 4);
}

TEST(SimpleQueue, StressEveryItemExactlyOnce) {
    constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 25'000;
    constexpr int kItems = kProducers * kPerProducer;
    q::SimpleQueue<int> queue;
    std::vector<std::atomic<int>> seen(kItems);
    std::atomic<long long> checksum{0};
    std::atomic<int> count{0};
    {
        std::vector<std::jthread> threads;
        for (int c = 0; c < kConsumers; ++c) {
            threads.emplace_back([&] {
                for (;;) {
                    int item = queue.get();
                    if (item < 0) return;
                    seen[item].fetch_add(1, std::memory_order_relaxed);
                    checksum.fetch_add(item, std::memory_order_relaxed);
                    count.fetch_add(1, std::memory_order_relaxed);
                }
            });
        }
        std::vector<std::jthread> producers;
        for (int p = 0; p < kProducers; ++p) {
            producers.emplace_back([&, p] {
                for (int i = 0; i < kPerProducer; ++i) queue.put(p * kPerProducer + i);
            });
        }
        producers.clear();
        for (int c = 0; c < kConsumers; ++c) queue.put(-1);  // one stop marker per consumer, after all items
    }
    EXPECT_EQ(count.load(), kItems);
    EXPECT_EQ(checksum.load(), static_cast<long long>(kItems) * (kItems - 1) / 2);
    int wrong = 0;
    for (auto& s : seen) wrong += s.load() != 1;
    EXPECT_EQ(wrong, 0);
    EXPECT_TRUE(queue.empty());
}

// Two threads bouncing one token: nearly every get() goes to sleep and is woken by the other
// side's put(), so a lost wake-up hangs here.
TEST(SimpleQueue, PingPongWakesEverySleeper) {
    constexpr int kRounds = 20'000;
    q::SimpleQueue<int> ping, pong;
    auto echo = std::async(std::launch::async, [&] {
        for (int i = 0; i < kRounds; ++i) pong.put(ping.get() + 1);
    });
    int value = 0;
    for (int i = 0; i < kRounds; ++i) {
        ping.put(value);
        value = pong.get();
    }
    echo.get();
    EXPECT_EQ(value, kRounds);
}

// Many getters sleeping with timeouts while items trickle in: none may sleep past its timeout
// with an item available, and no item may be lost to a timed-out getter.
TEST(SimpleQueue, TimedGettersNeverLoseItems) {
    constexpr int kItems = 20'000, kGetters = 4;
    q::SimpleQueue<int> queue;
    std::atomic<int> got{0};
    std::atomic<bool> done{false};
    {
        std::vector<std::jthread> getters;
        for (int g = 0; g < kGetters; ++g) {
            getters.emplace_back([&] {
                while (!done.load()) {
                    try {
                        queue.get(std::chrono::microseconds(50));
                        if (got.fetch_add(1) + 1 == kItems) done = true;
                    } catch (const q::Empty&) {
                    }
                }
            });
        }
        for (int i = 0; i < kItems; ++i) queue.put(i);
    }
    EXPECT_EQ(got.load(), kItems);
    EXPECT_TRUE(queue.empty());
}

}  // namespace
