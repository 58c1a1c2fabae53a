#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

TEST(AsyncioFuture, PendingResultThrowsInvalidState) {
    asyncio::EventLoop loop;
    auto f = loop.create_future<int>();
    EXPECT_FALSE(f.done());
    try {
        (void)f.result();
        FAIL();
    } catch (const asyncio::InvalidStateError& e) {
        EXPECT_STREQ(e.what(), "Result is not set.");
    }
    try {
        (void)f.exception();
        FAIL();
    } catch (const asyncio::InvalidStateError& e) {
        EXPECT_STREQ(e.what(), "Exception is not set.");
    }
}

TEST(AsyncioFuture, SetResultOnceThenInvalidState) {
    asyncio::EventLoop loop;
    asyncio::Future<std::string> f(loop);
    f.set_result("x");
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), "x");
    EXPECT_THROW(f.set_result("y"), asyncio::InvalidStateError);
    EXPECT_THROW(f.set_exception(std::runtime_error("e")), asyncio::InvalidStateError);
    EXPECT_FALSE(f.cancel());
}

TEST(AsyncioFuture, ExceptionAndCancel) {
    asyncio::EventLoop loop;
    asyncio::Future<int> f(loop);
    f.set_exception(std::out_of_range("range"));
    EXPECT_THROW((void)f.result(), std::out_of_range);
    EXPECT_NE(f.exception(), nullptr);
    asyncio::Future<> g(loop);
    EXPECT_TRUE(g.cancel("why"));
    EXPECT_TRUE(g.cancelled());
    try {
        g.result();
        FAIL();
    } catch (const asyncio::CancelledError& e) {
        EXPECT_EQ(e.message(), "why");
    }
}

TEST(AsyncioFuture, AwaitedValueSetFromACallback) {
    int v = asyncio::run([]() -> asyncio::Coroutine<int> {
        asyncio::Future<int> f;
        asyncio::get_running_loop().call_later(1ms, [f] { f.set_result(11); });
        co_return co_await f;
    }());
    EXPECT_EQ(v, 11);
}

TEST(AsyncioFuture, AwaitingADoneFutureDoesNotSuspend) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> f;
        f.set_result(3);
        bool other_ran = false;
        asyncio::get_running_loop().call_soon([&] { other_ran = true; });
        EXPECT_EQ(co_await f, 3);
        EXPECT_FALSE(other_ran);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(other_ran);
    }());
}

TEST(AsyncioFuture, CancellingTheAwaitingTaskCancelsTheFuture) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> f;
        auto t = asyncio::create_task([](asyncio::Future<int> f) -> asyncio::Coroutine<int> { co_return co_await f; }(f));
        co_await asyncio::sleep(0);
        t.cancel("msg");
        EXPECT_TRUE(f.cancelled());
        try {
            co_await t;
            ADD_FAILURE();
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "msg");
        }
    }());
}

TEST(AsyncioFuture, CancelledFutureThrowsIntoTheAwaiter) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<> f;
        asyncio::get_running_loop().call_soon([f] { f.cancel("gone"); });
        try {
            co_await f;
            ADD_FAILURE();
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "gone");
        }
        // The awaiting task itself was not cancelled: it is not "cancelling".
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

TEST(AsyncioFuture, DoneCallbacksRunLaterInOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<int> order;
        asyncio::Future<int> f;
        for (int i = 0; i < 3; ++i)
            f.add_done_callback([&order, i](asyncio::Future<int> done) {
                EXPECT_EQ(done.result(), 5);
                order.push_back(i);
            });
        f.set_result(5);
        EXPECT_TRUE(order.empty());
        co_await asyncio::sleep(0);
        EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
    }());
}

TEST(AsyncioFuture, RunUntilCompleteWithAFuture) {
    asyncio::EventLoop loop;
    asyncio::Future<int> f(loop);
    loop.call_soon([f] { f.set_result(8); });
    EXPECT_EQ(loop.run_until_complete(f), 8);
}

