#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>
#include "asyncio/detail/fd_waiter.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <memory>

#include <atomic>
#include <csignal>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

TEST(AsyncioEventLoop, CallSoonRunsInOrderWithArguments) {
    asyncio::EventLoop loop;
    std::vector<int> got;
    loop.call_soon([&](int a, int b) { got.push_back(a + b); }, 1, 2);
    loop.call_soon([&] { got.push_back(10); });
    auto h = loop.call_soon([&] { got.push_back(-1); });
    h.cancel();
    EXPECT_TRUE(h.cancelled());
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(got, (std::vector<int>{3, 10}));
    EXPECT_FALSE(loop.is_running());
}

// Pins run_once step 3 (include/nogil/asyncio/detail/loop_core.hpp).
TEST(AsyncioEventLoop, ZeroDelayTimerRunsAfterAlreadyQueuedCallSoon) {
    asyncio::EventLoop loop;
    std::vector<std::string> log;
    loop.call_soon([&] {
        loop.call_later(0s, [&] { log.push_back("timer"); });
        loop.call_soon([&] { log.push_back("soon"); });
    });
    loop.call_later(5ms, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(log, (std::vector<std::string>{"soon", "timer"}));
}

// Pins run_once step 4 (include/nogil/asyncio/detail/loop_core.hpp): one turn runs exactly the
// callbacks that were ready when it began; stop() ends the loop after that turn.
TEST(AsyncioEventLoop, CallbacksScheduledByCallbacksWaitForTheNextTurn) {
    asyncio::EventLoop loop;
    std::vector<int> log;
    loop.call_soon([&] {
        log.push_back(1);
        loop.call_soon([&] { log.push_back(3); });
    });
    loop.call_soon([&] {
        log.push_back(2);
        loop.stop();
    });
    loop.run_forever();
    EXPECT_EQ(log, (std::vector<int>{1, 2}));
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
    loop.close();
}

// Pins close protocol step 2 (include/nogil/asyncio/detail/loop_core.hpp): what is scheduled is
// dropped (its callable destroyed) without being run.
TEST(AsyncioEventLoop, CloseDropsWhatIsScheduledWithoutRunningIt) {
    auto token = std::make_shared<int>(0);
    bool ran = false;
    asyncio::EventLoop loop;
    loop.call_soon([&ran, token] { ran = true; });
    loop.call_later(0s, [&ran, token] { ran = true; });
    loop.call_soon_threadsafe([&ran, token] { ran = true; });
    EXPECT_EQ(token.use_count(), 4);
    loop.close();
    EXPECT_EQ(token.use_count(), 1);
    EXPECT_FALSE(ran);
    EXPECT_THROW(loop.call_soon([] {}), std::runtime_error);
    EXPECT_THROW(loop.call_soon_threadsafe([] {}), std::runtime_error);
}

// Issue 14 (buffers that only grow): a burst of timers leaves the heap's memory behind only
// until the heap drains.
TEST(AsyncioEventLoop, TimerHeapGivesMemoryBackWhenItDrains) {
    asyncio::EventLoop loop;
    constexpr int n = 50000;
    int fired = 0;
    for (int i = 0; i < n; ++i) loop.call_later(std::chrono::microseconds(i % 100), [&] { ++fired; });
    EXPECT_GE(loop.core().timer_capacity(), std::size_t(n));
    loop.call_later(1ms, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(fired, n);
    EXPECT_LE(loop.core().timer_capacity(), nogil::asyncio::detail::LoopCore::retained_timer_slots);
    loop.close();
}

TEST(AsyncioEventLoop, TimersFireInDeadlineOrderAndCanBeCancelled) {
    asyncio::EventLoop loop;
    std::vector<int> order;
    double start = loop.time();
    loop.call_later(3ms, [&] { order.push_back(3); });
    loop.call_later(1ms, [&] { order.push_back(1); });
    auto cancelled = loop.call_later(2ms, [&] { order.push_back(2); });
    auto at = loop.call_at(start + 0.004, [&] {
        order.push_back(4);
        loop.stop();
    });
    EXPECT_GE(at.when(), start + 0.004 - 1e-6);
    cancelled.cancel();
    EXPECT_EQ(loop.core().timer_count(), 3u) << "a cancelled timer leaves the heap at once";
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<int>{1, 3, 4}));
    EXPECT_GE(loop.time() - start, 0.004);
}

