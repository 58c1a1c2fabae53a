// The behaviour Queue, LifoQueue and PriorityQueue share (queue/detail/base.hpp), run for each of
// them, after CPython's Lib/test/test_queue.py (BaseQueueTestMixin and the 3.13 shutdown tests).
#include <nogil/queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace q = nogil::queue;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct Fifo {
    template <class T>
    using type = q::Queue<T>;
};
struct Lifo {
    template <class T>
    using type = q::LifoQueue<T>;
};
struct Priority {
    template <class T>
    using type = q::PriorityQueue<T>;
};

template <class Kind>
class QueueBase : public ::testing::Test {
protected:
    template <class T = int>
    using Q = typename Kind::template type<T>;
};
using Kinds = ::testing::Types<Fifo, Lifo, Priority>;
TYPED_TEST_SUITE(QueueBase, Kinds);

// A blocked call must not complete while its condition does not hold. This can only be fooled
// into passing (if the thread has not started yet), never into failing.
template <class F>
bool still_blocked(F& future) {
    return future.wait_for(20ms) == std::future_status::timeout;
}

TYPED_TEST(QueueBase, SizeEmptyFullAndNowaitLimits) {
    typename TestFixture::template Q<> queue(3);
    EXPECT_EQ(queue.maxsize(), 3);
    EXPECT_TRUE(queue.empty());
    EXPECT_FALSE(queue.full());
    queue.put(1);
    queue.put(2, true);
    queue.put_nowait(3);
    EXPECT_EQ(queue.qsize(), 3u);
    EXPECT_FALSE(queue.empty());
    EXPECT_TRUE(queue.full());
    EXPECT_THROW(queue.put_nowait(4), q::Full);
    EXPECT_THROW(queue.put(4, false), q::Full);
    int sum = 0;
    sum += queue.get_nowait();
    sum += queue.get(false);
    sum += queue.get();
    EXPECT_EQ(sum, 6);
    EXPECT_TRUE(queue.empty());
    EXPECT_THROW(queue.get_nowait(), q::Empty);
    EXPECT_THROW(queue.get(false), q::Empty);
    EXPECT_EQ(queue.unfinished_tasks(), 3u);
}

TYPED_TEST(QueueBase, MaxsizeZeroOrNegativeIsUnbounded) {
    for (std::ptrdiff_t maxsize : {0, -1}) {
        typename TestFixture::template Q<> queue(maxsize);
        EXPECT_EQ(queue.maxsize(), maxsize);
        for (int i = 0; i < 1000; ++i) queue.put_nowait(i);
        EXPECT_FALSE(queue.full());
        EXPECT_EQ(queue.qsize(), 1000u);
    }
}

TYPED_TEST(QueueBase, BlockingPutIsReleasedByGet) {
    typename TestFixture::template Q<> queue(1);
    queue.put(1);
    auto putter = std::async(std::launch::async, [&] { queue.put(2); });
    EXPECT_TRUE(still_blocked(putter));
    EXPECT_EQ(queue.get(), 1);
    putter.get();
    EXPECT_EQ(queue.get_nowait(), 2);
}

TYPED_TEST(QueueBase, BlockingGetIsReleasedByPut) {
    typename TestFixture::template Q<> queue;
    auto getter = std::async(std::launch::async, [&] { return queue.get(); });
    EXPECT_TRUE(still_blocked(getter));
    queue.put(7);
    EXPECT_EQ(getter.get(), 7);
    EXPECT_TRUE(queue.empty());
}

TYPED_TEST(QueueBase, TimedGetReturnsAnItemThatArrives) {
    typename TestFixture::template Q<> queue(1);
    auto getter = std::async(std::launch::async, [&] { return queue.get(std::chrono::hours(1)); });
    queue.put(5);
    EXPECT_EQ(getter.get(), 5);
    queue.put(6);
    auto putter = std::async(std::launch::async, [&] { queue.put(8, std::chrono::duration<double>(3600.0)); });
    EXPECT_EQ(queue.get(), 6);
    putter.get();
    EXPECT_EQ(queue.get(), 8);
}

TYPED_TEST(QueueBase, TimedPutThrowsFullAfterTheTimeout) {
    typename TestFixture::template Q<> queue(1);
    queue.put(1);
    auto start = steady::now();
    EXPECT_THROW(queue.put(2, 50ms), q::Full);
    EXPECT_GE(steady::now() - start, 50ms);
    EXPECT_THROW(queue.put(2, 0s), q::Full);
    EXPECT_EQ(queue.qsize(), 1u);
}

