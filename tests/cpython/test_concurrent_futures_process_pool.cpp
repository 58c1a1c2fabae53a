// CPython's Lib/test/test_concurrent_futures/test_process_pool.py (ProcessPoolExecutorTest, with
// executor.py's ExecutorTest cases that differ on a process pool), ported. Callables are plain
// functions (API.md rule 5). Every wait is bounded by kBound: a hang fails instead of blocking.
#include "futures_util.hpp"

#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
using cpython_futures::to_vector;
namespace mp = nogil::multiprocessing;
using namespace std::chrono_literals;

constexpr auto kBound = std::chrono::seconds(60);

// pow(i, i) for i < 40 exceeds 64 bits: Python's integers grow, here the product wraps (unsigned,
// so defined) identically in the worker and in the expected values.
unsigned long ipow(unsigned long base, unsigned long exp) {
    unsigned long r = 1;
    while (exp-- > 0) r *= base;
    return r;
}
int mul(int x, int y) { return x * y; }
int getpid_of_worker(int) { return static_cast<int>(::getpid()); }
int block_forever(int) {
    for (;;) ::pause();
}
int divide(int a, int b) {
    if (b == 0) throw std::domain_error("integer division or modulo by zero");
    return a / b;
}
int raise_runtime_error(int) { throw std::runtime_error("123"); }
std::string to_str(int x) { return std::to_string(x); }

std::vector<unsigned long> expected_pows(unsigned long n) {
    std::vector<unsigned long> v;
    for (unsigned long i = 0; i < n; ++i) v.push_back(ipow(i, i));
    return v;
}

class ProcessPoolExecutorTest : public ::testing::TestWithParam<std::string> {
protected:
    cf::ProcessPoolOptions options(int workers) const {
        return cf::ProcessPoolOptions{.max_workers = workers, .start_method = GetParam()};
    }
};

// executor.py: ExecutorTest.test_submit (process pool)
TEST_P(ProcessPoolExecutorTest, test_submit) {
    cf::ProcessPoolExecutor executor(options(5));
    EXPECT_EQ(executor.submit(ipow, 2UL, 8UL).result(kBound), 256u);
}

// executor.py: ExecutorTest.test_map_exception (process pool, chunks: the failing chunk's other
// items are lost with it and the iteration ends, as in 3.13/3.14)
TEST_P(ProcessPoolExecutorTest, test_map_exception) {
    cf::ProcessPoolExecutor executor(options(5));
    std::vector<int> a{5, 5, 5, 5}, b{2, 3, 0, 5};
    auto results = executor.map(divide, a, b);
    auto it = results.begin();
    EXPECT_EQ(*it, 2);
    ++it;
    EXPECT_EQ(*it, 1);
    ++it;
    EXPECT_THROW(*it, std::domain_error);
    EXPECT_TRUE(it == results.end());
}

// executor.py: ExecutorTest.test_map_buffersize (process pool)
TEST_P(ProcessPoolExecutorTest, test_map_buffersize) {
    cf::ProcessPoolExecutor executor(options(2));
    std::vector<int> ints{0, 1, 2, 3};
    for (int buffersize : {1, 2, 4, 8}) {
        auto res = executor.map(to_str, ints, cf::MapOptions{.buffersize = buffersize});
        EXPECT_EQ(to_vector(res), (std::vector<std::string>{"0", "1", "2", "3"})) << buffersize;
    }
}

// executor.py: ExecutorTest.test_map_buffersize_on_infinite_iterable (process pool)
TEST_P(ProcessPoolExecutorTest, test_map_buffersize_on_infinite_iterable) {
    cf::ProcessPoolExecutor executor(options(2));
    auto res = executor.map(to_str, std::views::iota(0), cf::MapOptions{.buffersize = 2});
    auto it = res.begin();
    EXPECT_EQ(*it, "0");
    ++it;
    EXPECT_EQ(*it, "1");
    ++it;
    EXPECT_EQ(*it, "2");
}

