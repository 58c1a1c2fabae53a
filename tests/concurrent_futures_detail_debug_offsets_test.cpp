// The executors' part of `nogil ps` (include/nogil/concurrent/futures/detail/debug_offsets.hpp):
// the reader (tools/nogil/src/inspect/executors.cpp, linked in) reads this very process with
// process_vm_readv, as it reads any other: a pool's workers, the call each runs, named by the
// function or the callable's type, and the queued calls in the order they will run.
#include <nogil/concurrent/futures.hpp>
#include <nogil/concurrent/futures/detail/debug_offsets.hpp>
#include <nogil/multiprocessing/connection.hpp>
#include <nogil/multiprocessing/pool.hpp>
#include <nogil/threading/thread.hpp>

#include "inspect/remote.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <dlfcn.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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

// ---- process pools: the manager's state, read as a seqlock ---------------------------------

// In the worker process: says it started on `go`, then blocks until the parent writes a byte.
int wait_for_go(nogil::multiprocessing::Connection go) {
    char byte = 's';
    if (::write(go.fileno(), &byte, 1) != 1) return -1;
    return ::read(go.fileno(), &byte, 1) == 1 ? 1 : -1;
}

[[noreturn]] int exit_now(int code) { ::_exit(code); }

void wait_started(nogil::multiprocessing::Connection& ours) {
    char byte = 0;
    ASSERT_EQ(::read(ours.fileno(), &byte, 1), 1);
}

void go(nogil::multiprocessing::Connection& ours) { ASSERT_EQ(::write(ours.fileno(), "g", 1), 1); }

std::optional<inspect::ExecutorSnapshot> read_process_pool() {
    const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
    for (const auto& ex : snap.executors)
        if (ex.kind == "process pool") return ex;
    return std::nullopt;
}

// A worker process stuck in a call, calls queued behind it: its pid, its call, the queue in
// order (in its pipeline, then in the manager's); shut down, the queue is still there; a pool
// that is gone is no longer listed.
TEST(ExecutorDebugRecord, ProcessPoolStuckWorkerAndQueuedCalls) {
    auto [ours, theirs] = nogil::multiprocessing::Pipe();
    std::vector<cf::Future<int>> futures;
    {
        cf::ProcessPoolExecutor pool(1);
        futures.push_back(pool.submit(wait_for_go, theirs));
        wait_started(ours);
        for (int i = 0; i < 3; ++i) futures.push_back(pool.submit(square, i));
        futures.push_back(pool.submit([] { return 7; }));

        auto ex = read_process_pool();
        ASSERT_TRUE(ex);
        EXPECT_TRUE(ex->processes);
        EXPECT_EQ(ex->max_workers, 1);
        EXPECT_FALSE(ex->shut_down);
        EXPECT_EQ(ex->broken, "");
        ASSERT_EQ(ex->workers.size(), 1u);
        EXPECT_EQ(ex->workers[0].tid, pool.worker_pids().at(0));
        EXPECT_FALSE(ex->workers[0].dead);
        EXPECT_EQ(ex->workers[0].call, "(anonymous namespace)::wait_for_go(nogil::multiprocessing::Connection)");
        EXPECT_EQ(ex->queued, 4u);
        ASSERT_EQ(ex->queued_calls.size(), 4u);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(ex->queued_calls[static_cast<std::size_t>(i)], "(anonymous namespace)::square(int)");
        // A captureless lambda runs through its static invoker, named as a thread pool names it.
        const std::string& lambda = ex->queued_calls[3];
        EXPECT_NE(lambda.find("ProcessPoolStuckWorkerAndQueuedCalls"), std::string::npos) << lambda;
        EXPECT_TRUE(lambda.ends_with("::TestBody()::<lambda>")) << lambda;

        pool.shutdown(false);  // the queued calls still run
        ex = read_process_pool();
        ASSERT_TRUE(ex);
        EXPECT_TRUE(ex->shut_down);
        EXPECT_EQ(ex->queued, 4u);
        go(ours);
    }
    int sum = 0;
    for (auto& f : futures) sum += f.result();
    EXPECT_EQ(sum, 1 + 0 + 1 + 4 + 7);
    EXPECT_FALSE(read_process_pool());
}

