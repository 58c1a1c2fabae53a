// nogil::mpi::MPIPoolExecutor, run by CTest under mpiexec in both start modes (tests/mpi/CMakeLists.txt):
// spawned workers (mpiexec -n 1, NOGIL_MPI_MAX_WORKERS = 2 or 4) and static ranks (mpiexec -n 3
// or 5), over shared memory and over TCP only. NOGIL_TEST_WORKERS says how many workers to expect.
// Behaviour follows mpi4py's test/test_futures.py (named per test) and CPython's
// test_concurrent_futures where mpi4py follows it.

#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/mpi.hpp>
#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <numeric>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cf = nogil::concurrent::futures;
namespace mpi = nogil::mpi;

namespace {

int expected_workers() {
    const char* env = std::getenv("NOGIL_TEST_WORKERS");
    return env ? std::atoi(env) : 1;
}

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
int pid_after(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return static_cast<int>(::getpid());
}
int sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return ms;
}
int throws_out_of_range(int) { throw std::out_of_range("index 7 is out of range"); }
struct SecretError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
int throws_unknown(int) { throw SecretError("nobody knows me"); }
std::string get_env(std::string name) {
    const char* v = std::getenv(name.c_str());
    return v ? v : "<unset>";
}
std::string get_cwd() {
    char buf[4096];
    return ::getcwd(buf, sizeof buf) ? buf : "";
}
int initialized_value = 0;
void initialize(int v) { initialized_value = v; }
int read_initialized() { return initialized_value; }
void failing_initializer() { throw std::runtime_error("initializer says no"); }
std::uint64_t checksum(std::vector<unsigned char> data) {
    std::uint64_t sum = data.size();
    for (std::size_t i = 0; i < data.size(); i += 4096) sum = sum * 31 + data[i];
    return sum;
}
std::string big_string(std::size_t n) { return std::string(n, 'x'); }
void nothing(int) {}

}  // namespace

// test_futures.py: ProcessPoolMixin.test_submit / CPython ExecutorTest.test_submit
TEST(MPIPoolExecutor, SubmitReturnsTheResult) {
    mpi::MPIPoolExecutor executor;
    EXPECT_EQ(executor.submit(square, 7).result(), 49);
    EXPECT_EQ(executor.submit(add, 2, 3).result(), 5);
    EXPECT_EQ(executor.submit([](std::string s) { return s + "!"; }, std::string("hi")).result(), "hi!");
}

// test_futures.py: PoolExecutorTest.test_num_workers
TEST(MPIPoolExecutor, NumWorkersIsWhatTheRunGives) {
    mpi::MPIPoolExecutor executor;
    EXPECT_EQ(executor.num_workers(), expected_workers());
    executor.shutdown();
    EXPECT_EQ(mpi::MPIPoolExecutor().num_workers(), expected_workers());
}

TEST(MPIPoolExecutor, EveryWorkerTakesPart) {
    mpi::MPIPoolExecutor executor;
    executor.bootup();
    int n = executor.num_workers();
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 2 * n; ++i) fs.push_back(executor.submit(pid_after, 100));
    std::set<int> pids;
    for (auto& f : fs) pids.insert(f.result());
    EXPECT_EQ(static_cast<int>(pids.size()), n);
    EXPECT_EQ(pids.count(static_cast<int>(::getpid())), 0u);
}

// CPython test_concurrent_futures: ExecutorTest.test_max_workers_negative
TEST(MPIPoolExecutor, MaxWorkersMustBePositive) {
    EXPECT_THROW(mpi::MPIPoolExecutor(0), std::invalid_argument);
    EXPECT_THROW(mpi::MPIPoolExecutor(-1), std::invalid_argument);
    EXPECT_THROW(mpi::MPIPoolExecutor({.max_workers = 0}), std::invalid_argument);
}

// test_futures.py: ProcessPoolMixin.test_exception (exceptions by type)
TEST(MPIPoolExecutor, ExceptionsCrossWithTheirType) {
    mpi::MPIPoolExecutor executor;
    auto f = executor.submit(throws_out_of_range, 1);
    EXPECT_THROW(f.result(), std::out_of_range);
    try {
        executor.submit(throws_unknown, 1).result();
        FAIL() << "no exception";
    } catch (const nogil::RemoteError& e) {
        EXPECT_NE(e.type_name().find("SecretError"), std::string::npos) << e.type_name();
        EXPECT_EQ(e.message(), "nobody knows me");
        EXPECT_NE(e.process().find("MPI worker rank"), std::string::npos) << e.process();
    }
    EXPECT_EQ(executor.submit(square, 3).result(), 9);  // the pool is not broken by a task's exception
}

