#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

asyncio::Coroutine<int> add(int a, int b) {
    co_await asyncio::sleep(0);
    co_return a + b;
}

asyncio::Coroutine<int> main_returns() {
    int x = co_await add(1, 2);
    co_return x * 10;
}

struct MyError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

asyncio::Coroutine<> main_throws() {
    co_await asyncio::sleep(0);
    throw MyError("boom");
}

TEST(AsyncioRun, ReturnsTheCoroutinesValue) { EXPECT_EQ(asyncio::run(main_returns()), 30); }

TEST(AsyncioRun, RethrowsTheMainCoroutinesExceptionWithItsType) {
    EXPECT_THROW(asyncio::run(main_throws()), MyError);
}

asyncio::Coroutine<> nested_run() {
    try {
        asyncio::run(add(1, 1));
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "asyncio.run() cannot be called from a running event loop");
        co_return;
    }
    ADD_FAILURE() << "run() inside a running loop must throw";
}

TEST(AsyncioRun, InsideARunningLoopThrows) { asyncio::run(nested_run()); }

TEST(AsyncioRun, GetRunningLoopOutsideThrows) {
    try {
        asyncio::get_running_loop();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
}

asyncio::Coroutine<> forever(bool* cancelled) {
    try {
        co_await asyncio::sleep(3600s);
    } catch (const asyncio::CancelledError&) {
        *cancelled = true;
        throw;
    }
}

asyncio::Coroutine<> leaves_a_task(bool* cancelled) {
    asyncio::create_task(forever(cancelled));
    co_await asyncio::sleep(0);
}

// Pins run()'s shutdown protocol step 1 (include/nogil/asyncio/runners.hpp).
TEST(AsyncioRun, CancelsAndAwaitsLeftoverTasks) {
    bool cancelled = false;
    asyncio::run(leaves_a_task(&cancelled));
    EXPECT_TRUE(cancelled);
}

asyncio::Coroutine<> fails_when_cancelled() {
    bool cancelled = false;
    try {
        co_await asyncio::sleep(3600s);
    } catch (const asyncio::CancelledError&) {
        cancelled = true;
    }
    if (cancelled) throw MyError("cleanup failed");
}

asyncio::Coroutine<> leaves_a_failing_task(std::vector<std::string>* messages) {
    asyncio::get_running_loop().set_exception_handler(
        [messages](asyncio::EventLoop&, const asyncio::ExceptionContext& context) { messages->push_back(context.message); });
    asyncio::create_task(fails_when_cancelled());
    co_await asyncio::sleep(0);
}

// Pins run()'s shutdown protocol step 2 (include/nogil/asyncio/runners.hpp): a leftover task that
// fails with something other than CancelledError is reported once, through the exception handler.
TEST(AsyncioRun, ReportsALeftoverTaskThatFailsWhileCancelled) {
    std::vector<std::string> messages;
    asyncio::run(leaves_a_failing_task(&messages));
    EXPECT_EQ(messages, std::vector<std::string>{"unhandled exception during asyncio.run() shutdown"});
}

}  // namespace