// executor.py: ExecutorTest.test_map_submits_without_iteration counterpart on a process pool: the
// results are never read, yet every call runs (observable through shutdown's wait).
TEST_P(ProcessPoolExecutorTest, map_runs_without_iteration) {
    cf::ProcessPoolExecutor executor(options(2));
    std::vector<int> items(20, 1);
    executor.map(getpid_of_worker, items);
    auto after = executor.submit(mul, 6, 7);
    EXPECT_EQ(after.result(kBound), 42);  // tasks run in submission order: the map's ran first
    executor.shutdown();
}

// test_process_pool.py: ProcessPoolExecutorTest.test_max_workers_too_large — not applicable: the
// limit of 61 is Windows'.

// test_process_pool.py: ProcessPoolExecutorTest.test_killed_child
TEST_P(ProcessPoolExecutorTest, test_killed_child) {
    cf::ProcessPoolExecutor executor(options(2));
    auto future = executor.submit(block_forever, 0);
    std::vector<int> pids;
    while ((pids = executor.worker_pids()).empty()) std::this_thread::yield();
    ::kill(pids.front(), SIGTERM);
    EXPECT_THROW(future.result(kBound), cf::BrokenProcessPool);
    EXPECT_THROW(executor.submit(ipow, 2UL, 8UL), cf::BrokenProcessPool);
}

// test_process_pool.py: ProcessPoolExecutorTest.test_broken_process_pool_traceback — a
// BrokenProcessPool is created for each future instead of one shared among all futures.
TEST_P(ProcessPoolExecutorTest, test_broken_process_pool_traceback) {
    cf::ProcessPoolExecutor executor(options(2));
    std::vector<cf::Future<int>> futures;
    for (int i = 0; i < 3; ++i) futures.push_back(executor.submit(block_forever, i));
    std::vector<int> pids;
    while ((pids = executor.worker_pids()).empty()) std::this_thread::yield();
    ::kill(pids.front(), SIGTERM);
    std::set<const void*> objects;
    for (auto& f : futures) {
        try {
            f.result(kBound);
            ADD_FAILURE() << "BrokenProcessPool not raised";
        } catch (const cf::BrokenProcessPool& e) {
            objects.insert(&e);
        }
    }
    EXPECT_EQ(objects.size(), futures.size()) << "one exception object shared by several futures";
}

// test_process_pool.py: ProcessPoolExecutorTest.test_map_chunksize
TEST_P(ProcessPoolExecutorTest, test_map_chunksize) {
    cf::ProcessPoolExecutor executor(options(5));
    auto range40 = std::views::iota(0UL, 40UL);
    auto ref = expected_pows(40);
    for (int chunksize : {6, 50, 40}) {
        EXPECT_EQ(to_vector(executor.map(ipow, range40, range40, cf::MapOptions{.chunksize = chunksize})), ref);
    }
    EXPECT_THROW(executor.map(ipow, range40, range40, cf::MapOptions{.chunksize = -1}), std::invalid_argument);
}

// test_process_pool.py: ProcessPoolExecutorTest.test_traceback — the exception arrives with its
// type and message; the child's traceback (__cause__ = _RemoteTraceback) is not applicable: C++
// exceptions carry no traceback.
TEST_P(ProcessPoolExecutorTest, test_traceback) {
    cf::ProcessPoolExecutor executor(options(2));
    auto future = executor.submit(raise_runtime_error, 0);
    try {
        future.result(kBound);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(typeid(e), typeid(std::runtime_error));
        EXPECT_STREQ(e.what(), "123");
    }
}

// test_process_pool.py: ProcessPoolExecutorTest.test_ressources_gced_in_workers — not applicable:
// arguments are serialized copies destroyed when the call returns; there is no GC or Manager.

