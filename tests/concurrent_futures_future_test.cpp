// concurrent::futures::Future, mirroring CPython's test_concurrent_futures/test_future.py.
#include <nogil/concurrent/futures/future.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

namespace {

struct CustomError : std::runtime_error {
    using std::runtime_error::runtime_error;
    int code = 42;
};

TEST(Future, StartsPending) {
    cf::Future<int> f;
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.cancelled());
}

TEST(Future, CopiesShareOneState) {
    cf::Future<int> a;
    cf::Future<int> b = a;
    EXPECT_TRUE(a == b);
    a.set_result(7);
    EXPECT_TRUE(b.done());
    EXPECT_EQ(b.result(), 7);
    EXPECT_FALSE(a == cf::Future<int>());
}

TEST(Future, SetResultThenResult) {
    cf::Future<std::string> f;
    f.set_result("hello");
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), "hello");
    EXPECT_EQ(f.result(1s), "hello");
    EXPECT_EQ(f.exception(), nullptr);
}

TEST(Future, ExceptionKeepsItsType) {
    cf::Future<int> f;
    f.set_exception(std::make_exception_ptr(CustomError("boom")));
    EXPECT_TRUE(f.done());
    try {
        f.result();
        FAIL() << "result() should have thrown";
    } catch (const CustomError& e) {
        EXPECT_STREQ(e.what(), "boom");
        EXPECT_EQ(e.code, 42);
    }
    EXPECT_NE(f.exception(), nullptr);
    EXPECT_THROW(std::rethrow_exception(f.exception()), CustomError);
}

// Pins the state word map in concurrent/futures/detail/future_state.hpp: FINISHED is final.
TEST(Future, SetTwiceIsInvalidState) {
    cf::Future<int> f;
    f.set_result(1);
    EXPECT_THROW(f.set_result(2), cf::InvalidStateError);
    EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))), cf::InvalidStateError);
    EXPECT_EQ(f.result(), 1);
    EXPECT_THROW(f.set_exception(nullptr), std::invalid_argument);
}

// Pins the state word map in concurrent/futures/detail/future_state.hpp: PENDING → CANCELLED, and CANCELLED is final.
TEST(Future, CancelWhilePending) {
    cf::Future<int> f;
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_TRUE(f.cancel()) << "cancelling again still reports cancelled";
    EXPECT_THROW(f.result(), cf::CancelledError);
    EXPECT_THROW(f.exception(), cf::CancelledError);
    EXPECT_THROW(f.set_result(1), cf::InvalidStateError);
    EXPECT_FALSE(f.set_running_or_notify_cancel());
}

// Pins the state word map in concurrent/futures/detail/future_state.hpp: PENDING → RUNNING → FINISHED; no RUNNING → CANCELLED.
TEST(Future, CannotCancelRunningOrFinished) {
    cf::Future<int> running;
    EXPECT_TRUE(running.set_running_or_notify_cancel());
    EXPECT_TRUE(running.running());
    EXPECT_FALSE(running.cancel());
    EXPECT_FALSE(running.cancelled());
    EXPECT_THROW(running.set_running_or_notify_cancel(), cf::InvalidStateError);
    running.set_result(3);
    EXPECT_FALSE(running.running());
    EXPECT_FALSE(running.cancel());
    EXPECT_EQ(running.result(), 3);
    EXPECT_THROW(running.set_running_or_notify_cancel(), cf::InvalidStateError);
}

TEST(Future, ResultTimesOut) {
    cf::Future<int> f;
    auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(f.result(50ms), cf::TimeoutError);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    EXPECT_THROW(f.exception(1ms), cf::TimeoutError);
    EXPECT_THROW(f.result(-1s), cf::TimeoutError) << "a negative timeout is a poll";
    EXPECT_THROW(f.result(0s), cf::TimeoutError);
}

TEST(Future, ResultWaitsForAnotherThread) {
    cf::Future<int> f;
    std::latch waiting(1);
    std::thread setter([&] {
        waiting.wait();
        f.set_result(99);
    });
    waiting.count_down();
    EXPECT_EQ(f.result(), 99);
    setter.join();
}