// test_futures.py: PoolExecutorTest.test_map / CPython ExecutorTest.test_map
TEST(MPIPoolExecutor, MapInOrderWithChunks) {
    mpi::MPIPoolExecutor executor;
    std::vector<int> items(1000);
    std::iota(items.begin(), items.end(), 0);
    for (int chunksize : {1, 7, 1000}) {
        std::vector<int> got;
        for (int r : executor.map(square, items, {.chunksize = chunksize})) got.push_back(r);
        ASSERT_EQ(got.size(), items.size());
        for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[i], i * i);
    }
    std::vector<int> a{1, 2, 3}, b{10, 20, 30, 40};
    std::vector<int> sums;
    for (int r : executor.map(add, a, b)) sums.push_back(r);
    EXPECT_EQ(sums, (std::vector<int>{11, 22, 33}));
    int count = 0;
    for (auto r : executor.map(nothing, a)) {
        (void)r;
        ++count;
    }
    EXPECT_EQ(count, 3);
}

// test_futures.py: PoolExecutorTest.test_map_unordered
TEST(MPIPoolExecutor, MapUnordered) {
    mpi::MPIPoolExecutor executor;
    // The slow item first, a quick one for every other worker: each goes to a worker of its own.
    std::vector<int> items{300};
    items.resize(static_cast<std::size_t>(expected_workers()), 0);
    std::vector<int> got;
    for (int r : executor.map(sleep_ms, items, {.unordered = true})) got.push_back(r);
    std::multiset<int> expect(items.begin(), items.end());
    EXPECT_EQ(std::multiset<int>(got.begin(), got.end()), expect);
    if (expected_workers() > 1) {
        EXPECT_EQ(got.back(), 300);  // the slow one ends last
    }
}

// test_futures.py: PoolExecutorTest.test_starmap
TEST(MPIPoolExecutor, Starmap) {
    mpi::MPIPoolExecutor executor;
    std::vector<std::tuple<int, int>> args{{1, 2}, {3, 4}, {5, 6}};
    std::vector<int> got;
    for (int r : executor.starmap(add, args, {.chunksize = 2})) got.push_back(r);
    EXPECT_EQ(got, (std::vector<int>{3, 7, 11}));
    std::vector<std::pair<int, int>> pairs{{1, 1}, {2, 2}};
    got.clear();
    for (int r : executor.starmap(add, pairs, {.unordered = true})) got.push_back(r);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int>{2, 4}));
}

// CPython ExecutorTest.test_map_timeout
TEST(MPIPoolExecutor, MapTimeout) {
    mpi::MPIPoolExecutor executor;
    executor.bootup();  // the timeout counts from map(): not the workers' start-up
    std::vector<int> items{0, 1500};  // the late item ends 1 s after the timeout: shutdown waits for it
    std::vector<int> got;
    EXPECT_THROW(
        {
            for (int r : executor.map(sleep_ms, items, {.timeout = std::chrono::milliseconds(500)})) got.push_back(r);
        },
        nogil::TimeoutError);
    EXPECT_EQ(got, std::vector<int>{0});
    executor.shutdown(true, true);
}

// CPython ExecutorTest.test_map_buffersize_on_infinite_iterable (Python 3.14)
TEST(MPIPoolExecutor, MapBuffersizeReadsLazily) {
    mpi::MPIPoolExecutor executor;
    int n = 0;
    for (int r : executor.map(square, std::views::iota(0), {.chunksize = 3, .buffersize = 2})) {
        EXPECT_EQ(r, n * n);
        if (++n == 50) break;
    }
    EXPECT_EQ(n, 50);
    EXPECT_THROW(executor.map(square, std::vector<int>{1}, {.chunksize = 0}), std::invalid_argument);
    EXPECT_THROW(executor.map(square, std::vector<int>{1}, {.buffersize = 0}), std::invalid_argument);
}

// test_futures.py: ProcessPoolInitTest.test_initializer
TEST(MPIPoolExecutor, InitializerRunsOnEveryWorkerFirst) {
    mpi::MPIPoolExecutor executor({.initializer = nogil::multiprocessing::Initializer(initialize, 42)});
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 8; ++i) fs.push_back(executor.submit(read_initialized));
    for (auto& f : fs) EXPECT_EQ(f.result(), 42);
}

// test_futures.py: ProcessPoolInitTest.test_initializer_1 (a failing initializer breaks the pool)
TEST(MPIPoolExecutor, FailingInitializerBreaksThePool) {
    mpi::MPIPoolExecutor executor({.initializer = nogil::multiprocessing::Initializer(failing_initializer)});
    auto f = executor.submit(square, 2);
    try {
        f.result();
        FAIL() << "no exception";
    } catch (const nogil::BrokenExecutor& e) {
        EXPECT_NE(std::string(e.what()).find("initializer says no"), std::string::npos) << e.what();
    }
    EXPECT_THROW(executor.submit(square, 2), nogil::BrokenExecutor);
    EXPECT_THROW(executor.bootup(), nogil::BrokenExecutor);
    executor.shutdown();
    // In the static form the same ranks serve the next executor.
    mpi::MPIPoolExecutor next;
    EXPECT_EQ(next.submit(square, 5).result(), 25);
}

// test_futures.py: ProcessPoolPoolTest.test_wdir / test_env
TEST(MPIPoolExecutor, WdirAndEnv) {
    mpi::MPIPoolExecutor executor({.wdir = "/tmp", .env = {{"NOGIL_MPI_TEST_VAR", "forty-two"}}});
    EXPECT_EQ(executor.submit(get_env, std::string("NOGIL_MPI_TEST_VAR")).result(), "forty-two");
    EXPECT_EQ(executor.submit(get_cwd).result(), "/tmp");
}