// test_process_pool.py: ProcessPoolExecutorTest.test_saturation
TEST_P(ProcessPoolExecutorTest, test_saturation) {
    cf::ProcessPoolExecutor executor(options(4));
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 15 * executor.max_workers(); ++i) fs.push_back(executor.submit(mul, i, 1));
    for (auto& f : fs) f.result(kBound);
    EXPECT_LE(executor.worker_pids().size(), static_cast<std::size_t>(executor.max_workers()));
}

// test_process_pool.py: ProcessPoolExecutorTest.test_idle_process_reuse_one — not applicable:
// nogil starts max_workers processes at the first submit (as Python's fork pools do).

// test_process_pool.py: ProcessPoolExecutorTest.test_max_tasks_per_child
TEST_P(ProcessPoolExecutorTest, test_max_tasks_per_child) {
    if (GetParam() == "fork") {
        EXPECT_THROW(cf::ProcessPoolExecutor({.max_workers = 1, .start_method = "fork", .max_tasks_per_child = 3}),
                     std::invalid_argument);
        return;
    }
    cf::ProcessPoolExecutor executor({.max_workers = 1, .start_method = GetParam(), .max_tasks_per_child = 3});
    int original_pid = executor.submit(getpid_of_worker, 0).result(kBound);
    EXPECT_EQ(executor.submit(getpid_of_worker, 0).result(kBound), original_pid);
    EXPECT_EQ(executor.submit(getpid_of_worker, 0).result(kBound), original_pid);
    int new_pid = executor.submit(getpid_of_worker, 0).result(kBound);
    EXPECT_NE(new_pid, original_pid);
    EXPECT_EQ(executor.worker_pids().size(), 1u);
    executor.shutdown();
}

// test_process_pool.py: ProcessPoolExecutorTest.test_max_tasks_per_child_defaults_to_spawn_context
// — not applicable: nogil's default start method (forkserver) already allows max_tasks_per_child.

// test_process_pool.py: ProcessPoolExecutorTest.test_max_tasks_per_child_pending_tasks_gh115634
TEST_P(ProcessPoolExecutorTest, test_max_tasks_per_child_pending_tasks_gh115634) {
    if (GetParam() == "fork") GTEST_SKIP() << "max_tasks_per_child is not allowed with fork (tested above)";
    for (auto [max_workers, max_tasks, num_tasks] : {std::tuple{1, 2, 6}, std::tuple{2, 2, 8}}) {
        cf::ProcessPoolExecutor executor(
            {.max_workers = max_workers, .start_method = GetParam(), .max_tasks_per_child = max_tasks});
        std::vector<cf::Future<int>> futures;
        for (int i = 0; i < num_tasks; ++i) futures.push_back(executor.submit(mul, i, 2));
        for (int i = 0; i < num_tasks; ++i) EXPECT_EQ(futures[static_cast<std::size_t>(i)].result(kBound), i * 2);
        executor.shutdown(true, true);
    }
}

// test_process_pool.py: ProcessPoolExecutorTest.test_terminate_workers / test_kill_workers (3.14)
TEST_P(ProcessPoolExecutorTest, test_force_shutdown_workers) {
    for (bool kill : {false, true}) {
        cf::ProcessPoolExecutor executor(options(1));
        auto f = executor.submit(block_forever, 0);
        std::vector<int> pids;
        while ((pids = executor.worker_pids()).empty()) std::this_thread::yield();
        while (!f.running() && !f.done()) std::this_thread::yield();
        kill ? executor.kill_workers() : executor.terminate_workers();
        EXPECT_THROW(f.result(kBound), cf::BrokenProcessPool);
    }
}

// test_process_pool.py: the mock- and Manager-based cases (test_sysconf_permission_error,
// _run_stranded_worker_exit_test and what follows) — not applicable: they patch Python internals
// (os.sysconf, the executor's weakref, the spawn machinery) that have no C++ counterpart.

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPoolExecutorTest, ::testing::Values("fork", "forkserver", "spawn"),
                         [](const auto& info) { return info.param; });

}  // namespace
