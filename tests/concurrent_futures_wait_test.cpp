// wait() and as_completed(), mirroring CPython's test_concurrent_futures/test_wait.py and
// test_as_completed.py.
#include <nogil/concurrent/futures.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

namespace {

cf::Future<int> finished(int v) {
    cf::Future<int> f;
    f.set_result(v);
    return f;
}
cf::Future<int> failed() {
    cf::Future<int> f;
    f.set_exception(std::make_exception_ptr(std::runtime_error("failed")));
    return f;
}
cf::Future<int> cancelled() {
    cf::Future<int> f;
    f.cancel();
    return f;
}

bool contains(const std::vector<cf::Future<int>>& v, const cf::Future<int>& f) {
    return std::find(v.begin(), v.end(), f) != v.end();
}

TEST(Wait, AllAlreadyDone) {
    auto a = finished(1), b = failed(), c = cancelled();
    auto [done, not_done] = cf::wait(std::vector{a, b, c});
    EXPECT_EQ(done.size(), 3u);
    EXPECT_TRUE(not_done.empty());
}

TEST(Wait, FirstCompletedReturnsAtOnceWhenOneIsDone) {
    auto a = finished(1);
    cf::Future<int> pending;
    auto r = cf::wait(std::vector{pending, a}, cf::FIRST_COMPLETED);
    EXPECT_EQ(r.done.size(), 1u);
    EXPECT_TRUE(contains(r.done, a));
    EXPECT_TRUE(contains(r.not_done, pending));
}

TEST(Wait, FirstCompletedWaitsForAnotherThread) {
    cf::Future<int> a, b;
    std::thread t([&] { b.set_result(2); });
    auto r = cf::wait(std::vector{a, b}, cf::FIRST_COMPLETED);
    t.join();
    EXPECT_TRUE(contains(r.done, b));
    EXPECT_TRUE(contains(r.not_done, a));
}

TEST(Wait, FirstExceptionStopsOnAFailure) {
    cf::ThreadPoolExecutor pool(2);
    std::latch release(1);
    auto slow = pool.submit([&] {
        release.wait();
        return 1;
    });
    auto bad = pool.submit([]() -> int { throw std::runtime_error("x"); });
    auto r = cf::wait(std::vector{slow, bad}, cf::FIRST_EXCEPTION);
    EXPECT_TRUE(contains(r.done, bad));
    EXPECT_TRUE(contains(r.not_done, slow));
    release.count_down();
}

TEST(Wait, FirstExceptionWithoutFailuresWaitsForAll) {
    auto a = finished(1);
    cf::Future<int> b;
    std::thread t([&] { b.set_result(5); });
    auto r = cf::wait(std::vector{a, b}, cf::FIRST_EXCEPTION);
    t.join();
    EXPECT_EQ(r.done.size(), 2u);
}

TEST(Wait, TimeoutReturnsWhatIsDone) {
    auto a = finished(1);
    cf::Future<int> never;
    auto start = std::chrono::steady_clock::now();
    auto r = cf::wait(std::vector{a, never}, 50ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    EXPECT_TRUE(contains(r.done, a));
    EXPECT_TRUE(contains(r.not_done, never));
}

TEST(Wait, DuplicatesCountOnce) {
    auto a = finished(1);
    cf::Future<int> b;
    auto r = cf::wait(std::vector{a, a, b, b}, 1ms);
    EXPECT_EQ(r.done.size(), 1u);
    EXPECT_EQ(r.not_done.size(), 1u);
}

TEST(Wait, ManyFuturesFromAPool) {
    cf::ThreadPoolExecutor pool(2);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 500; ++i) fs.push_back(pool.submit([](int x) { return x; }, i));
    auto r = cf::wait(fs);
    EXPECT_EQ(r.done.size(), 500u);
    EXPECT_TRUE(r.not_done.empty());
}

TEST(AsCompleted, AlreadyDoneFirstThenInCompletionOrder) {
    auto a = finished(1);
    cf::Future<int> b, c;
    std::vector<cf::Future<int>> order;
    std::latch first_seen(1);
    std::thread t([&] {
        first_seen.wait();
        c.set_result(3);
        b.set_result(2);
    });
    for (auto f : cf::as_completed(std::vector{b, a, c})) {
        order.push_back(f);
        if (order.size() == 1) first_seen.count_down();
    }
    t.join();
    ASSERT_EQ(order.size(), 3u);
    EXPECT_TRUE(order[0] == a);
    EXPECT_EQ(order[0].result(), 1);
    // c was completed before b by the same thread: completion order.
    EXPECT_TRUE(order[1] == c);
    EXPECT_TRUE(order[2] == b);
}

TEST(AsCompleted, YieldsCancelledAndFailed) {
    auto a = cancelled(), b = failed();
    int n = 0;
    for (auto f : cf::as_completed(std::vector{a, b})) {
        EXPECT_TRUE(f.done());
        ++n;
    }
    EXPECT_EQ(n, 2);
}

TEST(AsCompleted, TimeoutNamesUnfinishedCount) {
    auto a = finished(1);
    cf::Future<int> never1, never2;
    std::vector<cf::Future<int>> seen;
    try {
        for (auto f : cf::as_completed(std::vector{a, never1, never2}, 20ms)) seen.push_back(f);
        FAIL() << "expected TimeoutError";
    } catch (const cf::TimeoutError& e) {
        EXPECT_STREQ(e.what(), "2 (of 3) futures unfinished");
    }
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(seen[0] == a);
}

TEST(AsCompleted, DuplicatesOnce) {
    auto a = finished(1);
    int n = 0;
    for (auto f : cf::as_completed(std::vector{a, a, a})) {
        (void)f;
        ++n;
    }
    EXPECT_EQ(n, 1);
}

TEST(AsCompleted, ManyFromAPool) {
    cf::ThreadPoolExecutor pool(2);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 1000; ++i) fs.push_back(pool.submit([](int x) { return x; }, i));
    long sum = 0;
    int n = 0;
    for (auto f : cf::as_completed(fs)) {
        sum += f.result();
        ++n;
    }
    EXPECT_EQ(n, 1000);
    EXPECT_EQ(sum, 999L * 1000 / 2);
}

TEST(AsCompleted, EmptyRange) {
    int n = 0;
    for (auto f : cf::as_completed(std::vector<cf::Future<int>>{})) {
        (void)f;
        ++n;
    }
    EXPECT_EQ(n, 0);
}

}  // namespace
