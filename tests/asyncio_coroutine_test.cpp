#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

namespace asyncio = nogil::asyncio;

namespace {

struct CustomError : std::logic_error {
    using std::logic_error::logic_error;
    int code = 7;
};

asyncio::Coroutine<int> value(int v) { co_return v; }
asyncio::Coroutine<> fails() {
    co_await asyncio::sleep(0);
    CustomError e("custom");
    e.code = 42;
    throw e;
}

TEST(AsyncioCoroutine, IsLazy) {
    bool ran = false;
    auto make = [](bool* flag) -> asyncio::Coroutine<> {
        *flag = true;
        co_return;
    };
    {
        auto c = make(&ran);
        EXPECT_FALSE(ran);
    }
    EXPECT_FALSE(ran);  // destroyed without running
}

asyncio::Coroutine<int> sum_inline() {
    int a = co_await value(20);
    int b = co_await value(22);
    co_return a + b;
}

TEST(AsyncioCoroutine, AwaitRunsInlineAndReturnsTheValue) { EXPECT_EQ(asyncio::run(sum_inline()), 42); }

asyncio::Coroutine<int> catches() {
    try {
        co_await fails();
    } catch (const CustomError& e) {
        co_return e.code;
    }
    co_return -1;
}

TEST(AsyncioCoroutine, ExceptionsPropagateWithTheirOwnType) { EXPECT_EQ(asyncio::run(catches()), 42); }

asyncio::Coroutine<std::unique_ptr<int>> move_only() { co_return std::make_unique<int>(5); }
asyncio::Coroutine<int> uses_move_only() {
    auto p = co_await move_only();
    co_return *p;
}

TEST(AsyncioCoroutine, MoveOnlyValues) { EXPECT_EQ(asyncio::run(uses_move_only()), 5); }

asyncio::Coroutine<long> nested(long depth) {
    if (depth == 0) co_return 0;
    long below = co_await nested(depth - 1);
    co_return below + 1;
}

TEST(AsyncioCoroutine, AMillionNestedAwaitsDoNotOverflowTheStack) { EXPECT_EQ(asyncio::run(nested(1'000'000)), 1'000'000); }

asyncio::Coroutine<long> nested_yielding(long depth) {
    if (depth == 0) {
        co_await asyncio::sleep(0);
        co_return 0;
    }
    long below = co_await nested_yielding(depth - 1);
    co_return below + 1;
}

TEST(AsyncioCoroutine, DeepChainSuspendsAndResumesAtTheBottom) {
    EXPECT_EQ(asyncio::run(nested_yielding(100'000)), 100'000);
}

asyncio::Coroutine<> awaits_twice() {
    auto c = value(1);
    co_await std::move(c);
    EXPECT_FALSE(c.valid());
    EXPECT_THROW(co_await std::move(c), std::runtime_error);
}

TEST(AsyncioCoroutine, AwaitingTwiceThrows) { asyncio::run(awaits_twice()); }

TEST(AsyncioCoroutine, AwaitOutsideATaskIsImpossibleButCreationIsFine) {
    auto c = value(3);
    EXPECT_TRUE(c.valid());
    EXPECT_NE(std::string(c.name()).find("value"), std::string::npos);
}

asyncio::Coroutine<> innermost_frame(std::string* stack) {
    std::ostringstream out;
    asyncio::current_task()->print_stack(out);
    *stack = out.str();
    co_return;
}
asyncio::Coroutine<> middle_frame(std::string* stack) { co_await innermost_frame(stack); }

TEST(AsyncioCoroutine, PrintStackShowsTheAwaitChain) {
    std::string stack;
    asyncio::run(middle_frame(&stack));
    auto middle = stack.find("middle_frame");
    auto inner = stack.find("innermost_frame");
    ASSERT_NE(middle, std::string::npos) << stack;
    ASSERT_NE(inner, std::string::npos) << stack;
    EXPECT_LT(middle, inner) << "outermost first";
    EXPECT_NE(stack.find("asyncio_coroutine_test.cpp"), std::string::npos) << stack;
}

asyncio::Coroutine<> never_awaited_inside(std::string* report) {
    asyncio::get_running_loop().set_exception_handler(
        [report](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { *report = c.message; });
    {
        auto forgotten = value(1);
    }
    co_return;
}

TEST(AsyncioCoroutine, NeverAwaitedIsReportedInDebugMode) {
    std::string report;
    asyncio::run(never_awaited_inside(&report), {.debug = true});
    EXPECT_NE(report.find("was never awaited"), std::string::npos) << report;
    EXPECT_NE(report.find("value"), std::string::npos) << report;
}

TEST(AsyncioCoroutine, NeverAwaitedIsQuietOutsideDebugMode) {
    std::string report;
    asyncio::run(never_awaited_inside(&report), {.debug = false});
    EXPECT_EQ(report, "");
}

}  // namespace
