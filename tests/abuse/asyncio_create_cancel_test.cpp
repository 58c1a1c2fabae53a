// Attack: create and cancel tasks by the ten thousand (the attack used 1 M; scaled so that each
// build takes seconds: a cancellation costs two C++ exceptions, about 25 us in release). What must hold: every task ends cancelled, the loop holds
// no task, timer or fd afterwards, and memory does not grow from one round to the next (what a
// round allocates, the next one reuses).
#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "abuse/core_testing.hpp"

#include <vector>

namespace {

namespace asyncio = nogil::asyncio;
using core_testing::open_fds;
using core_testing::rss_bytes;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kTasks = 5'000;
#else
constexpr int kTasks = 30'000;
#endif
constexpr int kRounds = 3;
// ASan holds freed memory in its quarantine (256 MB) and TSan keeps shadow and history, so the
// resident size says nothing there: those builds check leaks with LeakSanitizer instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif

asyncio::Coroutine<> sleeper() { co_await asyncio::sleep(3600); }

asyncio::Coroutine<int> create_and_cancel(int n) {
    std::vector<asyncio::Task<>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(sleeper()));
    co_await asyncio::sleep(0);  // every task starts and arms its timer
    for (auto& t : tasks) t.cancel();
    int cancelled = 0;
    for (auto& t : tasks) {
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
            ++cancelled;
        }
    }
    co_return cancelled;
}

TEST(AsyncioCreateCancel, EveryTaskCancelledNothingLeft) {
    std::size_t fds = open_fds();
    asyncio::EventLoop loop;
    std::size_t after_first = 0;
    for (int round = 0; round < kRounds; ++round) {
        EXPECT_EQ(loop.run_until_complete(create_and_cancel(kTasks)), kTasks);
        EXPECT_EQ(loop.core().task_count(), 0u);
        EXPECT_EQ(loop.core().timer_count(), 0u) << "cancelled sleeps take their timers out";
        if (round == 0) after_first = rss_bytes();
    }
    // Later rounds reuse what the first allocated: allow 25% (allocator noise).
    if (kRssMeaningful) {
        EXPECT_LE(rss_bytes(), after_first + after_first / 4) << "after round 1: " << after_first;
    }
    loop.close();
    EXPECT_EQ(open_fds(), fds);
}

}  // namespace