TYPED_TEST(QueueBase, TimedGetThrowsEmptyAfterTheTimeout) {
    typename TestFixture::template Q<> queue;
    auto start = steady::now();
    EXPECT_THROW(queue.get(50ms), q::Empty);
    EXPECT_GE(steady::now() - start, 50ms);
    EXPECT_THROW(queue.get(std::chrono::duration<double>(0.0)), q::Empty);
}

TYPED_TEST(QueueBase, NegativeTimeoutIsRejectedAtOnce) {
    typename TestFixture::template Q<> bounded(1);
    typename TestFixture::template Q<> unbounded;
    for (auto* queue : {&bounded, &unbounded}) {
        try {
            queue->put(1, -1ms);
            FAIL() << "put accepted a negative timeout";
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "'timeout' must be a non-negative number");
        }
        EXPECT_THROW(queue->get(-1s), std::invalid_argument);
        EXPECT_THROW(queue->get(std::chrono::duration<double>(std::nan(""))), std::invalid_argument);
        EXPECT_TRUE(queue->empty());
    }
}

TYPED_TEST(QueueBase, TaskDoneTooManyTimes) {
    typename TestFixture::template Q<> queue;
    try {
        queue.task_done();
        FAIL() << "task_done on an empty queue";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "task_done() called too many times");
    }
    queue.put(1);
    queue.get();
    queue.task_done();
    EXPECT_THROW(queue.task_done(), std::invalid_argument);
}

TYPED_TEST(QueueBase, JoinWaitsForEveryTaskDone) {
    typename TestFixture::template Q<> queue;
    queue.join();  // nothing pending: returns at once
    constexpr int kItems = 100;
    std::atomic<int> processed{0};
    std::vector<std::jthread> workers;
    for (int w = 0; w < 2; ++w) {
        workers.emplace_back([&] {
            for (;;) {
                int item = queue.get();
                if (item < 0) {
                    queue.task_done();
                    return;
                }
                processed += item;
                queue.task_done();
            }
        });
    }
    for (int i = 1; i <= kItems; ++i) queue.put(i);
    queue.join();
    EXPECT_EQ(processed.load(), kItems * (kItems + 1) / 2);  // join returned after all were processed
    EXPECT_EQ(queue.unfinished_tasks(), 0u);
    queue.put(-1);
    queue.put(-1);
    workers.clear();
    queue.join();
}

TYPED_TEST(QueueBase, JoinBlocksUntilTheLastTaskDone) {
    typename TestFixture::template Q<> queue;
    queue.put(1);
    queue.put(2);
    auto joiner = std::async(std::launch::async, [&] { queue.join(); });
    queue.get();
    queue.get();
    queue.task_done();
    EXPECT_TRUE(still_blocked(joiner));
    queue.task_done();
    joiner.get();
}

// Pins shutdown protocol step 1 and 3 (getters drain, then throw) (include/nogil/queue/detail/base.hpp).
TYPED_TEST(QueueBase, ShutdownLetsConsumersDrainThenThrows) {
    typename TestFixture::template Q<> queue;
    queue.put(1);
    queue.put(2);
    EXPECT_FALSE(queue.is_shutdown());
    queue.shutdown();
    EXPECT_TRUE(queue.is_shutdown());
    EXPECT_THROW(queue.put(3), q::ShutDown);
    EXPECT_THROW(queue.put_nowait(3), q::ShutDown);
    EXPECT_THROW(queue.put(3, 1s), q::ShutDown);
    EXPECT_EQ(queue.qsize(), 2u);
    EXPECT_EQ(queue.get() + queue.get_nowait(), 3);
    EXPECT_THROW(queue.get(), q::ShutDown);
    EXPECT_THROW(queue.get_nowait(), q::ShutDown);
    EXPECT_THROW(queue.get(std::chrono::hours(1)), q::ShutDown);
    // Non-immediate shutdown does not touch task accounting.
    EXPECT_EQ(queue.unfinished_tasks(), 2u);
    queue.task_done();
    queue.task_done();
    queue.join();
}

// Pins shutdown protocol step 2 (only an immediate shutdown changes the count) (include/nogil/queue/detail/base.hpp).
TYPED_TEST(QueueBase, ShutdownDoesNotReleaseJoin) {
    typename TestFixture::template Q<> queue;
    queue.put(1);
    auto joiner = std::async(std::launch::async, [&] { queue.join(); });
    queue.shutdown();  // not immediate: the pending item still needs get() and task_done()
    EXPECT_TRUE(still_blocked(joiner));
    EXPECT_EQ(queue.get(), 1);
    queue.task_done();
    joiner.get();
}

