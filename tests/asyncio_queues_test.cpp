// Queue, LifoQueue, PriorityQueue: CPython's test_asyncio/test_queues.py behaviours (order,
// maxsize, the get/put cancellation races, join/task_done, 3.13 shutdown), move-only items, and
// a randomized cancellation stress test checking that no item is lost or duplicated.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/queues.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

// create_task takes a Coroutine: these wrap one queue operation.
template <class Q, class T>
asyncio::Coroutine<> put_one(Q* q, T item) {
    co_await q->put(std::move(item));
}
template <class Q>
asyncio::Coroutine<typename Q::value_type> get_one(Q* q) {
    co_return co_await q->get();
}
template <class Q>
asyncio::Coroutine<> joiner(Q* q) {
    co_await q->join();
}

template <class Q>
asyncio::Coroutine<std::vector<int>> put_then_get_all(Q* q, std::vector<int> in) {
    for (int v : in) co_await q->put(v);
    std::vector<int> out;
    while (!q->empty()) {
        int v = co_await q->get();
        out.push_back(v);
    }
    co_return out;
}

TEST(AsyncioQueue, OrderOfTheThreeKinds) {  // test_order (Queue, LifoQueue, PriorityQueue)
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> fifo;
        asyncio::LifoQueue<int> lifo;
        asyncio::PriorityQueue<int> prio;
        asyncio::PriorityQueue<int, std::greater<int>> maxfirst;
        const std::vector<int> in{1, 3, 2}, in5{1, 3, 2, 5, 0};
        auto a = co_await put_then_get_all(&fifo, in);
        auto b = co_await put_then_get_all(&lifo, in);
        auto c = co_await put_then_get_all(&prio, in5);
        auto d = co_await put_then_get_all(&maxfirst, in);
        EXPECT_EQ(a, (std::vector<int>{1, 3, 2}));
        EXPECT_EQ(b, (std::vector<int>{2, 3, 1}));
        EXPECT_EQ(c, (std::vector<int>{0, 1, 2, 3, 5}));
        EXPECT_EQ(d, (std::vector<int>{3, 2, 1}));
    }());
}

TEST(AsyncioQueue, EmptyFullNowaitAndErrors) {  // test_empty, test_full, test_nonblocking_*
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q;
        EXPECT_TRUE(q.empty());
        EXPECT_FALSE(q.full());
        EXPECT_EQ(q.maxsize(), 0u);
        co_await q.put(1);
        EXPECT_FALSE(q.empty());
        EXPECT_EQ(q.qsize(), 1u);
        int v = co_await q.get();
        EXPECT_EQ(v, 1);
        EXPECT_THROW(q.get_nowait(), asyncio::QueueEmpty);
        asyncio::Queue<int> b(1);
        b.put_nowait(1);
        EXPECT_TRUE(b.full());
        EXPECT_THROW(b.put_nowait(2), asyncio::QueueFull);
        EXPECT_EQ(b.get_nowait(), 1);
        try {
            b.task_done();
            b.task_done();
            ADD_FAILURE();
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "task_done() called too many times");
        }
    }());
}

TEST(AsyncioQueue, MaxsizeBlocksThePutter) {  // test_maxsize
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q(2);
        std::vector<int> have_been_put;
        auto putter = [](asyncio::Queue<int>* q, std::vector<int>* out) -> asyncio::Coroutine<> {
            for (int i = 0; i < 3; ++i) {
                co_await q->put(i);
                out->push_back(i);
            }
        };
        auto t = asyncio::create_task(putter(&q, &have_been_put));
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        EXPECT_EQ(have_been_put, (std::vector<int>{0, 1}));
        int v = co_await q.get();
        EXPECT_EQ(v, 0);
        EXPECT_TRUE(q.full()) << "the freed slot is promised to the waiting putter";
        co_await asyncio::sleep(0);
        EXPECT_EQ(have_been_put, (std::vector<int>{0, 1, 2}));
        EXPECT_EQ(q.get_nowait(), 1);
        EXPECT_EQ(q.get_nowait(), 2);
        co_await t;
    }());
}

