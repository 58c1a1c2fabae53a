// CPython's Lib/test/test_concurrent_futures/test_future.py (FutureTests), ported. util.py's
// create_future states are made through the public executor-side calls; Python's
// CANCELLED_AND_NOTIFIED state is not a separate state in nogil (a cancelled future is done at
// once: docs/executors.md), so its cases are the CANCELLED ones.
#include "futures_util.hpp"

#include <nogil/concurrent/futures.hpp>
#include <nogil/errors.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <thread>

namespace {

namespace cf = nogil::concurrent::futures;
using namespace cpython_futures;
using namespace std::chrono_literals;

// test_future.py: FutureTests.test_done_callback_with_result
TEST(FutureTests, test_done_callback_with_result) {
    std::optional<int> callback_result;
    cf::Future<int> f;
    f.add_done_callback([&](cf::Future<int> fut) { callback_result = fut.result(); });
    f.set_result(5);
    EXPECT_EQ(callback_result, 5);
}

// test_future.py: FutureTests.test_done_callback_with_exception
TEST(FutureTests, test_done_callback_with_exception) {
    std::exception_ptr callback_exception;
    cf::Future<int> f;
    f.add_done_callback([&](cf::Future<int> fut) { callback_exception = fut.exception(); });
    f.set_exception(std::make_exception_ptr(std::runtime_error("test")));
    ASSERT_TRUE(callback_exception);
    try {
        std::rethrow_exception(callback_exception);
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "test");
    }
}

// test_future.py: FutureTests.test_done_callback_with_cancel
TEST(FutureTests, test_done_callback_with_cancel) {
    std::optional<bool> was_cancelled;
    cf::Future<int> f;
    f.add_done_callback([&](cf::Future<int> fut) { was_cancelled = fut.cancelled(); });
    EXPECT_TRUE(f.cancel());
    EXPECT_EQ(was_cancelled, true);
}

// test_future.py: FutureTests.test_done_callback_raises (the exception is reported, and the next
// callback still runs)
TEST(FutureTests, test_done_callback_raises) {
    bool raising_was_called = false, fn_was_called = false;
    cf::Future<int> f;
    f.add_done_callback([&](cf::Future<int>) {
        raising_was_called = true;
        throw std::runtime_error("doh!");
    });
    f.add_done_callback([&](cf::Future<int>) { fn_was_called = true; });
    testing::internal::CaptureStderr();
    f.set_result(5);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(raising_was_called);
    EXPECT_TRUE(fn_was_called);
    EXPECT_NE(err.find("doh!"), std::string::npos) << err;
}

// test_future.py: FutureTests.test_done_callback_already_successful
TEST(FutureTests, test_done_callback_already_successful) {
    std::optional<int> callback_result;
    cf::Future<int> f;
    f.set_result(5);
    f.add_done_callback([&](cf::Future<int> fut) { callback_result = fut.result(); });
    EXPECT_EQ(callback_result, 5);
}

// test_future.py: FutureTests.test_done_callback_already_failed
TEST(FutureTests, test_done_callback_already_failed) {
    std::exception_ptr callback_exception;
    cf::Future<int> f;
    f.set_exception(std::make_exception_ptr(std::runtime_error("test")));
    f.add_done_callback([&](cf::Future<int> fut) { callback_exception = fut.exception(); });
    EXPECT_TRUE(callback_exception);
}

// test_future.py: FutureTests.test_done_callback_already_cancelled
TEST(FutureTests, test_done_callback_already_cancelled) {
    std::optional<bool> was_cancelled;
    cf::Future<int> f;
    EXPECT_TRUE(f.cancel());
    f.add_done_callback([&](cf::Future<int> fut) { was_cancelled = fut.cancelled(); });
    EXPECT_EQ(was_cancelled, true);
}

// test_future.py: FutureTests.test_done_callback_raises_already_succeeded
TEST(FutureTests, test_done_callback_raises_already_succeeded) {
    cf::Future<int> f;
    f.set_result(5);
    testing::internal::CaptureStderr();
    f.add_done_callback([](cf::Future<int>) { throw std::runtime_error("doh!"); });
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("doh!"), std::string::npos) << err;
}

// test_future.py: FutureTests.test_repr — not applicable: a Future has no repr.

