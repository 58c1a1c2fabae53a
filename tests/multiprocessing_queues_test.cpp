// Mirrors the core of CPython's _test_multiprocessing.py _TestQueue and _TestSimpleQueue.
#include "multiprocessing_test_support.hpp"

#include <set>
#include <thread>

namespace mp = nogil::multiprocessing;
using namespace mp_test;
using namespace std::chrono_literals;

namespace {

void produce(mp::Queue<std::pair<int, std::string>> q, int first, int count) {
    for (int i = first; i < first + count; ++i) q.put({i, "item" + std::to_string(i)});
}

void consume_and_sum(mp::Queue<int> in, mp::Queue<long> out) {
    long sum = 0;
    for (;;) {
        int v = in.get(60s);
        if (v < 0) break;
        sum += v;
    }
    out.put(sum);
}

void simple_echo(mp::SimpleQueue<std::string> in, mp::SimpleQueue<std::string> out) {
    for (;;) {
        std::string s = in.get();
        if (s == "stop") return;
        out.put(s + "!");
    }
}

using QueueTest = StartMethodTest;

TEST_P(QueueTest, ManyProducersOneConsumer) {
    MP_SKIP_IF_TSAN_FORK_CHILD_STARTS_THREADS();  // the child's queue feeder is a thread
    mp::Queue<std::pair<int, std::string>> q;
    constexpr int kProducers = 3, kEach = 200;
    std::vector<mp::Process> procs;
    for (int i = 0; i < kProducers; ++i) procs.emplace_back(produce, q, i * kEach, kEach, options());
    for (auto& p : procs) p.start();
    std::set<int> seen;
    for (int i = 0; i < kProducers * kEach; ++i) {
        auto [n, text] = q.get(kBound);
        EXPECT_EQ(text, "item" + std::to_string(n));
        seen.insert(n);
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kProducers * kEach));
    for (auto& p : procs) {
        p.join(kBound);
        EXPECT_EQ(p.exitcode(), 0);
    }
    EXPECT_THROW(q.get_nowait(), mp::Empty);
}

TEST_P(QueueTest, ConsumerChildSumsWhatWePut) {
    MP_SKIP_IF_TSAN_FORK_CHILD_STARTS_THREADS();  // the child's queue feeder is a thread
    mp::Queue<int> in;
    mp::Queue<long> out;
    mp::Process p(consume_and_sum, in, out, options());
    p.start();
    long expected = 0;
    for (int i = 0; i < 5000; ++i) {  // more than a socket buffer holds: the feeder keeps put() non-blocking
        in.put(i);
        expected += i;
    }
    in.put(-1);
    EXPECT_EQ(out.get(kBound), expected);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(QueueTest, SimpleQueueRoundTrip) {
    MP_SKIP_IF_TSAN_FORK_CHILD_STARTS_THREADS();  // the child's queue feeder is a thread
    mp::SimpleQueue<std::string> in, out;
    mp::Process p(simple_echo, in, out, options());
    p.start();
    EXPECT_TRUE(out.empty());
    in.put("a");
    in.put("b");
    EXPECT_EQ(out.get(), "a!");
    EXPECT_EQ(out.get(), "b!");
    in.put("stop");
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

MP_INSTANTIATE_START_METHODS(QueueTest);

TEST(Queue, BoundedQueueFullAndEmpty) {
    mp::Queue<int> q(2);
    EXPECT_EQ(q.qsize(), 0);
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.full());
    q.put(1);
    q.put_nowait(2);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.qsize(), 2);
    EXPECT_THROW(q.put_nowait(3), mp::Full);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(q.put(3, 20ms), mp::Full);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_EQ(q.get(kBound), 1);
    EXPECT_EQ(q.get(kBound), 2);
    EXPECT_THROW(q.get(false), mp::Empty);
    t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(q.get(20ms), mp::Empty);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_TRUE(q.empty());
}

TEST(Queue, FifoFromOneThreadAndBlockingGetFromAnother) {
    mp::Queue<std::string> q;
    std::thread consumer([&] {
        for (int i = 0; i < 100; ++i) EXPECT_EQ(q.get(kBound), std::to_string(i));
    });
    for (int i = 0; i < 100; ++i) q.put(std::to_string(i));
    consumer.join();
}

TEST(Queue, CloseForbidsPut) {
    mp::Queue<int> q;
    q.put(1);
    q.close();
    EXPECT_THROW(q.put(2), std::invalid_argument);
    q.join_thread();  // what was put before close() was flushed
    EXPECT_THROW(q.get(kBound), std::invalid_argument);  // Python: ValueError("Queue ... is closed")
}

}  // namespace
