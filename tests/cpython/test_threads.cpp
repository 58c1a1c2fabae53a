// CPython's Lib/test/test_asyncio/test_threads.py (3.13), ported: ToThreadTests.
//
// Not applicable in C++: test_to_thread_args_kwargs's keyword arguments (C++ has positional
// arguments only; they are checked).
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace cv = nogil::contextvars;
using asyncio::Coroutine;

namespace {

// test_threads.py: ToThreadTests.test_to_thread
TEST(ToThreadTests, test_to_thread) {
    int result = run_bounded([]() -> Coroutine<int> {
        auto sum = [](std::vector<int> v) { return std::accumulate(v.begin(), v.end(), 0); };
        std::vector<int> values{40, 2};
        co_return co_await asyncio::to_thread(sum, values);
    }());
    EXPECT_EQ(result, 42);
}

// test_threads.py: ToThreadTests.test_to_thread_exception
TEST(ToThreadTests, test_to_thread_exception) {
    auto e = run_bounded([]() -> Coroutine<std::exception_ptr> {
        co_return co_await outcome(asyncio::to_thread([] { throw std::runtime_error("test"); }));
    }());
    const auto* error = as<std::runtime_error>(e);
    ASSERT_TRUE(error);
    EXPECT_STREQ(error->what(), "test");
}

// test_threads.py: ToThreadTests.test_to_thread_once
TEST(ToThreadTests, test_to_thread_once) {
    std::atomic<int> calls{0};
    run_bounded([](std::atomic<int>* calls) -> Coroutine<> {
        auto func = [calls] { ++*calls; };  // not built inside the co_await (g++ 12)
        co_await asyncio::to_thread(func);
    }(&calls));
    EXPECT_EQ(calls.load(), 1);
}

// test_threads.py: ToThreadTests.test_to_thread_concurrent
TEST(ToThreadTests, test_to_thread_concurrent) {
    std::atomic<int> calls{0};
    run_bounded([](std::atomic<int>* calls) -> Coroutine<> {
        std::vector<Coroutine<>> futs;
        auto func = [calls] { ++*calls; };
        for (int i = 0; i < 10; ++i) futs.push_back(asyncio::to_thread(func));
        co_await asyncio::gather(std::move(futs));
    }(&calls));
    EXPECT_EQ(calls.load(), 10);
}

// test_threads.py: ToThreadTests.test_to_thread_args_kwargs (positional arguments only)
TEST(ToThreadTests, test_to_thread_args_kwargs) {
    auto got = run_bounded([]() -> Coroutine<std::string> {
        co_return co_await asyncio::to_thread([](std::string s, bool something) { return s + (something ? "!" : "?"); },
                                              std::string("test"), true);
    }());
    EXPECT_EQ(got, "test!");
}

// test_threads.py: ToThreadTests.test_to_thread_contextvars
TEST(ToThreadTests, test_to_thread_contextvars) {
    cv::ContextVar<std::string> test_ctx("test_ctx");
    auto result = run_bounded([](cv::ContextVar<std::string> test_ctx) -> Coroutine<std::string> {
        test_ctx.set("parrot");
        auto get_ctx = [test_ctx] { return test_ctx.get(); };  // not built inside the co_await (g++ 12)
        co_return co_await asyncio::to_thread(get_ctx);
    }(test_ctx));
    EXPECT_EQ(result, "parrot");
}

// Python's run_in_executor does not carry the context (only to_thread copies it): the call runs
// in the worker thread's own context.
TEST(ToThreadTests, run_in_executor_does_not_carry_the_context) {
    cv::ContextVar<std::string> test_ctx("test_ctx", "worker's own");
    auto result = run_bounded([](cv::ContextVar<std::string> test_ctx) -> Coroutine<std::string> {
        test_ctx.set("parrot");
        auto get_ctx = [test_ctx] { return test_ctx.get(); };
        co_return co_await asyncio::get_running_loop().run_in_executor(nullptr, get_ctx);
    }(test_ctx));
    EXPECT_EQ(result, "worker's own");
}

}  // namespace
