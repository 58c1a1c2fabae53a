// Attack: release an object from the very thread it owns. A task holding the last owner of its
// ThreadPoolExecutor, a done callback (on the process pool's manager thread) holding the last
// owner of its ProcessPoolExecutor, a Pool callback holding the last Pool, a Timer's function
// holding the last Timer handle, a loop callback holding the last EventLoop. Each must neither
// free memory its thread still uses (ASan reports that), nor deadlock joining itself, nor lose
// the work still queued; and the threads must end (the thread count returns to its baseline).
#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include "abuse/core_testing.hpp"

#include <chrono>
#include <memory>
#include <thread>

namespace {

namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace threading = nogil::threading;
namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

using core_testing::eventually;
using core_testing::kBound;

int square(int x) { return x * x; }

/// An owner released on its own thread must still let that thread end.
bool threads_back_to(std::size_t baseline) {
    return eventually([&] { return threading::active_count() <= baseline; });
}
bool children_reaped() {
    return eventually([] { return mp::active_children().empty(); });
}

// issue 14 item 1: SIGSEGV in ThreadPoolCore::wait_for_work, every time.
TEST(ReleasedByOwnThread, ThreadPoolTaskDropsTheLastExecutor) {
    std::size_t baseline = threading::active_count();
    for (int workers : {1, 4}) {
        for (int round = 0; round < 20; ++round) {
            auto pool = std::make_shared<cf::ThreadPoolExecutor>(workers);
            threading::Event release, queued_ran;
            auto holder = pool;
            // The first call holds the executor; once the caller has let go, it drops the last owner.
            auto first = pool->submit([&release, keep = std::move(holder)]() mutable {
                release.wait();
                keep.reset();  // ~ThreadPoolExecutor runs here, on the pool's own worker
            });
            // Queued behind it: must still run after the executor is gone.
            auto later = pool->submit([&queued_ran] { queued_ran.set(); });
            pool.reset();
            release.set();
            ASSERT_TRUE(queued_ran.wait(kBound));
            EXPECT_NO_THROW(first.result(kBound));
            EXPECT_NO_THROW(later.result(kBound));
        }
    }
    EXPECT_TRUE(threads_back_to(baseline));
}

// A done callback runs on the worker that finished the call: it may drop the last owner too.
TEST(ReleasedByOwnThread, ThreadPoolDoneCallbackDropsTheLastExecutor) {
    std::size_t baseline = threading::active_count();
    for (int round = 0; round < 20; ++round) {
        auto pool = std::make_shared<cf::ThreadPoolExecutor>(2);
        threading::Event go, dropped;
        auto f = pool->submit([&go] { go.wait(); });
        f.add_done_callback([keep = pool, &dropped](const cf::Future<void>&) mutable {
            keep.reset();
            dropped.set();
        });
        pool.reset();
        go.set();
        ASSERT_TRUE(dropped.wait(kBound));
    }
    EXPECT_TRUE(threads_back_to(baseline));
}

// The process pool's done callbacks run on its manager thread.
TEST(ReleasedByOwnThread, ProcessPoolDoneCallbackDropsTheLastExecutor) {
    for (int round = 0; round < 3; ++round) {
        auto pool = std::make_shared<cf::ProcessPoolExecutor>(cf::ProcessPoolOptions{.max_workers = 1});
        threading::Event dropped;
        auto f = pool->submit(square, 7);
        f.add_done_callback([keep = pool, &dropped](const cf::Future<int>&) mutable {
            keep.reset();
            dropped.set();
        });
        pool.reset();
        ASSERT_TRUE(dropped.wait(kBound));
        EXPECT_EQ(f.result(kBound), 49);
    }
    EXPECT_TRUE(children_reaped());
}

// multiprocessing.Pool's callbacks run on its manager thread; ~Pool is terminate() + join().
TEST(ReleasedByOwnThread, PoolCallbackDropsTheLastPool) {
    for (int round = 0; round < 3; ++round) {
        auto pool = std::make_shared<mp::Pool>(1);
        threading::Event dropped;
        auto keep = pool;
        auto r = pool->apply_async(square, 6, mp::Callbacks{.callback = [keep, &dropped](const int&) mutable {
                                                                  keep.reset();
                                                                  dropped.set();
                                                              }});
        keep.reset();
        pool.reset();
        ASSERT_TRUE(dropped.wait(kBound));
        EXPECT_EQ(r.get(kBound), 36);
    }
    EXPECT_TRUE(children_reaped());
}

TEST(ReleasedByOwnThread, TimerFunctionDropsTheLastTimer) {
    std::size_t baseline = threading::active_count();
    threading::Event started, dropped;
    auto timer = std::make_shared<std::unique_ptr<threading::Timer>>();
    *timer = std::make_unique<threading::Timer>(0ms, [timer, &started, &dropped] {
        started.wait();  // the caller is done with the handle (start() has returned)
        timer->reset();
        dropped.set();
    });
    (*timer)->start();
    started.set();
    ASSERT_TRUE(dropped.wait(kBound));
    EXPECT_TRUE(threads_back_to(baseline));
}

// A callback running on the loop destroys the loop's last owner: ~EventLoop on the loop's
// thread, while run_forever() is on the stack.
TEST(ReleasedByOwnThread, LoopCallbackDropsTheLastLoop) {
    for (int round = 0; round < 20; ++round) {
        auto loop = std::make_unique<asyncio::EventLoop>();
        asyncio::EventLoop* raw = loop.get();
        raw->call_soon([raw, owner = std::make_shared<std::unique_ptr<asyncio::EventLoop>>(std::move(loop))] {
            raw->stop();
            owner->reset();
        });
        raw->run_forever();
    }
}

}  // namespace