TEST(AsyncioFuture, OutsideALoopNeedsAnExplicitLoop) { EXPECT_THROW(asyncio::Future<int>(), std::runtime_error); }

TEST(AsyncioFuture, AwaitFromAnotherLoopThrows) {
    asyncio::EventLoop other;
    asyncio::Future<int> foreign(other);
    asyncio::run([](asyncio::Future<int> foreign) -> asyncio::Coroutine<> {
        EXPECT_THROW(co_await foreign, std::runtime_error);
    }(foreign));
}

TEST(AsyncioFuture, ExceptionNeverRetrievedIsReportedWhenTheLastHandleGoes) {
    std::vector<std::string> messages;
    asyncio::run([](std::vector<std::string>* out) -> asyncio::Coroutine<> {
        asyncio::get_running_loop().set_exception_handler(
            [out](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { out->push_back(c.message); });
        {
            asyncio::Future<int> lost;
            lost.set_exception(std::runtime_error("lost"));
        }
        EXPECT_EQ(out->size(), 1u);
        {
            asyncio::Future<int> seen;
            seen.set_exception(std::runtime_error("seen"));
            EXPECT_NE(seen.exception(), nullptr);
            asyncio::Future<int> cancelled;
            cancelled.cancel();
        }
        co_return;
    }(&messages));
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], "Future exception was never retrieved");
}

TEST(AsyncioFuture, MoveOnlyValueIsMovedOutByAwaitingAnRvalue) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<std::unique_ptr<int>> f;
        f.set_result(std::make_unique<int>(4));
        std::unique_ptr<int> p = co_await std::move(f);
        EXPECT_TRUE(p && *p == 4);
    }());
}

// A future stores its first internal callback (an awaiting task's) in one word and moves it
// into a list when a second one or an exception arrives. Frames destroyed at close must leave
// no registration behind in either form (ASan sees a dangling one when the future completes).
// Pins the close protocol step 3 (include/nogil/asyncio/detail/loop_core.hpp) and the waiter
// protocol step 4 (include/nogil/asyncio/detail/task_base.hpp).
TEST(AsyncioFuture, FramesDestroyedAtCloseDetachFromTheFutureTheyAwait) {
    asyncio::EventLoop loop;
    asyncio::Future<int> one(loop);
    asyncio::Future<int> two(loop);
    auto await_it = [](asyncio::Future<int> f) -> asyncio::Coroutine<int> { co_return co_await f; };
    auto a = loop.create_task(await_it(one));  // `one`: a single registration
    auto b = loop.create_task(await_it(two));  // `two`: two registrations (a list)
    auto c = loop.create_task(await_it(two));
    loop.run_until_complete([]() -> asyncio::Coroutine<> { co_await asyncio::sleep(0); }());
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(b.done());
    loop.close();
    one.set_result(1);
    two.set_exception(std::runtime_error("late"));
    EXPECT_TRUE(one.done());
    EXPECT_THROW((void)two.result(), std::runtime_error);
    // The frames are gone; the tasks stay pending, as in Python.
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(c.done());
}

TEST(AsyncioFuture, AwaiterThenUserCallbacksRunInRegistrationOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<std::string> log;
        asyncio::Future<int> f;
        auto awaiter = asyncio::create_task(
            [](asyncio::Future<int> f, std::vector<std::string>* log) -> asyncio::Coroutine<> {
                const int v = co_await f;
                log->push_back("awaiter " + std::to_string(v));
            }(f, &log));
        co_await asyncio::sleep(0);  // the awaiter is now registered on f
        f.add_done_callback([&log](asyncio::Future<int> done) { log.push_back("user " + std::to_string(done.result())); });
        const auto removed = f.add_done_callback([&log](asyncio::Future<int>) { log.push_back("removed"); });
        EXPECT_EQ(f.remove_done_callback(removed), 1u);
        f.set_result(3);
        co_await awaiter;
        co_await asyncio::sleep(0);
        EXPECT_EQ(log, (std::vector<std::string>{"awaiter 3", "user 3"}));
    }());
}

}  // namespace