// A call to a function of a library the program loaded through a symlink (as /lib is /usr/lib
// on a merged /usr): the program names the library by the path it loaded it by (the call's
// FunctionId), the kernel's maps by the file's own path; the reader finds it by device and inode.
TEST(ExecutorDebugRecord, ProcessPoolCallIntoALibraryLoadedThroughASymlink) {
    const std::filesystem::path library = NOGIL_PS_TESTLIB;
    const std::filesystem::path link = std::filesystem::temp_directory_path() / ("nogil_ps_link_" + std::to_string(::getpid()));
    std::filesystem::create_directory_symlink(library.parent_path(), link);
    const std::string through_link = (link / library.filename()).string();
    void* handle = ::dlopen(through_link.c_str(), RTLD_NOW);
    ASSERT_NE(handle, nullptr) << ::dlerror();
    using Function = int (*)(int);
    auto get = reinterpret_cast<Function (*)()>(::dlsym(handle, "nogil_ps_testlib_function"));
    ASSERT_NE(get, nullptr);
    const Function triple = get();
    {
        auto [ours, theirs] = nogil::multiprocessing::Pipe();
        cf::ProcessPoolExecutor pool(1);
        auto stuck = pool.submit(wait_for_go, theirs);
        wait_started(ours);
        auto tripled = pool.submit(triple, 3);
        auto ex = read_process_pool();
        ASSERT_TRUE(ex);
        EXPECT_EQ(ex->queued_calls, std::vector<std::string>{"nogil_ps_testlib::triple(int)"});
        go(ours);
        EXPECT_EQ(stuck.result(), 1);
        EXPECT_EQ(tripled.result(), 9);
    }
    std::filesystem::remove(link);
}

// An idle worker shows no call, once it noted the end of its last one.
TEST(ExecutorDebugRecord, ProcessPoolIdleWorker) {
    cf::ProcessPoolExecutor pool(1);
    EXPECT_EQ(pool.submit(square, 3).result(), 9);
    auto ex = read_process_pool();
    ASSERT_TRUE(ex);
    // The worker notes the end of a call right after it returns, before it answers.
    ASSERT_EQ(ex->workers.size(), 1u);
    EXPECT_EQ(ex->workers[0].call, "");
    EXPECT_EQ(ex->queued, 0u);
}

// A worker that died while the manager could not see it (held up in a done callback) says
// dead, with the call it was running; once the manager broke the pool, the pool says why.
TEST(ExecutorDebugRecord, ProcessPoolDeadWorkerThenBroken) {
    auto [ours, theirs] = nogil::multiprocessing::Pipe();
    cf::ProcessPoolExecutor pool(1);
    std::latch in_callback{1}, release{1};
    cf::Future<int> first = pool.submit(wait_for_go, theirs);
    wait_started(ours);
    first.add_done_callback([&](const cf::Future<int>&) {  // runs on the manager thread
        in_callback.count_down();
        release.wait();
    });
    go(ours);
    in_callback.wait();
    const int pid = pool.worker_pids().at(0);
    cf::Future<int> dies = pool.submit(exit_now, 3);  // sent by submit itself: the worker is idle
    std::optional<inspect::ExecutorSnapshot> ex;
    for (int i = 0; i < 100000; ++i) {  // until the worker has exited
        ex = read_process_pool();
        ASSERT_TRUE(ex);
        ASSERT_EQ(ex->workers.size(), 1u);
        if (ex->workers[0].dead) break;
        std::this_thread::yield();
    }
    EXPECT_TRUE(ex->workers[0].dead);
    EXPECT_EQ(ex->workers[0].tid, pid);
    EXPECT_EQ(ex->workers[0].call, "(anonymous namespace)::exit_now(int)");
    release.count_down();
    EXPECT_THROW(dies.result(), cf::BrokenProcessPool);
    ex = read_process_pool();
    ASSERT_TRUE(ex);
    EXPECT_NE(ex->broken.find("terminated abruptly"), std::string::npos) << ex->broken;
    EXPECT_TRUE(ex->workers.empty());
    EXPECT_EQ(ex->queued, 0u);
}