// test_future.py: FutureTests.test_cancel
TEST(FutureTests, test_cancel) {
    auto f1 = pending_future(), f2 = running_future(), f3 = cancelled_future(), f5 = exception_future(),
         f6 = successful_future();
    EXPECT_TRUE(f1.cancel());
    EXPECT_TRUE(f1.cancelled());
    EXPECT_FALSE(f2.cancel());
    EXPECT_TRUE(f2.running());
    EXPECT_TRUE(f3.cancel());
    EXPECT_TRUE(f3.cancelled());
    EXPECT_FALSE(f5.cancel());
    EXPECT_FALSE(f5.cancelled());
    EXPECT_FALSE(f6.cancel());
    EXPECT_FALSE(f6.cancelled());
}

// test_future.py: FutureTests.test_cancelled
TEST(FutureTests, test_cancelled) {
    EXPECT_FALSE(pending_future().cancelled());
    EXPECT_FALSE(running_future().cancelled());
    EXPECT_TRUE(cancelled_future().cancelled());
    EXPECT_FALSE(exception_future().cancelled());
    EXPECT_FALSE(successful_future().cancelled());
}

// test_future.py: FutureTests.test_done
TEST(FutureTests, test_done) {
    EXPECT_FALSE(pending_future().done());
    EXPECT_FALSE(running_future().done());
    EXPECT_TRUE(cancelled_future().done());
    EXPECT_TRUE(exception_future().done());
    EXPECT_TRUE(successful_future().done());
}

// test_future.py: FutureTests.test_running
TEST(FutureTests, test_running) {
    EXPECT_FALSE(pending_future().running());
    EXPECT_TRUE(running_future().running());
    EXPECT_FALSE(cancelled_future().running());
    EXPECT_FALSE(exception_future().running());
    EXPECT_FALSE(successful_future().running());
}

// test_future.py: FutureTests.test_result_with_timeout
TEST(FutureTests, test_result_with_timeout) {
    EXPECT_THROW(pending_future().result(0s), cf::TimeoutError);
    EXPECT_THROW(running_future().result(0s), cf::TimeoutError);
    EXPECT_THROW(cancelled_future().result(0s), cf::CancelledError);
    EXPECT_THROW(exception_future().result(0s), nogil::OSError);
    EXPECT_EQ(successful_future().result(0s), 42);
}

// test_future.py: FutureTests.test_result_with_success
TEST(FutureTests, test_result_with_success) {
    auto f1 = pending_future();
    std::thread t([f1]() mutable { f1.set_result(42); });
    EXPECT_EQ(f1.result(60s), 42);
    t.join();
}

// test_future.py: FutureTests.test_result_with_cancel
TEST(FutureTests, test_result_with_cancel) {
    auto f1 = pending_future();
    std::thread t([f1]() mutable { f1.cancel(); });
    EXPECT_THROW(f1.result(60s), cf::CancelledError);
    t.join();
}

// test_future.py: FutureTests.test_exception_with_timeout
TEST(FutureTests, test_exception_with_timeout) {
    EXPECT_THROW(pending_future().exception(0s), cf::TimeoutError);
    EXPECT_THROW(running_future().exception(0s), cf::TimeoutError);
    EXPECT_THROW(cancelled_future().exception(0s), cf::CancelledError);
    auto e = exception_future().exception(0s);
    EXPECT_THROW(std::rethrow_exception(e), nogil::OSError);
    EXPECT_FALSE(successful_future().exception(0s));
}

// test_future.py: FutureTests.test_exception_with_success
TEST(FutureTests, test_exception_with_success) {
    auto f1 = pending_future();
    std::thread t([f1]() mutable {
        f1.set_running_or_notify_cancel();
        f1.set_exception(std::make_exception_ptr(std::runtime_error("x")));
    });
    auto e = f1.exception(60s);
    EXPECT_THROW(std::rethrow_exception(e), std::runtime_error);
    t.join();
}

// test_future.py: FutureTests.test_multiple_set_result
TEST(FutureTests, test_multiple_set_result) {
    cf::Future<int> f;
    f.set_result(1);
    EXPECT_THROW(f.set_result(2), nogil::InvalidStateError);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 1);
}

// test_future.py: FutureTests.test_multiple_set_exception
TEST(FutureTests, test_multiple_set_exception) {
    cf::Future<int> f;
    auto e = std::make_exception_ptr(std::invalid_argument("x"));
    f.set_exception(e);
    EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::invalid_argument("y"))), nogil::InvalidStateError);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.exception(), e);
}

// test_future.py: FutureTests.test_get_snapshot — not applicable: _get_snapshot is a private
// helper of asyncio's wrapping of concurrent futures (nogil's asyncio reads the state directly).

}  // namespace