// Pins run_once step 2 (include/nogil/asyncio/detail/loop_core.hpp).
TEST(AsyncioEventLoop, CallSoonThreadsafeWakesASleepingLoop) {
    asyncio::EventLoop loop;
    std::atomic<bool> ran{false};
    // The loop sleeps in epoll with no timers; only the other thread can stop it.
    loop.call_soon([&] {
        std::thread([&] {
            loop.call_soon_threadsafe([&] {
                ran = true;
                loop.stop();
            });
        }).detach();
    });
    loop.run_forever();
    EXPECT_TRUE(ran);
}

TEST(AsyncioEventLoop, ManyThreadsCallSoonThreadsafe) {
    asyncio::EventLoop loop;
    constexpr int threads = 4, each = 500;
    int count = 0;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < each; ++i)
                loop.call_soon_threadsafe([&] {
                    if (++count == threads * each) loop.stop();
                });
        });
    loop.run_forever();
    for (auto& t : ts) t.join();
    EXPECT_EQ(count, threads * each);
}

// Pins close protocol steps 1 and 4 (include/nogil/asyncio/detail/loop_core.hpp).
TEST(AsyncioEventLoop, StateErrors) {
    asyncio::EventLoop loop;
    EXPECT_FALSE(loop.is_running());
    loop.call_soon([&] {
        EXPECT_TRUE(loop.is_running());
        EXPECT_THROW(loop.run_forever(), std::runtime_error);
        EXPECT_THROW(loop.close(), std::runtime_error);
        asyncio::EventLoop other;
        EXPECT_THROW(other.run_forever(), std::runtime_error);
        loop.stop();
    });
    loop.run_forever();
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_THROW(loop.run_forever(), std::runtime_error);
    EXPECT_THROW(loop.call_soon([] {}), std::runtime_error);
    loop.close();  // idempotent
}

// Pins run_once step 1 (include/nogil/asyncio/detail/loop_core.hpp).
TEST(AsyncioEventLoop, StopBeforeRunForeverRunsOneIteration) {
    asyncio::EventLoop loop;
    int n = 0;
    loop.call_soon([&] { ++n; });
    loop.stop();
    loop.run_forever();
    EXPECT_EQ(n, 1);
}

TEST(AsyncioEventLoop, ThrowingCallbackGoesToTheHandlerAndTheLoopGoesOn) {
    asyncio::EventLoop loop;
    std::vector<std::string> seen;
    loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
        try {
            std::rethrow_exception(c.exception);
        } catch (const std::exception& e) {
            seen.push_back(c.message + ": " + e.what());
        }
    });
    loop.call_soon([] { throw std::runtime_error("bad callback"); });
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(seen, (std::vector<std::string>{"Exception in callback: bad callback"}));
}

TEST(AsyncioEventLoop, DefaultHandlerPrintsToStderr) {
    asyncio::EventLoop loop;
    testing::internal::CaptureStderr();
    loop.call_soon([] { throw std::logic_error("printed"); });
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Exception in callback"), std::string::npos) << err;
    EXPECT_NE(err.find("printed"), std::string::npos) << err;
}

TEST(AsyncioEventLoop, ThrowingHandlerFallsBackToTheDefault) {
    asyncio::EventLoop loop;
    loop.set_exception_handler([](asyncio::EventLoop&, const asyncio::ExceptionContext&) { throw 1; });
    testing::internal::CaptureStderr();
    loop.call_soon([] { throw std::logic_error("original"); });
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Unhandled error in exception handler"), std::string::npos) << err;
    EXPECT_NE(err.find("original"), std::string::npos) << err;
}

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        if (::pipe(fds) == 0) r = fds[0], w = fds[1];
    }
    ~Pipe() {
        ::close(r);
        ::close(w);
    }
};