// A process pool that submits, runs and answers calls all the time, read again and again: the
// reads hold together (seqlock over the pool's mutex), and the program is not disturbed.
TEST(ExecutorDebugRecord, ProcessPoolReadWhileBusy) {
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    cf::ProcessPoolExecutor pool(2);
    EXPECT_EQ(pool.submit(square, 2).result(), 4);  // the workers are started
    const std::vector<int> pids = pool.worker_pids();
    std::thread submitter([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            std::vector<cf::Future<int>> batch;
            for (int i = 0; i < 64; ++i) batch.push_back(pool.submit(square, i));
            for (auto& f : batch) done.fetch_add(f.result() >= 0, std::memory_order_relaxed);
        }
    });
    int consistent = 0;
    for (int i = 0; i < 50; ++i) {
        auto ex = read_process_pool();
        EXPECT_TRUE(ex);  // listed even when every read was torn
        if (!ex || ex->torn) continue;  // changed under every try: nothing to hold it to
        ++consistent;
        EXPECT_EQ(ex->workers.size(), 2u);
        for (const auto& w : ex->workers) {
            EXPECT_TRUE(w.tid == pids[0] || w.tid == pids[1]) << w.tid;
            EXPECT_TRUE(w.call.empty() || w.call == "(anonymous namespace)::square(int)") << w.call;
        }
        EXPECT_LE(ex->queued, 64u);  // at most 64 calls are outstanding
        for (const auto& call : ex->queued_calls) EXPECT_EQ(call, "(anonymous namespace)::square(int)");
    }
    stop = true;
    submitter.join();
    EXPECT_GT(done.load(), 0);
    // How many busy reads were consistent depends on the machine's load (under TSan on two busy
    // cores every one may be torn): reported, not asserted. Once nothing changes the pool, a read
    // is consistent and sees it idle.
    ::testing::Test::RecordProperty("consistent_busy_reads", consistent);
    auto quiet = read_process_pool();
    ASSERT_TRUE(quiet);
    EXPECT_FALSE(quiet->torn);
    EXPECT_EQ(quiet->queued, 0u);
    EXPECT_EQ(quiet->workers.size(), 2u);
}

// ---- multiprocessing::Pool: its queue under its mutex's count, its workers under the
// manager's own count (the manager changes them outside the mutex) ----------------------------

namespace mp = nogil::multiprocessing;

std::optional<inspect::ExecutorSnapshot> read_mp_pool() {
    const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
    for (const auto& ex : snap.executors)
        if (ex.kind == "multiprocessing pool") return ex;
    return std::nullopt;
}

int worker_pid() { return static_cast<int>(::getpid()); }

// Kills process `pid` and returns once it has exited (a zombie or reaped: the worker of a pool
// started by the fork server is the server's child, not ours, so waitid() cannot wait for it; a
// pidfd can).
bool kill_and_wait(int pid) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return false;
    ::kill(pid, SIGKILL);
    pollfd p{fd, POLLIN, 0};
    int n;
    do {
        n = ::poll(&p, 1, -1);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    return n == 1;
}

// A worker stuck in a call, calls queued behind it: apply's by their function, map's and imap's
// by the function they map with their chunk (map knows how many chunks, imap not yet); closed,
// the queue is still there; a pool that is gone is no longer listed.
TEST(ExecutorDebugRecord, MpPoolStuckWorkerAndQueuedCalls) {
    auto [ours, theirs] = mp::Pipe();
    {
        mp::Pool pool(1);
        const int pid = pool.apply(worker_pid);
        auto stuck = pool.apply_async(wait_for_go, theirs);
        wait_started(ours);
        std::vector<mp::AsyncResult<int>> calls;
        for (int i = 0; i < 3; ++i) calls.push_back(pool.apply_async(square, i));
        auto mapped = pool.map_async(square, std::vector<int>{1, 2, 3}, 2);
        auto lazy = pool.imap(square, std::vector<int>{4}, 1);

        auto ex = read_mp_pool();
        ASSERT_TRUE(ex);
        EXPECT_TRUE(ex->processes);
        EXPECT_EQ(ex->max_workers, 1);
        EXPECT_FALSE(ex->shut_down);
        EXPECT_FALSE(ex->torn);
        ASSERT_EQ(ex->workers.size(), 1u);
        EXPECT_EQ(ex->workers[0].tid, pid);
        EXPECT_FALSE(ex->workers[0].dead);
        EXPECT_EQ(ex->workers[0].call, "(anonymous namespace)::wait_for_go(nogil::multiprocessing::Connection)");
        EXPECT_EQ(ex->queued, 6u);
        EXPECT_EQ(ex->queued_calls, (std::vector<std::string>{
                                        "(anonymous namespace)::square(int)", "(anonymous namespace)::square(int)",
                                        "(anonymous namespace)::square(int)", "(anonymous namespace)::square(int), chunk 1 of 2",
                                        "(anonymous namespace)::square(int), chunk 2 of 2", "(anonymous namespace)::square(int), chunk 1"}));

        pool.close();  // the queued calls still run
        ex = read_mp_pool();
        ASSERT_TRUE(ex);
        EXPECT_TRUE(ex->shut_down);
        EXPECT_EQ(ex->shut_down_as, "closed");
        EXPECT_EQ(ex->queued, 6u);
        go(ours);
        EXPECT_EQ(stuck.get(), 1);
        int sum = 0;
        for (auto& c : calls) sum += c.get();
        for (int v : mapped.get()) sum += v;
        for (int v : lazy) sum += v;
        EXPECT_EQ(sum, 0 + 1 + 4 + 1 + 4 + 9 + 16);
        pool.join();
    }
    EXPECT_FALSE(read_mp_pool());
}

