// Attack: destroy executors and pools with work queued, and kill their workers from outside.
// What must hold: every future completes (result, cancellation or the documented error), nothing
// hangs, every worker process is reaped, and the fds the pool opened are closed again.
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include "abuse/core_testing.hpp"

#include <atomic>
#include <csignal>
#include <memory>
#include <vector>

#include <signal.h>

namespace {

namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace threading = nogil::threading;
using core_testing::eventually;
using core_testing::kBound;
using core_testing::open_fds;
using core_testing::process_gone;

int square(int x) { return x * x; }
int wait_on(mp::Event gate, int x) {
    gate.wait();
    return x;
}

TEST(ExecutorTeardown, ThreadPoolDestructorRunsEveryQueuedCall) {
    std::atomic<int> ran{0};
    threading::Event release;
    std::vector<cf::Future<void>> fs;
    {
        cf::ThreadPoolExecutor pool(2);
        for (int i = 0; i < 2; ++i) fs.push_back(pool.submit([&release, &ran] { release.wait(); ++ran; }));
        for (int i = 0; i < 1000; ++i) fs.push_back(pool.submit([&ran] { ++ran; }));
        // The destructor (shutdown(wait = true)) waits for the queue behind two blocked calls.
        threading::Thread releaser([&release] { release.set(); });
        releaser.start();
        releaser.join();
    }
    EXPECT_EQ(ran.load(), 1002);
    for (auto& f : fs) EXPECT_TRUE(f.done());
}

TEST(ExecutorTeardown, ThreadPoolCancelFuturesCancelsExactlyTheQueued) {
    threading::Event started, release;
    std::vector<cf::Future<int>> queued;
    cf::Future<void> running;
    {
        cf::ThreadPoolExecutor pool(1);
        running = pool.submit([&] {
            started.set();
            release.wait();
        });
        ASSERT_TRUE(started.wait(kBound));
        for (int i = 0; i < 1000; ++i) queued.push_back(pool.submit(square, i));
        pool.shutdown(false, true);
        release.set();
    }
    EXPECT_NO_THROW(running.result(kBound));
    for (auto& f : queued) EXPECT_TRUE(f.cancelled());
}

// Ended children are remembered until active_children() (or the next start) looks at them, as in
// Python: then their descriptors go.
std::size_t fds_now() {
    (void)mp::active_children();
    return open_fds();
}

// The first pool of a process starts what lives as long as the process (the resource tracker, the
// fork server, the launcher thread) and keeps their descriptors: start them before the baseline.
std::size_t fds_after_warm_up() {
    {
        cf::ProcessPoolExecutor warm(1);
        warm.submit(square, 1).result(kBound);
        mp::Pool pool(1);
        pool.apply_async(square, 1).get(kBound);
    }
    return fds_now();
}

TEST(ExecutorTeardown, ProcessPoolDestructorRunsEveryQueuedCall) {
    std::size_t fds = fds_after_warm_up();
    std::vector<int> pids;
    {
        std::vector<cf::Future<int>> fs;
        {
            cf::ProcessPoolExecutor pool(2);
            for (int i = 0; i < 200; ++i) fs.push_back(pool.submit(square, i));
            pids = pool.worker_pids();
        }
        for (int i = 0; i < 200; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(kBound), i * i);
    }
    for (int pid : pids) EXPECT_TRUE(process_gone(pid)) << pid;
    EXPECT_EQ(fds_now(), fds) << core_testing::describe_fds();
}

TEST(ExecutorTeardown, ProcessPoolWorkersKilledFromOutside) {
    std::size_t fds = fds_after_warm_up();
    std::vector<int> pids;
    {
        mp::Event gate;
        std::vector<cf::Future<int>> fs;
        cf::ProcessPoolExecutor pool(2);
        for (int i = 0; i < 100; ++i) fs.push_back(pool.submit(wait_on, gate, i));
        ASSERT_TRUE(eventually([&] { return pool.worker_pids().size() == 2; }));
        pids = pool.worker_pids();
        for (int pid : pids) ::kill(pid, SIGKILL);
        // Every future completes: BrokenProcessPool for those lost with the workers.
        for (auto& f : fs) {
            try {
                f.result(kBound);
            } catch (const cf::BrokenProcessPool&) {
            }
            EXPECT_TRUE(f.done());
        }
        EXPECT_THROW(pool.submit(square, 1), cf::BrokenProcessPool);
    }
    for (int pid : pids) EXPECT_TRUE(process_gone(pid)) << pid;
    EXPECT_EQ(fds_now(), fds) << core_testing::describe_fds();
}

TEST(ExecutorTeardown, PoolDestructorFailsUnfinishedTasks) {
    std::size_t fds = fds_after_warm_up();
    {
        mp::Event gate;
        std::vector<mp::AsyncResult<int>> rs;
        {
            mp::Pool pool(2);
            for (int i = 0; i < 100; ++i) rs.push_back(pool.apply_async(wait_on, gate, i));
        }  // terminate(): nobody opened the gate
        for (auto& r : rs) EXPECT_THROW(r.get(kBound), nogil::ProcessError);
    }
    EXPECT_TRUE(mp::active_children().empty());
    EXPECT_EQ(fds_now(), fds) << core_testing::describe_fds();
}

void nothing() {}

// A program that starts processes one after another and never asks active_children() must not
// keep every ended child's descriptors (Python forgets ended children in each start()).
TEST(ExecutorTeardown, EndedChildrenDoNotKeepDescriptors) {
    std::size_t fds = fds_after_warm_up();
    for (int i = 0; i < 30; ++i) {
        mp::Process p(nothing);
        p.start();
        p.join();
    }
    EXPECT_LE(open_fds(), fds + 2) << "only the last child is still remembered\n" << core_testing::describe_fds();
}

void die_hard(int) { ::kill(::getpid(), SIGKILL); }

TEST(ExecutorTeardown, PoolWorkerKilledMidTaskIsReplaced) {
    mp::Pool pool(2);
    for (int round = 0; round < 5; ++round) {
        auto dead = pool.apply_async(die_hard, round);
        EXPECT_THROW(dead.get(kBound), nogil::ProcessError);
        EXPECT_EQ(pool.apply_async(square, round).get(kBound), round * round);
    }
}

}  // namespace