TEST(AsyncioQueue, GetWithWaitingPutters) {  // test_get_with_waiting_putters, test_put_with_waiting_getters
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q(1);
        auto pa = asyncio::create_task(put_one(&q, std::string("a")));
        auto pb = asyncio::create_task(put_one(&q, std::string("b")));
        std::string a = co_await q.get();
        std::string b = co_await q.get();
        EXPECT_EQ(a, "a");
        EXPECT_EQ(b, "b");
        auto g = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        co_await q.put("c");
        std::string c = co_await g;
        EXPECT_EQ(c, "c");
    }());
}

TEST(AsyncioQueue, GetCancelledRace) {  // test_get_cancelled_race
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q;
        auto t1 = asyncio::create_task(get_one(&q));
        auto t2 = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        t1.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t1.done());
        co_await q.put("a");
        co_await asyncio::sleep(0);
        std::string v = co_await t2;
        EXPECT_EQ(v, "a");
    }());
}

TEST(AsyncioQueue, CancelledGetterDropsNoItem) {  // test_get_cancel_drop_one/many_pending_reader(s)
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q;
        auto reader = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        q.put_nowait(1);  // promised to reader...
        q.put_nowait(2);
        reader.cancel();  // ...which is cancelled before it runs
        EXPECT_THROW(co_await reader, asyncio::CancelledError);
        int v = co_await q.get();
        EXPECT_EQ(v, 1) << "1 was dropped";
        EXPECT_EQ(q.get_nowait(), 2);
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q;
        auto r1 = asyncio::create_task(get_one(&q));
        auto r2 = asyncio::create_task(get_one(&q));
        auto r3 = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        q.put_nowait(1);
        q.put_nowait(2);
        r1.cancel();
        EXPECT_THROW(co_await r1, asyncio::CancelledError);
        int v3 = co_await r3;
        int v2 = co_await r2;
        EXPECT_EQ(v2, 1) << "FIFO: the item promised to r1 goes to the next getter";
        EXPECT_EQ(v3, 2);
        EXPECT_TRUE(q.empty());
    }());
}

TEST(AsyncioQueue, CancelledPutterAddsNoItem) {  // test_put_cancel_drop, test_put_cancelled_race
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q(1);
        q.put_nowait(1);
        auto writer = asyncio::create_task(put_one(&q, 2));
        co_await asyncio::sleep(0);
        EXPECT_EQ(q.get_nowait(), 1);  // the slot is promised to writer...
        writer.cancel();               // ...which is cancelled before it runs
        EXPECT_THROW(co_await writer, asyncio::CancelledError);
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_FALSE(q.full());
        co_await q.put(2);
        EXPECT_EQ(q.get_nowait(), 2);
        EXPECT_EQ(q.qsize(), 0u);
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q(1);
        auto put_a = asyncio::create_task(put_one(&q, std::string("a")));
        auto put_b = asyncio::create_task(put_one(&q, std::string("b")));
        auto put_c = asyncio::create_task(put_one(&q, std::string("X")));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(put_a.done());
        EXPECT_FALSE(put_b.done());
        put_c.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(put_c.done());
        EXPECT_EQ(q.get_nowait(), "a");
        co_await asyncio::sleep(0);
        EXPECT_EQ(q.get_nowait(), "b");
        co_await put_b;
        EXPECT_TRUE(q.empty());
    }());
}

TEST(AsyncioQueue, TimedOutGetterIsNotHeld) {  // test_cancelled_getters_not_being_held_in_self_getters
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q(5);
        EXPECT_THROW(co_await asyncio::wait_for(q.get(), 1ms), asyncio::TimeoutError);
        q.put_nowait(4);
        EXPECT_EQ(q.get_nowait(), 4);
    }());
}