// Pins the state word map in concurrent/futures/detail/future_state.hpp: completion clears `sleepers` and wakes them all.
TEST(Future, CancelWakesWaiters) {
    cf::Future<int> f;
    std::vector<std::thread> waiters;
    std::atomic<int> cancelled{0};
    std::latch started(4);
    for (int i = 0; i < 4; ++i) {
        waiters.emplace_back([&] {
            started.count_down();
            try {
                f.result();
            } catch (const cf::CancelledError&) {
                cancelled.fetch_add(1);
            }
        });
    }
    started.wait();
    f.cancel();
    for (auto& t : waiters) t.join();
    EXPECT_EQ(cancelled.load(), 4);
}

TEST(Future, VoidFuture) {
    cf::Future<void> f;
    f.set_result();
    EXPECT_TRUE(f.done());
    f.result();
    EXPECT_THROW(f.set_result(), cf::InvalidStateError);
}

TEST(Future, MoveOnlyResult) {
    cf::Future<std::unique_ptr<int>> f;
    f.set_result(std::make_unique<int>(5));
    EXPECT_EQ(*f.result(), 5) << "an lvalue result() leaves the value in place";
    std::unique_ptr<int> taken = std::move(f).result();
    ASSERT_TRUE(taken);
    EXPECT_EQ(*taken, 5);
}

TEST(Future, DoneCallbacksRunOnceInOrderInTheCompletingThread) {
    cf::Future<int> f;
    std::vector<int> order;
    std::thread::id caller;
    f.add_done_callback([&](cf::Future<int> g) {
        order.push_back(1);
        caller = std::this_thread::get_id();
        EXPECT_EQ(g.result(), 10);
    });
    f.add_done_callback([&](const cf::Future<int>&) { order.push_back(2); });
    std::thread completer([&] { f.set_result(10); });
    auto completer_id = completer.get_id();
    completer.join();
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_EQ(caller, completer_id);
}

TEST(Future, CallbackAddedAfterDoneRunsAtOnce) {
    cf::Future<int> f;
    f.set_result(1);
    int calls = 0;
    f.add_done_callback([&](cf::Future<int>) { ++calls; });
    EXPECT_EQ(calls, 1);
}

TEST(Future, CallbackRunsOnCancel) {
    cf::Future<int> f;
    bool saw_cancelled = false;
    f.add_done_callback([&](cf::Future<int> g) { saw_cancelled = g.cancelled(); });
    f.cancel();
    EXPECT_TRUE(saw_cancelled);
}

TEST(Future, ThrowingCallbackDoesNotStopTheNext) {
    cf::Future<int> f;
    int after = 0;
    f.add_done_callback([](cf::Future<int>) { throw std::runtime_error("callback failed"); });
    f.add_done_callback([&](cf::Future<int>) { ++after; });
    testing::internal::CaptureStderr();
    f.set_result(1);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(after, 1);
    EXPECT_NE(err.find("callback failed"), std::string::npos) << err;
}

TEST(Future, UseOfMovedFromHandleThrows) {
    cf::Future<int> f;
    cf::Future<int> g = std::move(f);
    EXPECT_THROW((void)f.done(), std::logic_error);  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(g.done());
}

// Pins the state word map in concurrent/futures/detail/future_state.hpp: one final status under races.
// Many threads race to complete, cancel and wait: exactly one outcome wins.
TEST(Future, StressOneFinalState) {
    for (int round = 0; round < 300; ++round) {
        cf::Future<int> f;
        std::atomic<int> set_ok{0}, cancel_ok{0}, callback_calls{0};
        f.add_done_callback([&](cf::Future<int>) { callback_calls.fetch_add(1); });
        std::latch go(6);
        std::vector<std::thread> ts;
        for (int i = 0; i < 3; ++i) {
            ts.emplace_back([&, i] {
                go.arrive_and_wait();
                try {
                    f.set_result(i);
                    set_ok.fetch_add(1);
                } catch (const cf::InvalidStateError&) {
                }
            });
        }
        ts.emplace_back([&] {
            go.arrive_and_wait();
            if (f.cancel() && f.cancelled()) cancel_ok.fetch_add(1);
        });
        for (int i = 0; i < 2; ++i) {
            ts.emplace_back([&] {
                go.arrive_and_wait();
                try {
                    (void)f.result(5s);
                } catch (const cf::CancelledError&) {
                }
            });
        }
        for (auto& t : ts) t.join();
        EXPECT_EQ(set_ok.load() + (f.cancelled() ? 1 : 0), 1);
        EXPECT_EQ(callback_calls.load(), 1);
        EXPECT_TRUE(f.done());
    }
}

}  // namespace
