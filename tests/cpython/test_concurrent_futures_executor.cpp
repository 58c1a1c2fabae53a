// CPython's Lib/test/test_concurrent_futures/executor.py (ExecutorTest, 3.14 with buffersize),
// ported: run on a ThreadPoolExecutor (the process-pool variants are in
// test_concurrent_futures_process_pool.cpp, where the callable must be a plain function).
#include "futures_util.hpp"

#include <nogil/concurrent/futures.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <latch>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
using cpython_futures::to_vector;
using namespace std::chrono_literals;

constexpr int kWorkers = 5;  // ThreadPoolMixin's worker_count

long ipow(long base, long exp) {
    long r = 1;
    while (exp-- > 0) r *= base;
    return r;
}

std::pair<int, int> divmod(int a, int b) {
    if (b == 0) throw std::domain_error("integer division or modulo by zero");  // ZeroDivisionError
    return {a / b, a % b};
}

// executor.py: ExecutorTest.test_submit
TEST(ExecutorTest, test_submit) {
    cf::ThreadPoolExecutor executor(kWorkers);
    auto future = executor.submit(ipow, 2, 8);
    EXPECT_EQ(future.result(), 256);
}

// executor.py: ExecutorTest.test_submit_keyword — not applicable: C++ has no keyword arguments
// (submit binds positional arguments; a misspelt keyword is a compile error).

// executor.py: ExecutorTest.test_map
TEST(ExecutorTest, test_map) {
    cf::ThreadPoolExecutor executor(kWorkers);
    auto range10 = std::views::iota(0L, 10L);
    std::vector<long> expected;
    for (long i : range10) expected.push_back(ipow(i, i));
    EXPECT_EQ(to_vector(executor.map(ipow, range10, range10)), expected);
    EXPECT_EQ(to_vector(executor.map(ipow, range10, range10, cf::MapOptions{.chunksize = 3})), expected);
}

// executor.py: ExecutorTest.test_map_exception (3.13/3.14: the exception ends the iteration; the
// later calls not started are cancelled — see docs/executors.md)
TEST(ExecutorTest, test_map_exception) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<int> a{5, 5, 5, 5}, b{2, 3, 0, 5};
    auto results = executor.map(divmod, a, b);
    auto it = results.begin();
    EXPECT_EQ(*it, std::make_pair(2, 1));
    ++it;
    EXPECT_EQ(*it, std::make_pair(1, 2));
    ++it;
    EXPECT_THROW(*it, std::domain_error);
    EXPECT_TRUE(it == results.end());  // Python: StopIteration after the generator raised
}

// executor.py: ExecutorTest.test_map_timeout (without wall-clock assertions: the third call
// blocks until the test releases it, after the TimeoutError)
TEST(ExecutorTest, test_map_timeout) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::latch release(1);
    std::vector<int> items{0, 0, 6};
    std::vector<int> results;
    auto it_range = executor.map([&](int x) {
        if (x == 6) release.wait();
        return x;
    }, items, cf::MapOptions{.timeout = 200ms});
    auto it = it_range.begin();
    bool timed_out = false;
    try {
        for (; it != it_range.end(); ++it) results.push_back(*it);
    } catch (const cf::TimeoutError&) {
        timed_out = true;
    }
    release.count_down();
    EXPECT_TRUE(timed_out) << "expected TimeoutError";
    // gh-110097: on a loaded machine the first calls may not have run within the timeout either.
    EXPECT_LE(results.size(), 2u);
    for (int r : results) EXPECT_EQ(r, 0);
    // The remaining calls are cancelled, so the iterator is exhausted.
    EXPECT_TRUE(it == it_range.end());
}

// executor.py: ExecutorTest.test_map_timeout, the cancelling half: a timeout cancels the late
// call and every later one not started.
TEST(ExecutorTest, test_map_timeout_cancels_the_later_calls) {
    cf::ThreadPoolExecutor executor(1);
    std::latch release(1), started(1);
    std::atomic<int> later_calls{0};
    std::vector<int> items{0, 1, 2, 3};
    auto results = executor.map([&](int x) {
        if (x == 0) {
            started.count_down();
            release.wait();
        } else {
            later_calls.fetch_add(1);
        }
        return x;
    }, items, cf::MapOptions{.timeout = 50ms});
    started.wait();
    EXPECT_THROW(*results.begin(), cf::TimeoutError);
    release.count_down();
    executor.shutdown();
    EXPECT_EQ(later_calls.load(), 0);
}

// executor.py: ExecutorTest.test_map_buffersize_type_validation — not applicable: buffersize is
// std::optional<int>, so "foo" or 2.0 do not compile.

// executor.py: ExecutorTest.test_map_buffersize_value_validation
TEST(ExecutorTest, test_map_buffersize_value_validation) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<int> items{0, 1, 2, 3};
    for (int buffersize : {0, -1}) {
        try {
            executor.map([](int x) { return std::to_string(x); }, items, cf::MapOptions{.buffersize = buffersize});
            ADD_FAILURE() << "no ValueError for buffersize " << buffersize;
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "buffersize must be None or > 0");
        }
    }
}

// executor.py: ExecutorTest.test_map_buffersize
TEST(ExecutorTest, test_map_buffersize) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<int> ints{0, 1, 2, 3};
    for (int buffersize : {1, 2, 4, 8}) {
        auto res = executor.map([](int x) { return std::to_string(x); }, ints, cf::MapOptions{.buffersize = buffersize});
        EXPECT_EQ(to_vector(res), (std::vector<std::string>{"0", "1", "2", "3"})) << buffersize;
    }
}