// CPython ExecutorShutdownTest.test_run_after_shutdown / test_cancel_futures
TEST(MPIPoolExecutor, Shutdown) {
    mpi::MPIPoolExecutor executor(1);
    executor.bootup();  // so that the first task is sent at once, not left pending
    auto slow = executor.submit(sleep_ms, 300);
    std::vector<cf::Future<int>> queued;
    for (int i = 0; i < 20; ++i) queued.push_back(executor.submit(sleep_ms, 1));
    executor.shutdown(true, true);
    EXPECT_EQ(slow.result(), 300);
    int cancelled = 0;
    for (auto& f : queued) {
        ASSERT_TRUE(f.done());
        if (f.cancelled()) ++cancelled;
    }
    EXPECT_GT(cancelled, 0);
    EXPECT_THROW(executor.submit(square, 1), std::runtime_error);
    executor.shutdown();  // twice is fine
}

// The same Futures: wait, as_completed, callbacks, co_await.
TEST(MPIPoolExecutor, FuturesWorkWithWaitAsCompletedCallbacksAndCoroutines) {
    mpi::MPIPoolExecutor executor;
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 10; ++i) fs.push_back(executor.submit(square, i));
    auto [done, not_done] = cf::wait(fs);
    EXPECT_EQ(done.size(), 10u);
    EXPECT_TRUE(not_done.empty());

    std::vector<cf::Future<int>> more;
    for (int i = 0; i < 10; ++i) more.push_back(executor.submit(sleep_ms, i % 3));
    int seen = 0;
    for (auto f : cf::as_completed(more)) {
        EXPECT_TRUE(f.done());
        ++seen;
    }
    EXPECT_EQ(seen, 10);

    std::promise<int> called;
    auto f = executor.submit(square, 9);
    f.add_done_callback([&](const cf::Future<int>& g) { called.set_value(g.result()); });
    EXPECT_EQ(called.get_future().get(), 81);

    int awaited = nogil::asyncio::run([](mpi::MPIPoolExecutor* e) -> nogil::asyncio::Coroutine<int> {
        co_return co_await e->submit(square, 12);
    }(&executor));
    EXPECT_EQ(awaited, 144);
}

// A 100 MiB argument and a 100 MiB result (issue 15).
TEST(MPIPoolExecutor, HundredMebibyteArgumentAndResult) {
    mpi::MPIPoolExecutor executor;
    std::vector<unsigned char> data(100u << 20);
    for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<unsigned char>(i / 4096);
    std::uint64_t expect = checksum(data);
    EXPECT_EQ(executor.submit(checksum, data).result(), expect);
    EXPECT_EQ(executor.submit(big_string, std::size_t{100} << 20).result().size(), std::size_t{100} << 20);
}

TEST(MPIPoolExecutor, ThroughExecutorReferenceThrows) {
    mpi::MPIPoolExecutor executor;
    cf::Executor& base = executor;
    EXPECT_THROW(base.submit([] { return 1; }), std::invalid_argument);
}

TEST(MPIPoolExecutor, SubmitFromManyThreads) {
    mpi::MPIPoolExecutor executor;
    std::vector<std::thread> threads;
    std::atomic<int> sum{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) sum += executor.submit(add, t, i).result();
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(sum.load(), 4 * (199 * 200 / 2) + 200 * (0 + 1 + 2 + 3));
}

// The same-host wake-up segment (src/mpi/doorbell.hpp) is unlinked once every worker has booted:
// nothing of the pool stays in /dev/shm, even if the program is killed afterwards.
TEST(MPIPoolExecutor, WakeUpSegmentLeavesNothingInDevShm) {
    auto ours = [] {
        std::string prefix = "nogil-mpi-" + std::to_string(::getpid()) + "-";
        int n = 0;
        for (const auto& entry : std::filesystem::directory_iterator("/dev/shm"))
            if (entry.path().filename().string().starts_with(prefix)) ++n;
        return n;
    };
    mpi::MPIPoolExecutor executor;
    executor.bootup();
    EXPECT_EQ(ours(), 0);
    EXPECT_EQ(executor.submit(square, 7).result(), 49);
    executor.shutdown();
    EXPECT_EQ(ours(), 0);
}

// Workers and the master's manager that went to sleep (on their bells, or between polls) wake for
// the next task: rounds separated by pauses longer than every spin window and than a nap.
TEST(MPIPoolExecutor, SleepingWorkersWakeForTheNextTask) {
    mpi::MPIPoolExecutor executor;
    executor.bootup();
    for (int round = 0; round < 4; ++round) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));  // idle: everyone sleeps (not ordering)
        std::vector<cf::Future<int>> fs;
        for (int i = 0; i < 2 * expected_workers(); ++i) fs.push_back(executor.submit(square, round + i));
        for (int i = 0; i < 2 * expected_workers(); ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(), (round + i) * (round + i));
    }
}
