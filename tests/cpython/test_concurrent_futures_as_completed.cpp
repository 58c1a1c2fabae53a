// CPython's Lib/test/test_concurrent_futures/test_as_completed.py (AsCompletedTests), ported on a
// ThreadPoolExecutor (the process-pool variants read the same Future state; see test_wait's note).
#include "futures_util.hpp"

#include <nogil/concurrent/futures.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
using namespace cpython_futures;
namespace threading = nogil::threading;
using namespace std::chrono_literals;
using Futures = std::vector<cf::Future<int>>;

int mul(int x, int y) { return x * y; }

class AsCompletedTests : public ::testing::Test {
protected:
    cf::ThreadPoolExecutor executor{5};
};

// test_as_completed.py: AsCompletedTests.test_no_timeout
TEST_F(AsCompletedTests, test_no_timeout) {
    auto future1 = executor.submit(mul, 2, 21);
    auto future2 = executor.submit(mul, 7, 6);
    Futures all{cancelled_future(), exception_future(), successful_future(), future1, future2};
    Futures completed;
    for (auto f : cf::as_completed(all)) completed.push_back(f);
    EXPECT_TRUE(same_set(completed, all));
}

// test_as_completed.py: AsCompletedTests.test_future_times_out
TEST_F(AsCompletedTests, test_future_times_out) {
    Futures already_completed{cancelled_future(), exception_future(), successful_future()};
    for (auto timeout : {0ms, 100ms}) {
        threading::Event release;
        auto future = executor.submit([&] { return release.wait() ? 1 : 0; });
        Futures fs = already_completed;
        fs.push_back(future);
        Futures completed;
        bool timed_out = false;
        try {
            for (auto f : cf::as_completed(fs, timeout)) completed.push_back(f);
        } catch (const cf::TimeoutError&) {
            timed_out = true;
        }
        release.set();
        future.result();
        EXPECT_TRUE(timed_out);
        EXPECT_TRUE(same_set(completed, already_completed));  // `future` was not completed
    }
}

// test_as_completed.py: AsCompletedTests.test_duplicate_futures (issue 20367)
TEST_F(AsCompletedTests, test_duplicate_futures) {
    auto future1 = executor.submit(mul, 1, 2);
    Futures three{future1, future1, future1};
    int completed = 0;
    for (auto f : cf::as_completed(three)) {
        (void)f;
        ++completed;
    }
    EXPECT_EQ(completed, 1);
}

// test_as_completed.py: AsCompletedTests.test_free_reference_yielded_future — not ported: the
// range keeps every future it was given until it is destroyed (listed in docs/fidelity.md).

// test_as_completed.py: AsCompletedTests.test_correct_timeout_exception_msg
TEST_F(AsCompletedTests, test_correct_timeout_exception_msg) {
    Futures fs{cancelled_future(), cf::Future<int>(), running_future(), successful_future()};
    try {
        for (auto f : cf::as_completed(fs, 0s)) (void)f;
        FAIL() << "expected TimeoutError";
    } catch (const cf::TimeoutError& e) {
        EXPECT_STREQ(e.what(), "2 (of 4) futures unfinished");
    }
}

}  // namespace