// executor.py: ExecutorTest.test_map_buffersize_on_multiple_iterables
TEST(ExecutorTest, test_map_buffersize_on_multiple_iterables) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<int> ints{0, 1, 2, 3};
    for (int buffersize : {1, 2, 4, 8}) {
        auto res = executor.map(std::plus<int>{}, ints, ints, cf::MapOptions{.buffersize = buffersize});
        EXPECT_EQ(to_vector(res), (std::vector<int>{0, 2, 4, 6})) << buffersize;
    }
}

// executor.py: ExecutorTest.test_map_buffersize_on_infinite_iterable
TEST(ExecutorTest, test_map_buffersize_on_infinite_iterable) {
    cf::ThreadPoolExecutor executor(kWorkers);
    auto res = executor.map([](int x) { return std::to_string(x); }, std::views::iota(0), cf::MapOptions{.buffersize = 2});
    auto it = res.begin();
    EXPECT_EQ(*it, "0");
    ++it;
    EXPECT_EQ(*it, "1");
    ++it;
    EXPECT_EQ(*it, "2");
}

// executor.py: ExecutorTest.test_map_buffersize_on_multiple_infinite_iterables
TEST(ExecutorTest, test_map_buffersize_on_multiple_infinite_iterables) {
    cf::ThreadPoolExecutor executor(kWorkers);
    auto res = executor.map(std::plus<int>{}, std::views::iota(0), std::views::iota(0), cf::MapOptions{.buffersize = 2});
    auto it = res.begin();
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(*it, 2);
    ++it;
    EXPECT_EQ(*it, 4);
}

// executor.py: ExecutorTest.test_map_buffersize_on_empty_iterable
TEST(ExecutorTest, test_map_buffersize_on_empty_iterable) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<int> none;
    auto res = executor.map([](int x) { return std::to_string(x); }, none, cf::MapOptions{.buffersize = 2});
    EXPECT_TRUE(res.begin() == res.end());
}

// executor.py: ExecutorTest.test_map_buffersize_without_iterable — not applicable: map() needs
// at least one range (a requires-clause), so the call does not compile.

// executor.py: ExecutorTest.test_map_buffersize_when_buffer_is_full
TEST(ExecutorTest, test_map_buffersize_when_buffer_is_full) {
    cf::ThreadPoolExecutor executor(kWorkers);
    auto ints = std::views::iota(0, 4);
    auto position = std::make_shared<int>(0);  // how far map() has read the input
    auto counted = ints | std::views::transform([position](int x) {
                       *position = x + 1;
                       return x;
                   });
    const int buffersize = 2;
    executor.map([](int x) { return std::to_string(x); }, counted, cf::MapOptions{.buffersize = buffersize});
    executor.shutdown(true);  // wait for tasks to complete
    EXPECT_EQ(*position, buffersize) << "should have fetched only `buffersize` elements from `ints`";
}

// executor.py: ExecutorTest.test_shutdown_race_issue12456
TEST(ExecutorTest, test_shutdown_race_issue12456) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<int> items(kWorkers + 1, 2);
    executor.map([](int x) { return std::to_string(x); }, items);
    executor.shutdown();
}

// The issue's case: map() for its effects. Every call runs although no result is read.
TEST(ExecutorTest, map_for_its_effects_runs_every_call) {
    std::atomic<int> calls{0};
    {
        cf::ThreadPoolExecutor executor(kWorkers);
        std::vector<int> items(100, 1);
        executor.map([&](int x) { calls.fetch_add(x); }, items);
    }
    EXPECT_EQ(calls.load(), 100);
}

// executor.py: ExecutorTest.test_no_stale_references — the executor drops the call (and what it
// holds) once it has run, although the future is discarded.
TEST(ExecutorTest, test_no_stale_references) {
    cf::ThreadPoolExecutor executor(kWorkers);
    auto my_object = std::make_shared<int>(1);
    std::weak_ptr<int> weak = my_object;
    auto f = executor.submit([held = std::move(my_object)] { return *held; });
    EXPECT_EQ(f.result(), 1);
    executor.shutdown();  // the call has been destroyed once its worker is done with it
    EXPECT_TRUE(weak.expired()) << "Stale reference not collected";
}

// executor.py: ExecutorTest.test_max_workers_negative
TEST(ExecutorTest, test_max_workers_negative) {
    for (int number : {0, -1}) {
        try {
            cf::ThreadPoolExecutor executor(number);
            ADD_FAILURE() << number;
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "max_workers must be greater than 0");
        }
    }
}

// executor.py: ExecutorTest.test_free_reference — the result range does not keep a result once
// it was handed out: the value is moved out.
TEST(ExecutorTest, test_free_reference) {
    cf::ThreadPoolExecutor executor(kWorkers);
    std::vector<std::weak_ptr<int>> seen;
    for (auto obj : executor.map([](int x) { return std::make_shared<int>(x); }, std::views::iota(0, 10))) {
        seen.push_back(obj);
        obj.reset();
        EXPECT_TRUE(seen.back().expired());
    }
}

// executor.py: ExecutorTest.test_swallows_falsey_exceptions — not applicable: a C++ exception has
// no truth value; every exception type reaches result() (see test_concurrent_futures_future.cpp).

}  // namespace
