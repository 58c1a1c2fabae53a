// The executors' part of `nogil ps` (include/nogil/concurrent/futures/detail/debug_offsets.hpp):
// the reader (tools/nogil/src/inspect/executors.cpp, linked in) reads this very process with
// process_vm_readv, as it reads any other: a pool's workers, the call each runs, named by the
// function or the callable's type, and the queued calls in the order they will run.
#include <nogil/concurrent/futures.hpp>
#include <nogil/concurrent/futures/detail/debug_offsets.hpp>
#include <nogil/threading/thread.hpp>

#include "inspect/remote.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cf = nogil::concurrent::futures;
namespace inspect = nogil_tool::inspect;

namespace {

struct Gate {
    std::latch started{2};  // both blocking calls run
    std::latch open{1};
};

int wait_at_gate(Gate* gate) {
    gate->started.count_down();
    gate->open.wait();
    return 1;
}

int square(int x) { return x * x; }

const inspect::ExecutorSnapshot* find_pool(const inspect::ProcessSnapshot& snap, const std::string& name) {
    for (const auto& ex : snap.executors)
        if (ex.name == name) return &ex;
    return nullptr;
}

bool is_thread_of_this_process(int tid) {
    return tid > 0 && std::filesystem::exists("/proc/self/task/" + std::to_string(tid));
}

TEST(ExecutorDebugRecord, FoundByItsSymbol) {
    EXPECT_EQ(inspect::find_symbol(::getpid(), "nogil_executor_debug_offsets"),
              reinterpret_cast<std::uint64_t>(&nogil_executor_debug_offsets));
    EXPECT_EQ(nogil_executor_debug_offsets.version, 1u);
    EXPECT_EQ(nogil_executor_debug_offsets.size, sizeof(cf::detail::ExecutorDebugOffsets));
}

// A pool whose two workers are stuck in calls, with calls queued behind them.
TEST(ExecutorDebugRecord, StuckWorkersAndQueuedCalls) {
    Gate gate;
    std::vector<cf::Future<int>> futures;
    {
        cf::ThreadPoolExecutor pool({.max_workers = 2, .thread_name_prefix = "stuck pool"});
        futures.push_back(pool.submit(wait_at_gate, &gate));
        futures.push_back(pool.submit([&gate] { return wait_at_gate(&gate); }));
        gate.started.wait();
        for (int i = 0; i < 3; ++i) futures.push_back(pool.submit(square, i));
        futures.push_back(pool.submit([] { return 7; }));

        const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
        const inspect::ExecutorSnapshot* ex = find_pool(snap, "stuck pool");
        ASSERT_NE(ex, nullptr);
        EXPECT_EQ(ex->kind, "thread pool");
        EXPECT_EQ(ex->max_workers, 2);
        EXPECT_FALSE(ex->shut_down);
        ASSERT_EQ(ex->workers.size(), 2u);
        std::vector<std::string> calls;
        for (const auto& w : ex->workers) {
            EXPECT_TRUE(is_thread_of_this_process(w.tid)) << w.tid;
            calls.push_back(w.call);
        }
        // The function pointer by its function's name; the lambda by its type, which names the
        // function it is written in (g++ and clang alike: "...::<lambda>").
        const std::string by_pointer = "(anonymous namespace)::wait_at_gate((anonymous namespace)::Gate*)";
        const bool pointer_first = calls[0] == by_pointer;
        const std::string& lambda = calls[pointer_first ? 1 : 0];
        EXPECT_EQ(calls[pointer_first ? 0 : 1], by_pointer);
        EXPECT_NE(lambda.find("StuckWorkersAndQueuedCalls"), std::string::npos) << lambda;
        EXPECT_TRUE(lambda.ends_with("::TestBody()::<lambda>")) << lambda;
        EXPECT_EQ(ex->queued, 4u);
        ASSERT_EQ(ex->queued_calls.size(), 4u);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(ex->queued_calls[static_cast<std::size_t>(i)], "(anonymous namespace)::square(int)");
        EXPECT_EQ(ex->queued_calls[3], lambda);

        pool.shutdown(false);  // the queued calls still run
        const inspect::ProcessSnapshot closed = inspect::read_process(::getpid());
        ex = find_pool(closed, "stuck pool");
        ASSERT_NE(ex, nullptr);
        EXPECT_TRUE(ex->shut_down);
        EXPECT_EQ(ex->queued, 4u);
        gate.open.count_down();
    }
    int sum = 0;
    for (auto& f : futures) sum += f.result();
    EXPECT_EQ(sum, 1 + 1 + 0 + 1 + 4 + 7);
    // A pool that is gone is no longer listed.
    EXPECT_EQ(find_pool(inspect::read_process(::getpid()), "stuck pool"), nullptr);
}

// Idle workers show no call.
TEST(ExecutorDebugRecord, IdleWorkers) {
    cf::ThreadPoolExecutor pool({.max_workers = 1, .thread_name_prefix = "idle pool"});
    EXPECT_EQ(pool.submit(square, 3).result(), 9);
    // result() can return before the worker has cleared its slot (it clears it right after the
    // call returns): a Future for a second call, done, orders the first call's clearing first.
    EXPECT_EQ(pool.submit(square, 4).result(), 16);
    auto read = [] {
        const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
        const inspect::ExecutorSnapshot* ex = find_pool(snap, "idle pool");
        return ex ? std::optional<inspect::ExecutorSnapshot>(*ex) : std::nullopt;
    };
    auto ex = read();
    ASSERT_TRUE(ex);
    ASSERT_EQ(ex->workers.size(), 1u);
    // The second call's slot is cleared after it returns, as the first was: wait for that store.
    for (int i = 0; i < 100000 && !ex->workers[0].call.empty(); ++i) {
        std::this_thread::yield();
        ex = read();
        ASSERT_TRUE(ex);
    }
    EXPECT_EQ(ex->workers[0].call, "");
    EXPECT_EQ(ex->queued, 0u);
}

// Pools that submit, run and finish calls all the time, read again and again: every read holds
// together (the reader bounds what it follows), and the program is not disturbed (TSan, ASan).
TEST(ExecutorDebugRecord, ReadWhileBusy) {
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    cf::ThreadPoolExecutor pool({.max_workers = 3, .thread_name_prefix = "busy pool"});
    std::thread submitter([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            std::vector<cf::Future<int>> batch;
            for (int i = 0; i < 64; ++i) batch.push_back(pool.submit(square, i));
            for (auto& f : batch) done.fetch_add(f.result() >= 0, std::memory_order_relaxed);
        }
    });
    for (int i = 0; i < 50; ++i) {
        const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
        const inspect::ExecutorSnapshot* ex = find_pool(snap, "busy pool");
        ASSERT_NE(ex, nullptr);
        EXPECT_LE(ex->workers.size(), 3u);
        // At most 64 calls are outstanding; a torn walk may meet a recycled item again, but the
        // reader never counts an address twice nor past its bound.
        EXPECT_LE(ex->queued, std::size_t(1) << 20);
        for (const auto& w : ex->workers) EXPECT_TRUE(w.tid == 0 || is_thread_of_this_process(w.tid)) << w.tid;
    }
    stop = true;
    submitter.join();
    EXPECT_GT(done.load(), 0);
}

}  // namespace