// Pins shutdown protocol step 2 (include/nogil/queue/detail/base.hpp).
TYPED_TEST(QueueBase, ImmediateShutdownDiscardsItemsAndReleasesJoin) {
    typename TestFixture::template Q<> queue;
    for (int i = 0; i < 3; ++i) queue.put(i);
    auto joiner = std::async(std::launch::async, [&] { queue.join(); });
    EXPECT_TRUE(still_blocked(joiner));
    queue.shutdown(true);
    joiner.get();  // the three discarded items were the only ones pending
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.unfinished_tasks(), 0u);
    EXPECT_THROW(queue.get(), q::ShutDown);
    EXPECT_THROW(queue.put(1), q::ShutDown);
    EXPECT_THROW(queue.task_done(), std::invalid_argument);
}

// An item that calls back into its queue when destroyed.
struct CallsBackWhenDestroyed {
    CallsBackWhenDestroyed(std::function<void()> fn, int rank) : on_destroy(std::move(fn)), order(rank) {}
    CallsBackWhenDestroyed(CallsBackWhenDestroyed&& other) noexcept
        : on_destroy(std::exchange(other.on_destroy, nullptr)), order(other.order) {}
    CallsBackWhenDestroyed& operator=(CallsBackWhenDestroyed&& other) noexcept {
        if (this != &other) {
            if (on_destroy) on_destroy();
            on_destroy = std::exchange(other.on_destroy, nullptr);
            order = other.order;
        }
        return *this;
    }
    ~CallsBackWhenDestroyed() {
        if (on_destroy) on_destroy();
    }
    friend bool operator<(const CallsBackWhenDestroyed& a, const CallsBackWhenDestroyed& b) { return a.order < b.order; }

    std::function<void()> on_destroy;
    int order;
};

// Pins shutdown protocol step 4 (include/nogil/queue/detail/base.hpp): the items an immediate
// shutdown removes are destroyed after the mutex is released, so their destructors may use the
// queue (under the mutex, qsize() would deadlock here).
TYPED_TEST(QueueBase, ItemsDiscardedByImmediateShutdownAreDestroyedOutsideTheMutex) {
    typename TestFixture::template Q<CallsBackWhenDestroyed> queue;
    int destroyed = 0;
    std::size_t size_seen = 99;
    queue.put(CallsBackWhenDestroyed(
        [&] {
            ++destroyed;
            size_seen = queue.qsize();
        },
        1));
    queue.shutdown(true);
    EXPECT_EQ(destroyed, 1);
    EXPECT_EQ(size_seen, 0u);
}

// Pins shutdown protocol step 2 (include/nogil/queue/detail/base.hpp).
TYPED_TEST(QueueBase, ImmediateShutdownKeepsTasksAlreadyTaken) {
    typename TestFixture::template Q<> queue;
    for (int i = 0; i < 3; ++i) queue.put(i);
    queue.get();  // taken, not yet done
    queue.shutdown(true);
    EXPECT_EQ(queue.unfinished_tasks(), 1u);
    auto joiner = std::async(std::launch::async, [&] { queue.join(); });
    EXPECT_TRUE(still_blocked(joiner));
    queue.task_done();
    joiner.get();
}

TYPED_TEST(QueueBase, ImmediateShutdownAfterShutdownDrains) {
    typename TestFixture::template Q<> queue;
    queue.put(1);
    queue.put(2);
    queue.shutdown();
    queue.shutdown();  // idempotent
    EXPECT_EQ(queue.qsize(), 2u);
    queue.shutdown(true);
    EXPECT_EQ(queue.qsize(), 0u);
    EXPECT_EQ(queue.unfinished_tasks(), 0u);
    EXPECT_THROW(queue.get_nowait(), q::ShutDown);
}

// Pins shutdown protocol step 3 (include/nogil/queue/detail/base.hpp).
TYPED_TEST(QueueBase, ShutdownWakesBlockedGetters) {
    for (bool immediate : {false, true}) {
        typename TestFixture::template Q<> queue;
        std::latch started(4);
        std::vector<std::future<void>> getters;
        for (int i = 0; i < 4; ++i) {
            getters.push_back(std::async(std::launch::async, [&, i] {
                started.count_down();
                if (i % 2 == 0) {
                    queue.get();
                } else {
                    queue.get(std::chrono::hours(1));
                }
            }));
        }
        started.wait();
        EXPECT_TRUE(still_blocked(getters[0]));
        queue.shutdown(immediate);
        for (auto& g : getters) EXPECT_THROW(g.get(), q::ShutDown);
    }
}