TEST(AsyncioEventLoop, AddReaderCallsWhileReadable) {
    asyncio::EventLoop loop;
    Pipe p;
    std::string got;
    loop.add_reader(p.r, [&] {
        char c;
        if (::read(p.r, &c, 1) == 1) got += c;
        if (got.size() == 2) {
            EXPECT_TRUE(loop.remove_reader(p.r));
            loop.stop();
        }
    });
    loop.call_soon([&] { EXPECT_EQ(::write(p.w, "xy", 2), 2); });
    loop.run_forever();
    EXPECT_EQ(got, "xy");
    EXPECT_FALSE(loop.remove_reader(p.r));
    EXPECT_THROW(loop.add_reader(-1, [] {}), std::invalid_argument);
}

TEST(AsyncioEventLoop, FdWaiterResumesOnReadinessAndCancelUnregisters) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        Pipe p;
        auto reader = asyncio::create_task([](int fd) -> asyncio::Coroutine<char> {
            co_await nogil::asyncio::detail::wait_readable(fd);
            char c = 0;
            EXPECT_EQ(::read(fd, &c, 1), 1);
            co_return c;
        }(p.r));
        co_await asyncio::sleep(0);
        EXPECT_EQ(::write(p.w, "z", 1), 1);
        EXPECT_EQ(co_await reader, 'z');

        auto blocked = asyncio::create_task([](int fd) -> asyncio::Coroutine<> {
            co_await nogil::asyncio::detail::wait_readable(fd);
        }(p.r));
        co_await asyncio::sleep(0);
        blocked.cancel();
        try {
            co_await blocked;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(blocked.cancelled());
        EXPECT_FALSE(asyncio::get_running_loop().remove_reader(p.r)) << "the cancelled wait unregistered";
    }());
}

TEST(AsyncioEventLoop, DebugModeRejectsCallsFromAnotherThread) {
    asyncio::EventLoop loop;
    loop.set_debug(true);
    loop.call_soon([&] {
        std::string error;
        std::thread([&] {
            try {
                loop.call_soon([] {});
            } catch (const std::runtime_error& e) {
                error = e.what();
            }
        }).join();
        EXPECT_EQ(error, "Non-thread-safe operation invoked on an event loop other than the current one");
        loop.stop();
    });
    loop.run_forever();
}

TEST(AsyncioEventLoop, DebugModeReportsSlowCallbacksWithTheTaskName) {
    testing::internal::CaptureStderr();
    asyncio::run(
        []() -> asyncio::Coroutine<> {
            asyncio::get_running_loop().set_slow_callback_duration(0.001);
            auto t = asyncio::create_task(
                []() -> asyncio::Coroutine<> {
                    std::this_thread::sleep_for(5ms);  // blocks the loop on purpose
                    co_return;
                }(),
                "sluggish");
            co_await t;
        }(),
        {.debug = true});
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("sluggish"), std::string::npos) << err;
    EXPECT_NE(err.find("took"), std::string::npos) << err;
}

TEST(AsyncioEventLoop, InvalidArguments) {
    asyncio::EventLoop loop;
    EXPECT_THROW(loop.call_later(std::nan(""), [] {}), std::invalid_argument);
    EXPECT_THROW(loop.set_slow_callback_duration(-1), std::invalid_argument);
}

}  // namespace

namespace {

TEST(AsyncioEventLoop, SignalHandlerRunsOnTheLoop) {
    asyncio::EventLoop loop;
    int calls = 0;
    loop.add_signal_handler(SIGUSR1, [&] {
        ++calls;
        loop.stop();
    });
    loop.call_soon([] { ::kill(::getpid(), SIGUSR1); });
    loop.run_forever();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), std::runtime_error);
    EXPECT_THROW(loop.add_signal_handler(0, [] {}), std::invalid_argument);
    std::string error;
    std::thread([&] {
        try {
            loop.add_signal_handler(SIGUSR2, [] {});
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    }).join();
    EXPECT_NE(error.find("main thread"), std::string::npos) << error;
}