// Idle workers show no call (the manager notes a call's end before its result is ready).
TEST(ExecutorDebugRecord, MpPoolIdleWorkers) {
    mp::Pool pool(2);
    EXPECT_EQ(pool.apply(square, 3), 9);
    auto ex = read_mp_pool();
    ASSERT_TRUE(ex);
    ASSERT_EQ(ex->workers.size(), 2u);
    for (const auto& w : ex->workers) {
        EXPECT_GT(w.tid, 0);
        EXPECT_EQ(w.call, "");
    }
    EXPECT_EQ(ex->queued, 0u);
}

// A worker that died while the manager could not see it (held up in a callback) says dead;
// terminated, the pool says so and has no workers.
TEST(ExecutorDebugRecord, MpPoolDeadWorkerThenTerminated) {
    mp::Pool pool(1);
    std::latch killed{1}, release{1};
    bool exited = false;
    auto r = pool.apply_async(worker_pid, mp::Callbacks{.callback = [&](const int& pid) {  // the manager thread
        exited = kill_and_wait(pid);
        killed.count_down();
        release.wait();
    }});
    struct Release {  // the callback returns whatever happens below (the pool's destructor joins it)
        std::latch& latch;
        ~Release() {
            if (latch.try_wait()) return;
            latch.count_down();
        }
    } guard{release};
    killed.wait();
    ASSERT_TRUE(exited);
    auto ex = read_mp_pool();
    ASSERT_TRUE(ex);
    ASSERT_EQ(ex->workers.size(), 1u);
    EXPECT_TRUE(ex->workers[0].dead) << ex->workers[0].tid << (ex->torn ? " torn" : "");
    EXPECT_EQ(ex->workers[0].call, "");
    release.count_down();
    EXPECT_EQ(r.get(), ex->workers[0].tid);
    pool.terminate();
    pool.join();
    ex = read_mp_pool();
    ASSERT_TRUE(ex);
    EXPECT_EQ(ex->shut_down_as, "terminated");
    EXPECT_TRUE(ex->workers.empty());
    EXPECT_EQ(ex->queued, 0u);
}

// A pool that runs calls all the time, read again and again: the reads hold together (both
// counts), and the program is not disturbed.
TEST(ExecutorDebugRecord, MpPoolReadWhileBusy) {
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    mp::Pool pool(2);
    EXPECT_EQ(pool.apply(square, 2), 4);
    std::thread submitter([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            std::vector<mp::AsyncResult<int>> batch;
            for (int i = 0; i < 64; ++i) batch.push_back(pool.apply_async(square, i));
            for (auto& r : batch) done.fetch_add(r.get() >= 0, std::memory_order_relaxed);
        }
    });
    int consistent = 0;
    for (int i = 0; i < 50; ++i) {
        auto ex = read_mp_pool();
        EXPECT_TRUE(ex);
        if (!ex || ex->torn) continue;
        ++consistent;
        EXPECT_EQ(ex->workers.size(), 2u);
        for (const auto& w : ex->workers) {
            EXPECT_GT(w.tid, 0);
            EXPECT_FALSE(w.dead);
            EXPECT_TRUE(w.call.empty() || w.call == "(anonymous namespace)::square(int)") << w.call;
        }
        EXPECT_LE(ex->queued, 64u);
        for (const auto& call : ex->queued_calls) EXPECT_EQ(call, "(anonymous namespace)::square(int)");
    }
    stop = true;
    submitter.join();
    EXPECT_GT(done.load(), 0);
    ::testing::Test::RecordProperty("consistent_busy_reads", consistent);
    auto quiet = read_mp_pool();
    ASSERT_TRUE(quiet);
    EXPECT_FALSE(quiet->torn);
    EXPECT_EQ(quiet->queued, 0u);
    EXPECT_EQ(quiet->workers.size(), 2u);
}

}  // namespace