// Pins shutdown protocol step 3 (include/nogil/queue/detail/base.hpp).
TYPED_TEST(QueueBase, ShutdownWakesBlockedPutters) {
    for (bool immediate : {false, true}) {
        typename TestFixture::template Q<> queue(1);
        queue.put(0);
        std::latch started(4);
        std::vector<std::future<void>> putters;
        for (int i = 0; i < 4; ++i) {
            putters.push_back(std::async(std::launch::async, [&, i] {
                started.count_down();
                if (i % 2 == 0) {
                    queue.put(i);
                } else {
                    queue.put(i, std::chrono::hours(1));
                }
            }));
        }
        started.wait();
        EXPECT_TRUE(still_blocked(putters[0]));
        queue.shutdown(immediate);
        for (auto& p : putters) EXPECT_THROW(p.get(), q::ShutDown);
        if (immediate) {
            EXPECT_THROW(queue.get(), q::ShutDown);
        } else {
            EXPECT_EQ(queue.get(), 0);  // the item put before shutdown can still be taken
            EXPECT_THROW(queue.get(), q::ShutDown);
        }
    }
}

TYPED_TEST(QueueBase, MoveOnlyItems) {
    typename TestFixture::template Q<std::unique_ptr<int>> queue(2);
    queue.put(std::make_unique<int>(1));
    auto second = std::make_unique<int>(2);
    queue.put_nowait(std::move(second));
    EXPECT_EQ(second, nullptr);
    // A put that throws leaves the caller's item in place.
    auto kept = std::make_unique<int>(3);
    EXPECT_THROW(queue.put_nowait(std::move(kept)), q::Full);
    EXPECT_THROW(queue.put(std::move(kept), 1ms), q::Full);
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(*kept, 3);
    std::unique_ptr<int> a = queue.get();
    std::unique_ptr<int> b = queue.get(1s);
    EXPECT_EQ(*a + *b, 3);
    queue.put(std::move(kept));
    queue.shutdown(true);  // discarded items are destroyed (ASan checks for leaks)
    auto refused = std::make_unique<int>(4);
    EXPECT_THROW(queue.put(std::move(refused)), q::ShutDown);
    EXPECT_NE(refused, nullptr);
}

TYPED_TEST(QueueBase, ItemsAreConstructedFromWhatPutIsGiven) {
    typename TestFixture::template Q<std::string> queue;
    queue.put("text");
    const std::string copied = "copy";
    queue.put(copied);
    queue.put({'x', 'x', 'x'});  // braces build a T
    std::vector<std::string> got{queue.get(), queue.get(), queue.get()};
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"copy", "text", "xxx"}));
    EXPECT_EQ(copied, "copy");
}

// Python's FailingQueue tests: an item that fails to be stored leaves the queue as it was, and
// usable (the mutex is released, nothing is counted).
struct FragileItem {
    explicit FragileItem(int v) : value(v) {}
    FragileItem(const FragileItem& other) : value(other.value) {
        if (other.value < 0) throw std::runtime_error("cannot copy");
    }
    FragileItem(FragileItem&&) noexcept = default;
    FragileItem& operator=(const FragileItem&) = default;
    FragileItem& operator=(FragileItem&&) noexcept = default;
    friend bool operator<(const FragileItem& a, const FragileItem& b) { return a.value < b.value; }
    int value;
};

TYPED_TEST(QueueBase, ItemThatFailsToBeStoredLeavesTheQueueUsable) {
    typename TestFixture::template Q<FragileItem> queue(2);
    const FragileItem bad(-1), good(5);
    EXPECT_THROW(queue.put(bad), std::runtime_error);
    EXPECT_THROW(queue.put_nowait(bad), std::runtime_error);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.unfinished_tasks(), 0u);
    queue.put(good);
    queue.put(FragileItem(7));
    EXPECT_TRUE(queue.full());
    EXPECT_EQ(queue.get().value + queue.get().value, 12);
    queue.task_done();
    queue.task_done();
    EXPECT_THROW(queue.task_done(), std::invalid_argument);  // the failed puts were not counted
}