TEST(AsyncioEventLoop, SignalDeliveredToAnotherThreadStillReachesTheLoop) {
    asyncio::EventLoop loop;
    std::atomic<int> calls{0};
    std::latch handled(1);
    loop.add_signal_handler(SIGUSR2, [&] {
        ++calls;
        handled.count_down();
        loop.stop();
    });
    // The sender stays alive (blocked) until the loop ran the handler: a signal taken by a
    // thread that exits at once may never be delivered under ThreadSanitizer, which defers
    // signals to the receiving thread's next blocking call.
    std::thread sender([&handled] {
        ::kill(::getpid(), SIGUSR2);
        handled.wait();
    });
    loop.run_forever();
    sender.join();
    EXPECT_EQ(calls, 1);
    loop.close();  // removes the handler
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
}

}  // namespace

// A closed loop's ready ring is kept for the thread's next loop (src/asyncio/detail/loop_core.cpp).
// Loops one after another, smaller and larger, on several threads, and a thread_local loop
// destroyed during its thread's exit: every callback runs once, in order, and (under ASan)
// nothing leaks at thread exit.
namespace spare_ring {
asyncio::Coroutine<int> yield_then(int v) {
    co_await asyncio::sleep(0);
    co_return v;
}
asyncio::Coroutine<long> many(int n) {
    std::vector<asyncio::Coroutine<int>> coros;
    for (int i = 0; i < n; ++i) coros.push_back(yield_then(i));
    std::vector<int> got = co_await asyncio::gather(std::move(coros));
    long sum = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] != static_cast<int>(i)) co_return -1;  // out of order
        sum += got[i];
    }
    co_return sum;
}
}  // namespace spare_ring

TEST(AsyncioEventLoop, LoopsAfterLoopsReuseTheReadyRingSafely) {
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&wrong, t] {
            for (int n : {3000, 100, 20000, 5000}) {
                const long m = n + t;
                if (asyncio::run(spare_ring::many(static_cast<int>(m))) != m * (m - 1) / 2) ++wrong;
            }
            thread_local asyncio::EventLoop late;  // destroyed during this thread's exit
            std::vector<int> order;
            for (int i = 0; i < 200; ++i) late.call_soon([&order, i] { order.push_back(i); });
            late.call_soon([] { asyncio::get_running_loop().stop(); });
            late.run_forever();
            for (int i = 0; i < 200; ++i)
                if (order[static_cast<std::size_t>(i)] != i) ++wrong;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

// Python's Handle: a callback runs in a copy of the context that scheduled it (call_soon,
// call_later, call_soon_threadsafe from another thread); what it sets stays in that copy.
TEST(AsyncioEventLoop, CallbacksRunInACopyOfTheContextThatScheduledThem) {
    namespace cv = nogil::contextvars;
    cv::ContextVar<std::string> var("var", "unset");
    nogil::asyncio::EventLoop loop;
    std::vector<std::string> seen;
    var.set("scheduler");
    loop.call_soon([&] {
        seen.push_back(var.get());
        var.set("changed by the callback");
    });
    loop.call_later(0.0, [&] { seen.push_back(var.get()); });
    std::thread other([&] {
        var.set("other thread");
        loop.call_soon_threadsafe([&] {
            seen.push_back(var.get());
            loop.stop();
        });
    });
    other.join();
    loop.run_forever();
    loop.close();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], "scheduler");
    EXPECT_EQ(seen[1], "other thread");  // queued before the timer became due
    EXPECT_EQ(seen[2], "scheduler");     // not the first callback's change
    EXPECT_EQ(var.get(), "scheduler");
}