TEST(AsyncioQueue, MoveOnlyItems) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::unique_ptr<int>> q(1);
        auto getter = [](asyncio::Queue<std::unique_ptr<int>>* q) -> asyncio::Coroutine<int> {
            int sum = 0;
            for (int i = 0; i < 3; ++i) {
                std::unique_ptr<int> p = co_await q->get();
                sum += *p;
            }
            co_return sum;
        };
        auto t = asyncio::create_task(getter(&q));
        for (int i = 1; i <= 3; ++i) co_await q.put(std::make_unique<int>(i));
        int sum = co_await t;
        EXPECT_EQ(sum, 6);
        asyncio::PriorityQueue<std::pair<int, std::unique_ptr<int>>> pq;
        pq.put_nowait({2, std::make_unique<int>(20)});
        pq.put_nowait({1, std::make_unique<int>(10)});
        auto first = pq.get_nowait();
        EXPECT_EQ(*first.second, 10);
    }());
}

// The FIFO storage is one ring buffer that doubles when full (detail/ring_storage.hpp): the
// order must survive growth while the ring has wrapped around, for trivially copyable items
// (grown with realloc) and for others (moved), and shutdown(immediate) must destroy them all.
template <class T, class Make, class Read>
void fifo_across_wrapped_growth(Make make, Read read) {
    asyncio::Queue<T> q;
    int next_in = 0, next_out = 0;
    // Keep the ring partly drained so that its front moves, then overfill it, many times over.
    for (int round = 0; round < 12; ++round) {
        for (int i = 0; i < 5 + 3 * round; ++i) q.put_nowait(make(next_in++));
        for (int i = 0; i < 4 + round; ++i) ASSERT_EQ(read(q.get_nowait()), next_out++);
    }
    ASSERT_EQ(q.qsize(), static_cast<std::size_t>(next_in - next_out));
    while (next_out < next_in) ASSERT_EQ(read(q.get_nowait()), next_out++);
    EXPECT_TRUE(q.empty());
    EXPECT_THROW((void)q.get_nowait(), asyncio::QueueEmpty);
}

TEST(AsyncioQueue, FifoOrderSurvivesGrowthOfAWrappedRing) {
    fifo_across_wrapped_growth<long>([](int i) { return long(i); }, [](long v) { return int(v); });
    fifo_across_wrapped_growth<std::string>([](int i) { return std::string(40, 'x') + std::to_string(i); },
                                            [](const std::string& s) { return std::stoi(s.substr(40)); });
    fifo_across_wrapped_growth<std::unique_ptr<int>>([](int i) { return std::make_unique<int>(i); },
                                                     [](const std::unique_ptr<int>& p) { return *p; });
}

TEST(AsyncioQueue, LargeBacklogDrainsAndTheQueueIsReusable) {
    asyncio::Queue<std::shared_ptr<int>> q;
    auto tracker = std::make_shared<int>(0);
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 200'000; ++i) q.put_nowait(tracker);  // 3.2 MB: freed when drained
        EXPECT_EQ(tracker.use_count(), 200'001);
        for (int i = 0; i < 200'000; ++i) (void)q.get_nowait();
        EXPECT_EQ(tracker.use_count(), 1);
    }
    for (int i = 0; i < 1000; ++i) q.put_nowait(tracker);
    q.shutdown(true);
    EXPECT_EQ(tracker.use_count(), 1) << "shutdown(immediate) destroys the discarded items";
}

TEST(AsyncioQueue, TaskDoneAndJoin) {  // test_task_done, test_join_empty_queue
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<int> q;
        co_await q.join();
        co_await q.join();
        for (int i = 0; i < 100; ++i) q.put_nowait(i);
        int accumulator = 0;
        auto worker = [](asyncio::Queue<int>* q, int* acc) -> asyncio::Coroutine<> {
            for (;;) {
                int item = co_await q->get();
                *acc += item;
                co_await asyncio::sleep(0);
                q->task_done();
            }
        };
        auto w1 = asyncio::create_task(worker(&q, &accumulator));
        auto w2 = asyncio::create_task(worker(&q, &accumulator));
        co_await q.join();
        EXPECT_EQ(accumulator, 4950);
        EXPECT_EQ(q.unfinished_tasks(), 0u);
        w1.cancel();
        w2.cancel();
    }());
}

