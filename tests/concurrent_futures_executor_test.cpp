// Executor::map (Python's Executor.map, with 3.14's buffersize), on a ThreadPoolExecutor.
#include <nogil/concurrent/futures.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <list>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

namespace {

int square(int x) { return x * x; }

TEST(ExecutorMap, ResultsInOrder) {
    cf::ThreadPoolExecutor pool(2);
    std::vector<int> items{1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<int> out;
    for (int r : pool.map(square, items)) out.push_back(r);
    EXPECT_EQ(out, (std::vector<int>{1, 4, 9, 16, 25, 36, 49, 64}));
}

TEST(ExecutorMap, SeveralIterablesZipToTheShortest) {
    cf::ThreadPoolExecutor pool(2);
    std::vector<int> a{1, 2, 3, 4};
    std::list<std::string> b{"a", "b", "c"};
    std::vector<std::string> out;
    for (auto s : pool.map([](int n, const std::string& t) { return std::string(static_cast<std::size_t>(n), t[0]); }, a, b))
        out.push_back(s);
    EXPECT_EQ(out, (std::vector<std::string>{"a", "bb", "ccc"}));
    std::vector<int> c{10, 20, 30};
    std::vector<int> sums;
    for (int s : pool.map([](int x, int y, int z) { return x + y + z; }, a, c, c, cf::MapOptions{})) sums.push_back(s);
    EXPECT_EQ(sums, (std::vector<int>{21, 42, 63}));
}

TEST(ExecutorMap, ExceptionAtItemKIsRaisedAtK) {
    cf::ThreadPoolExecutor pool(2);
    std::vector<int> items{1, 2, 0, 4};
    std::vector<int> got;
    auto results = pool.map([](int x) {
        if (x == 0) throw std::domain_error("zero");
        return 12 / x;
    }, items);
    auto it = results.begin();
    got.push_back(*it);
    ++it;
    got.push_back(*it);
    ++it;
    EXPECT_THROW(*it, std::domain_error);
    EXPECT_EQ(got, (std::vector<int>{12, 6}));
}

TEST(ExecutorMap, TimeoutMeasuredFromTheCall) {
    cf::ThreadPoolExecutor pool(1);
    std::latch release(1);
    std::vector<int> items{0, 1};
    auto results = pool.map([&](int x) {
        if (x == 1) release.wait();
        return x;
    }, items, cf::MapOptions{.timeout = 30ms});
    auto it = results.begin();
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_THROW(*it, cf::TimeoutError);
    release.count_down();
}

TEST(ExecutorMap, BadOptions) {
    cf::ThreadPoolExecutor pool(1);
    std::vector<int> items{1};
    try {
        pool.map(square, items, cf::MapOptions{.chunksize = 0});
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("chunksize"), std::string::npos);
    }
    try {
        pool.map(square, items, cf::MapOptions{.buffersize = 0});
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("buffersize"), std::string::npos);
    }
}

TEST(ExecutorMap, WithoutBuffersizeEverythingIsSubmittedAtOnce) {
    cf::ThreadPoolExecutor pool(2);
    std::atomic<int> calls{0};
    std::vector<int> items(50, 1);
    std::latch all_called(50);
    auto results = pool.map([&](int x) {
        calls.fetch_add(1);
        all_called.count_down();
        return x;
    }, items);
    all_called.wait();  // would hang if map waited for the consumer
    EXPECT_EQ(calls.load(), 50);
}

TEST(ExecutorMap, BuffersizeBoundsIntakeAndWorksOnAnInfiniteRange) {
    cf::ThreadPoolExecutor pool(2);
    std::atomic<int> submitted_calls{0};
    auto results = pool.map([&](int x) {
        submitted_calls.fetch_add(1);
        return x * 2;
    }, std::views::iota(0), cf::MapOptions{.buffersize = 4});
    int taken = 0;
    for (int r : results) {
        EXPECT_EQ(r, taken * 2);
        if (++taken == 100) break;
    }
    EXPECT_EQ(taken, 100);
    // At most buffersize (+1 refilled before each wait) calls beyond what was consumed.
    EXPECT_LE(submitted_calls.load(), 100 + 4 + 1);
}

// Submits 20 calls through map() behind a call that blocks the only worker, drops the range
// (after begin() if `begin`), unblocks the worker, and returns how many of the 20 ran.
int calls_run_after_dropping_map(bool begin) {
    cf::ThreadPoolExecutor pool(1);
    std::latch gate(1), started(1);
    auto block = pool.submit([&] {
        started.count_down();
        gate.wait();
    });
    started.wait();
    std::atomic<int> calls{0};
    {
        std::vector<int> items(20, 1);
        auto results = pool.map([&](int x) {
            calls.fetch_add(1);
            return x;
        }, items);
        if (begin) (void)results.begin();  // the iteration has begun: leaving it cancels what is left
    }
    gate.count_down();
    pool.shutdown();
    return calls.load();
}

TEST(ExecutorMap, LeavingEarlyCancelsCallsNotStarted) { EXPECT_EQ(calls_run_after_dropping_map(true), 0); }

// `ex.map(f, xs)` for its effects, as in Python: a range never begun cancels nothing.
TEST(ExecutorMap, ResultsNeverIteratedStillRun) { EXPECT_EQ(calls_run_after_dropping_map(false), 20); }

TEST(ExecutorMap, VoidFunction) {
    cf::ThreadPoolExecutor pool(2);
    std::atomic<int> sum{0};
    std::vector<int> items{1, 2, 3};
    int n = 0;
    for (auto r : pool.map([&](int x) { sum.fetch_add(x); }, items)) {
        (void)r;
        ++n;
    }
    EXPECT_EQ(n, 3);
    EXPECT_EQ(sum.load(), 6);
}

TEST(ExecutorMap, ExecutorIsUsableThroughTheBaseClass) {
    cf::ThreadPoolExecutor pool(2);
    cf::Executor& ex = pool;
    EXPECT_EQ(ex.submit(square, 3).result(), 9);
    ex.shutdown();
    EXPECT_THROW(ex.submit(square, 3), std::runtime_error);
}

}  // namespace
