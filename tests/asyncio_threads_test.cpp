#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <stdexcept>
#include <thread>

namespace asyncio = nogil::asyncio;
namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

namespace {

int add(int a, int b) { return a + b; }

TEST(AsyncioThreads, ToThreadRunsOnAnotherThread) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto loop_thread = std::this_thread::get_id();
        auto where = []() { return std::this_thread::get_id(); };
        auto worker = co_await asyncio::to_thread(where);
        EXPECT_NE(worker, loop_thread);
        EXPECT_EQ(co_await asyncio::to_thread(add, 2, 3), 5);
        EXPECT_EQ(std::this_thread::get_id(), loop_thread) << "resumed on the loop's thread";
    }());
}

TEST(AsyncioThreads, ToThreadExceptionKeepsItsType) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto thrower = []() -> int { throw std::out_of_range("r"); };
        EXPECT_THROW(co_await asyncio::to_thread(thrower), std::out_of_range);
    }());
}

TEST(AsyncioThreads, RunInExecutorWithAnExplicitPool) {
    cf::ThreadPoolExecutor pool(2);
    asyncio::run([](cf::ThreadPoolExecutor* pool) -> asyncio::Coroutine<> {
        auto f = asyncio::get_running_loop().run_in_executor(pool, add, 20, 22);
        EXPECT_EQ(co_await f, 42);
    }(&pool));
}

TEST(AsyncioThreads, CancellingTheAwaiterCancelsAQueuedCall) {
    cf::ThreadPoolExecutor pool(1);
    std::latch release(1);
    std::atomic<bool> second_ran{false};
    asyncio::run([](cf::ThreadPoolExecutor* pool, std::latch* release, std::atomic<bool>* second_ran) -> asyncio::Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto blocker = loop.run_in_executor(pool, [release] { release->wait(); });
        auto queued = loop.run_in_executor(pool, [second_ran] { *second_ran = true; });
        auto waiter = asyncio::create_task([](asyncio::Future<> q) -> asyncio::Coroutine<> { co_await q; }(queued));
        co_await asyncio::sleep(0);
        waiter.cancel();
        EXPECT_THROW(co_await waiter, asyncio::CancelledError);
        release->count_down();
        co_await blocker;
        EXPECT_TRUE(queued.cancelled());
    }(&pool, &release, &second_ran));
    pool.shutdown(true);
    EXPECT_FALSE(second_ran) << "a queued call whose future was cancelled does not run";
}

TEST(AsyncioThreads, AwaitAConcurrentFuture) {
    cf::ThreadPoolExecutor pool(1);
    asyncio::run([](cf::ThreadPoolExecutor* pool) -> asyncio::Coroutine<> {
        cf::Future<int> f = pool->submit(add, 1, 1);
        EXPECT_EQ(co_await f, 2);
        cf::Future<int> manual;
        std::thread setter([manual]() mutable {
            manual.set_running_or_notify_cancel();
            manual.set_result(9);
        });
        EXPECT_EQ(co_await manual, 9);
        setter.join();
    }(&pool));
}

TEST(AsyncioThreads, RunCoroutineThreadsafeFromAnotherThread) {
    asyncio::EventLoop loop;
    std::thread runner([&] { loop.run_forever(); });
    auto coro = []() -> asyncio::Coroutine<int> {
        co_await asyncio::sleep(1ms);
        co_return 77;
    };
    cf::Future<int> f = asyncio::run_coroutine_threadsafe(coro(), loop);
    EXPECT_EQ(f.result(5s), 77);

    auto failing = []() -> asyncio::Coroutine<int> {
        co_await asyncio::sleep(0);
        throw std::logic_error("l");
    };
    EXPECT_THROW(asyncio::run_coroutine_threadsafe(failing(), loop).result(5s), std::logic_error);

    // Cancelling the concurrent future cancels the task.
    std::atomic<bool> cancelled{false};
    auto forever = [](std::atomic<bool>* cancelled) -> asyncio::Coroutine<int> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            *cancelled = true;
            throw;
        }
        co_return 0;
    };
    cf::Future<int> g = asyncio::run_coroutine_threadsafe(forever(&cancelled), loop);
    EXPECT_TRUE(g.cancel());
    // Wait for the loop to have seen it, without sleeping: a round trip through the loop.
    for (int i = 0; i < 1000 && !cancelled; ++i) {
        auto ping = []() -> asyncio::Coroutine<int> {
            co_await asyncio::sleep(0);
            co_return 0;
        };
        asyncio::run_coroutine_threadsafe(ping(), loop).result(5s);
    }
    EXPECT_TRUE(cancelled);
    loop.call_soon_threadsafe([&] { loop.stop(); });
    runner.join();
}

TEST(AsyncioThreads, ShutdownDefaultExecutorThenRunInExecutorThrows) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        EXPECT_EQ(co_await asyncio::to_thread(add, 1, 2), 3);
        co_await loop.shutdown_default_executor();
        EXPECT_THROW(loop.run_in_executor(nullptr, add, 1, 2), std::runtime_error);
    }());
}

}  // namespace