// ----------------------------------------------------------------------------- shutdown (3.13)

TEST(AsyncioQueueShutdown, Empty) {  // test_shutdown_empty
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q;
        auto get_task = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        q.shutdown();
        EXPECT_EQ(q.qsize(), 0u);
        co_await q.join();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(get_task.done());
        EXPECT_THROW(co_await get_task, asyncio::QueueShutDown);
        EXPECT_THROW(co_await q.put("data"), asyncio::QueueShutDown);
        EXPECT_THROW(q.put_nowait("data"), asyncio::QueueShutDown);
        EXPECT_THROW(co_await q.get(), asyncio::QueueShutDown);
        EXPECT_THROW(q.get_nowait(), asyncio::QueueShutDown);
    }());
}

TEST(AsyncioQueueShutdown, NonEmpty) {  // test_shutdown_nonempty
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::LifoQueue<std::string> q(1);
        q.put_nowait("data");
        auto join_task = asyncio::create_task(joiner(&q));
        auto put_task = asyncio::create_task(put_one(&q, std::string("data2")));
        co_await asyncio::sleep(0);
        EXPECT_FALSE(put_task.done());
        q.shutdown();
        EXPECT_EQ(q.qsize(), 1u);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(put_task.done());
        EXPECT_THROW(co_await put_task, asyncio::QueueShutDown);
        std::string v = co_await q.get();
        EXPECT_EQ(v, "data");
        co_await asyncio::sleep(0);
        EXPECT_FALSE(join_task.done());
        EXPECT_THROW(co_await q.put("data"), asyncio::QueueShutDown);
        EXPECT_THROW(co_await q.get(), asyncio::QueueShutDown);
        EXPECT_THROW(q.get_nowait(), asyncio::QueueShutDown);
        q.task_done();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(join_task.done());
        EXPECT_THROW(q.task_done(), std::invalid_argument);
    }());
}

TEST(AsyncioQueueShutdown, ImmediateDiscardsItemsAndReleasesJoin) {  // test_shutdown_immediate(_with_unfinished)
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::PriorityQueue<std::string> q;
        q.put_nowait("data");
        auto join_task = asyncio::create_task(joiner(&q));
        q.shutdown(true);
        EXPECT_EQ(q.qsize(), 0u);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(join_task.done());
        EXPECT_THROW(co_await q.put("data"), asyncio::QueueShutDown);
        EXPECT_THROW(co_await q.get(), asyncio::QueueShutDown);
        EXPECT_THROW(q.get_nowait(), asyncio::QueueShutDown);
        EXPECT_THROW(q.task_done(), std::invalid_argument);
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q;
        q.put_nowait("data");
        q.put_nowait("data");
        auto join_task = asyncio::create_task(joiner(&q));
        std::string v = co_await q.get();
        EXPECT_EQ(v, "data");
        q.shutdown(true);
        EXPECT_EQ(q.qsize(), 0u);
        co_await asyncio::sleep(0);
        EXPECT_FALSE(join_task.done());
        q.task_done();
        EXPECT_THROW(q.task_done(), std::invalid_argument);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(join_task.done());
    }());
}

TEST(AsyncioQueueShutdown, WakesBlockedPuttersAndGetters) {  // _shutdown_putters, _shutdown_getters
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q(2);
        co_await q.put("E");
        co_await q.put("W");
        auto t = asyncio::create_task(put_one(&q, std::string("Y")));
        co_await asyncio::sleep(0);
        q.shutdown();
        EXPECT_THROW(co_await t, asyncio::QueueShutDown);
        EXPECT_EQ(q.qsize(), 2u);
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q(1);
        auto g1 = asyncio::create_task(get_one(&q));
        auto g2 = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        q.put_nowait("Y");  // promised to g1
        q.shutdown(true);   // ...then discarded: g1 and g2 both get QueueShutDown
        EXPECT_THROW(co_await g1, asyncio::QueueShutDown);
        EXPECT_THROW(co_await g2, asyncio::QueueShutDown);
        EXPECT_EQ(q.unfinished_tasks(), 0u);
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Queue<std::string> q(1);
        auto g1 = asyncio::create_task(get_one(&q));
        co_await asyncio::sleep(0);
        q.put_nowait("Y");  // promised to g1, which still gets it after a plain shutdown
        q.shutdown();
        std::string v = co_await g1;
        EXPECT_EQ(v, "Y");
    }());
}