// Several producers and consumers through a small bounded queue (both waits are exercised);
// every item must come out exactly once, and join() must see all of them processed.
TYPED_TEST(QueueBase, StressEveryItemExactlyOnce) {
    constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 25'000;
    constexpr int kItems = kProducers * kPerProducer;
    typename TestFixture::template Q<> queue(64);
    std::vector<std::atomic<int>> seen(kItems);
    std::atomic<long long> checksum{0};
    std::atomic<int> count{0};
    std::vector<std::jthread> consumers;
    for (int c = 0; c < kConsumers; ++c) {
        consumers.emplace_back([&] {
            try {
                for (;;) {
                    int item = queue.get();
                    seen[item].fetch_add(1, std::memory_order_relaxed);
                    checksum.fetch_add(item, std::memory_order_relaxed);
                    count.fetch_add(1, std::memory_order_relaxed);
                    queue.task_done();
                }
            } catch (const q::ShutDown&) {
            }
        });
    }
    {
        std::vector<std::jthread> producers;
        for (int p = 0; p < kProducers; ++p) {
            producers.emplace_back([&, p] {
                for (int i = 0; i < kPerProducer; ++i) queue.put(p * kPerProducer + i);
            });
        }
    }
    queue.join();
    EXPECT_EQ(count.load(), kItems);
    queue.shutdown();
    consumers.clear();
    EXPECT_EQ(count.load(), kItems);
    EXPECT_EQ(checksum.load(), static_cast<long long>(kItems) * (kItems - 1) / 2);
    int wrong = 0;
    for (auto& s : seen) wrong += s.load() != 1;
    EXPECT_EQ(wrong, 0);
}

// A move-only item that records whether it was received or destroyed unreceived.
struct Ledger {
    explicit Ledger(int n) : received(n), dropped(n) {}
    std::vector<std::atomic<int>> received;
    std::vector<std::atomic<int>> dropped;
};
class Token {
public:
    Token(int id, Ledger& ledger) : id_(id), ledger_(&ledger) {}
    Token(Token&& other) noexcept : id_(std::exchange(other.id_, -1)), ledger_(other.ledger_) {}
    Token& operator=(Token&& other) noexcept {
        if (this != &other) {
            if (id_ >= 0) ledger_->dropped[id_].fetch_add(1);
            id_ = std::exchange(other.id_, -1);
            ledger_ = other.ledger_;
        }
        return *this;
    }
    ~Token() {
        if (id_ >= 0) ledger_->dropped[id_].fetch_add(1);
    }
    void receive() { ledger_->received[std::exchange(id_, -1)].fetch_add(1); }
    void withdraw() { id_ = -1; }
    friend bool operator<(const Token& a, const Token& b) { return a.id_ < b.id_; }

private:
    int id_;
    Ledger* ledger_;
};

// Shutdown while producers and consumers run: every item that put() accepted is received once or
// (immediate shutdown) discarded once; an item whose put() threw ShutDown stays with its producer.
TYPED_TEST(QueueBase, StressConcurrentShutdownLosesNothing) {
    for (bool immediate : {false, true}) {
        constexpr int kProducers = 3, kConsumers = 3, kPerProducer = 20'000;
        constexpr int kItems = kProducers * kPerProducer;
        Ledger ledger(kItems);
        std::vector<std::atomic<bool>> accepted(kItems);
        typename TestFixture::template Q<Token> queue(32);
        std::atomic<int> taken{0};
        std::latch halfway(1);
        {
            std::vector<std::jthread> threads;
            for (int c = 0; c < kConsumers; ++c) {
                threads.emplace_back([&] {
                    try {
                        for (;;) {
                            queue.get().receive();
                            if (taken.fetch_add(1) + 1 == kItems / 4) halfway.count_down();
                        }
                    } catch (const q::ShutDown&) {
                    }
                });
            }
            for (int p = 0; p < kProducers; ++p) {
                threads.emplace_back([&, p] {
                    for (int i = 0; i < kPerProducer; ++i) {
                        const int id = p * kPerProducer + i;
                        Token token(id, ledger);
                        try {
                            queue.put(std::move(token));
                            accepted[id] = true;
                        } catch (const q::ShutDown&) {
                            token.withdraw();  // still ours: put() must not have moved from it
                        }
                    }
                });
            }
            halfway.wait();
            queue.shutdown(immediate);
        }
        int put_count = 0, wrong = 0, dropped = 0;
        for (int id = 0; id < kItems; ++id) {
            const int outcomes = ledger.received[id] + ledger.dropped[id];
            put_count += accepted[id];
            dropped += ledger.dropped[id];
            wrong += outcomes != (accepted[id] ? 1 : 0);
        }
        EXPECT_EQ(wrong, 0) << "immediate=" << immediate;
        EXPECT_EQ(taken.load() + dropped, put_count);
        if (!immediate) {
            EXPECT_EQ(dropped, 0);
        }
        EXPECT_TRUE(queue.empty());
        EXPECT_EQ(queue.unfinished_tasks(), static_cast<std::size_t>(immediate ? taken.load() : put_count));
    }
}

}  // namespace