// ------------------------------------------------------------------------------------ stress

// Producers put 0..N-1 (split between them), consumers get; a chaos task cancels random
// producers and consumers at random points. Every value is put at most once (a producer retries
// a cancelled put only if it did not happen), and every value that was put is received exactly
// once.
struct Ledger {
    std::vector<int> put_count;
    std::vector<int> got_count;
};

asyncio::Coroutine<> producer(asyncio::Queue<int>* q, Ledger* ledger, int first, int step, int n) {
    for (int v = first; v < n; v += step) {
        co_await q->put(v);  // a cancelled put did not put: v is simply skipped
        ++ledger->put_count[v];
    }
}

asyncio::Coroutine<> consumer(asyncio::Queue<int>* q, Ledger* ledger) {
    for (;;) {
        int v = co_await q->get();
        ++ledger->got_count[v];
        if (v % 7 == 0) co_await asyncio::sleep(0);
    }
}

TEST(AsyncioQueueStress, RandomCancellationsLoseAndDuplicateNothing) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        constexpr int n = 20000;
        asyncio::Queue<int> q(8);
        Ledger ledger{std::vector<int>(n), std::vector<int>(n)};
        std::vector<asyncio::Task<>> producers, consumers;
        for (int i = 0; i < 4; ++i) producers.push_back(asyncio::create_task(producer(&q, &ledger, i, 4, n)));
        for (int i = 0; i < 4; ++i) consumers.push_back(asyncio::create_task(consumer(&q, &ledger)));
        std::mt19937 rng(4242);
        int cancels = 0;
        for (int round = 0; round < 3000; ++round) {
            co_await asyncio::sleep(0);
            if (rng() % 5 != 0) continue;
            // Cancel one, then restart it (a producer from where its range continues is not
            // tracked: it restarts with a fresh range of values nobody else owns).
            const std::size_t k = rng() % 4;
            if (rng() % 2 == 0) {
                if (consumers[k].cancel()) ++cancels;
                try {
                    co_await consumers[k];
                } catch (const asyncio::CancelledError&) {
                }
                consumers[k] = asyncio::create_task(consumer(&q, &ledger));
            } else if (!producers[k].done()) {
                if (producers[k].cancel()) ++cancels;
                try {
                    co_await producers[k];
                } catch (const asyncio::CancelledError&) {
                }
            }
        }
        co_await asyncio::gather(asyncio::return_exceptions, std::vector<asyncio::Task<>>(producers));
        auto total = [](const std::vector<int>& counts) { return std::accumulate(counts.begin(), counts.end(), 0); };
        while (total(ledger.got_count) < total(ledger.put_count)) co_await asyncio::sleep(0);  // consumers drain
        for (auto& c : consumers) c.cancel();
        co_await asyncio::gather(asyncio::return_exceptions, std::vector<asyncio::Task<>>(consumers));
        EXPECT_GT(cancels, 0);
        int put = 0;
        for (int v = 0; v < n; ++v) {
            EXPECT_LE(ledger.put_count[v], 1) << v;
            EXPECT_EQ(ledger.got_count[v], ledger.put_count[v]) << "value " << v;
            if (ledger.got_count[v] != ledger.put_count[v]) break;
            put += ledger.put_count[v];
        }
        EXPECT_GT(put, 0);
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_EQ(asyncio::all_tasks().size(), 1u);
    }());
}

}  // namespace
