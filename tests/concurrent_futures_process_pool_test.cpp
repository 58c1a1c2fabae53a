// ProcessPoolExecutor: CPython's test_concurrent_futures process-pool, deadlock and init suites,
// in C++. Every wait on a future is bounded (kBound): a hang fails the test instead of blocking.
#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/concurrent/futures/detail/process_pool_core.hpp>
#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <future>
#include <numeric>
#include <random>
#include <ranges>
#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

// A test marked "Pins ... (process_pool_core.hpp)" pins that step of the protocols written in
// include/nogil/concurrent/futures/detail/process_pool_core.hpp.
namespace {

namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

constexpr auto kBound = std::chrono::seconds(60);

// ---- what the workers run ----------------------------------------------------------------------

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
int worker_pid(int) { return static_cast<int>(::getpid()); }
std::size_t length(std::string s) { return s.size(); }
std::string repeat(char c, int n) { return std::string(static_cast<std::size_t>(n), c); }
int fails_on(int x) {
    if (x == 7) throw std::invalid_argument("seven");
    return x;
}
void returns_nothing(int) {}
[[noreturn]] int exit_now(int code) { ::_exit(code); }
int segfault(int) {
    std::raise(SIGSEGV);
    return 0;
}
// Says "started" on `go`, then blocks until the parent writes a byte on it (or closes it).
int wait_for_go(mp::Connection go) {
    char byte = 's';
    [[maybe_unused]] auto w = ::write(go.fileno(), &byte, 1);
    [[maybe_unused]] auto n = ::read(go.fileno(), &byte, 1);
    return 1;
}
// Blocks until the parent opens the FIFO at `path` for writing and writes a byte (or closes it).
int wait_on_fifo(std::string path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    char byte = 0;
    [[maybe_unused]] auto n = ::read(fd, &byte, 1);
    ::close(fd);
    return 1;
}
int busy_us(int us) {
    auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
    while (std::chrono::steady_clock::now() < end) {
    }
    return us;
}
// Plays a worker that corrupts its stream to the pool.
int write_garbage(int) {
    const char junk[] = "this is not a nogil frame, not at all";
    [[maybe_unused]] auto n = ::write(nogil::concurrent::futures::detail::process_pool_worker_fd(), junk, sizeof junk);
    return 0;
}

// Play a worker that scribbles on its shared rings. Those that corrupt the response ring then
// block (a pool that trusted the ring would wait for them forever); the pool must kill them.
[[noreturn]] void block_forever() {
    for (;;) ::pause();
}
int scribble_response_tail(int) {
    nogil::concurrent::futures::detail::process_pool_worker_channel()->response_control().tail.store(std::uint64_t{1} << 40);
    block_forever();
}
int scribble_response_length(int) {
    const auto* channel = nogil::concurrent::futures::detail::process_pool_worker_channel();
    auto& control = channel->response_control();
    std::uint64_t tail = control.tail.load();
    std::uint32_t huge = 0x7FFF'0000;  // far more than was published
    std::size_t at = tail & (channel->ring_bytes() - 1);
    if (at + sizeof huge > channel->ring_bytes()) at = 0, tail += channel->ring_bytes() - (tail & (channel->ring_bytes() - 1));
    std::memcpy(channel->response_data() + at, &huge, sizeof huge);
    control.tail.store(tail + 64);
    block_forever();
}
int scribble_request_head(int x) {
    // The pool reads this index before its next write to us.
    nogil::concurrent::futures::detail::process_pool_worker_channel()->request_control().head.store(std::uint64_t{1} << 50);
    return x;
}
int kill_self(int) {
    std::raise(SIGKILL);
    return 0;
}

int init_value = 0;
void init_set(int v) { init_value = v; }
int get_init_value(int) { return init_value; }
void init_fail() { throw std::runtime_error("initializer failed"); }

// Neither running nor a zombie (a zombie keeps its /proc entry until reaped).
bool process_gone(int pid) { return !std::ifstream("/proc/" + std::to_string(pid) + "/stat"); }

void wait_started(mp::Connection& ours) {
    ASSERT_TRUE(ours.poll(kBound));
    char byte = 0;
    ASSERT_EQ(::read(ours.fileno(), &byte, 1), 1);
}

template <class T>
std::exception_ptr failure(cf::Future<T>& f) {
    return f.exception(kBound);
}
template <class E, class T>
bool fails_with(cf::Future<T>& f) {
    auto e = failure(f);
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

class ProcessPool : public ::testing::TestWithParam<std::string> {
protected:
    cf::ProcessPoolOptions options(int workers = 2) const {
        return cf::ProcessPoolOptions{.max_workers = workers, .start_method = GetParam()};
    }
};

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPool, ::testing::Values("fork", "spawn", "forkserver"),
                         [](const auto& info) { return info.param; });

// ---- ProcessPoolExecutorTest / ExecutorTest ----------------------------------------------------

TEST_P(ProcessPool, SubmitReturnsTheResult) {
    cf::ProcessPoolExecutor pool(options());
    auto f = pool.submit(add, 2, 40);
    EXPECT_EQ(f.result(kBound), 42);
    EXPECT_EQ(pool.submit(repeat, 'x', 5).result(kBound), "xxxxx");
}

TEST_P(ProcessPool, MapInOrderWithChunks) {
    cf::ProcessPoolExecutor pool(options());
    std::vector<int> xs(1000);
    std::iota(xs.begin(), xs.end(), 0);
    for (int chunksize : {1, 7, 1000, 5000}) {
        std::vector<int> got;
        for (int r : pool.map(square, xs, cf::MapOptions{.chunksize = chunksize})) got.push_back(r);
        ASSERT_EQ(got.size(), xs.size());
        for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i * i);
    }
}

TEST_P(ProcessPool, WorkersAreOtherProcesses) {
    cf::ProcessPoolExecutor pool(options());
    EXPECT_NE(pool.submit(worker_pid, 0).result(kBound), ::getpid());
    auto pids = pool.worker_pids();
    EXPECT_EQ(pids.size(), 2u);
}

TEST_P(ProcessPool, InitializerRunsInEachWorker) {
    auto o = options();
    o.initializer = mp::Initializer(init_set, 42);
    cf::ProcessPoolExecutor pool(o);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(get_init_value, i));
    for (auto& f : fs) EXPECT_EQ(f.result(kBound), 42);
}

TEST_P(ProcessPool, FailingInitializerBreaksThePool) {
    auto o = options();
    o.initializer = mp::Initializer(init_fail);
    cf::ProcessPoolExecutor pool(o);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 5; ++i) {
        try {
            fs.push_back(pool.submit(square, i));
        } catch (const cf::BrokenProcessPool&) {
            break;  // already broken: as good
        }
    }
    for (auto& f : fs) EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    EXPECT_THROW(pool.submit(square, 1), cf::BrokenProcessPool);
}

TEST_P(ProcessPool, MaxTasksPerChildReplacesTheWorker) {
    if (GetParam() == "fork") {
        EXPECT_THROW(cf::ProcessPoolExecutor(cf::ProcessPoolOptions{.start_method = "fork", .max_tasks_per_child = 2}),
                     std::invalid_argument);
        return;
    }
    auto o = options(1);
    o.max_tasks_per_child = 2;
    cf::ProcessPoolExecutor pool(o);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 6; ++i) fs.push_back(pool.submit(worker_pid, i));
    std::vector<int> pids;
    for (auto& f : fs) pids.push_back(f.result(kBound));
    EXPECT_EQ(pids[0], pids[1]);
    EXPECT_EQ(pids[2], pids[3]);
    EXPECT_EQ(pids[4], pids[5]);
    EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 3u);
}

TEST_P(ProcessPool, KilledWorkerBreaksThePool) {
    cf::ProcessPoolExecutor pool(options());
    auto f = pool.submit(exit_now, 3);
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    try {
        pool.submit(square, 2);
        ADD_FAILURE() << "submit on a broken pool";
    } catch (const cf::BrokenProcessPool& e) {
        EXPECT_NE(std::string(e.what()).find("terminated abruptly"), std::string::npos);
    }
}

// ---- ExecutorTest: exceptions, shutdown, map options --------------------------------------------

TEST(ProcessPoolExecutor, ExceptionKeepsItsType) {
    cf::ProcessPoolExecutor pool(2);
    auto f = pool.submit(fails_on, 7);
    EXPECT_THROW(f.result(kBound), std::invalid_argument);
    auto r = pool.map(fails_on, std::vector<int>{1, 2, 7, 8}, cf::MapOptions{.chunksize = 1});
    auto it = r.begin();
    EXPECT_EQ(*it, 1);
    ++it;
    EXPECT_EQ(*it, 2);
    ++it;
    EXPECT_THROW(*it, std::invalid_argument);
}

TEST(ProcessPoolExecutor, BadArgumentsThrowAtOnce) {
    try {
        cf::ProcessPoolExecutor pool(0);
        ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("max_workers"), std::string::npos);
    }
    EXPECT_THROW(cf::ProcessPoolExecutor(-1), std::invalid_argument);
    try {
        cf::ProcessPoolExecutor pool(cf::ProcessPoolOptions{.max_workers = 1, .max_tasks_per_child = 0});
        ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("max_tasks_per_child"), std::string::npos);
    }
    EXPECT_THROW(cf::ProcessPoolExecutor(cf::ProcessPoolOptions{.max_workers = 1, .start_method = "nope"}),
                 std::invalid_argument);
    cf::ProcessPoolExecutor pool(1);
    EXPECT_THROW(pool.map(square, std::vector<int>{1}, cf::MapOptions{.chunksize = 0}), std::invalid_argument);
    EXPECT_THROW(pool.map(square, std::vector<int>{1}, cf::MapOptions{.buffersize = 0}), std::invalid_argument);
}

TEST(ProcessPoolExecutor, DefaultMaxWorkersIsCpuCount) {
    cf::ProcessPoolExecutor pool;
    EXPECT_EQ(pool.max_workers(), mp::cpu_count());
}

// Pins shutdown protocol step 1 (process_pool_core.hpp).
TEST(ProcessPoolExecutor, SubmitAfterShutdownThrows) {
    cf::ProcessPoolExecutor pool(1);
    EXPECT_EQ(pool.submit(square, 3).result(kBound), 9);
    pool.shutdown();
    try {
        pool.submit(square, 3);
        ADD_FAILURE();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
    }
    pool.shutdown();  // twice is fine
}

// Pins shutdown protocol step 2 (process_pool_core.hpp).
TEST(ProcessPoolExecutor, ShutdownWithoutWaitStillRunsTheTasks) {
    std::vector<cf::Future<int>> fs;
    {
        cf::ProcessPoolExecutor pool(2);
        for (int i = 0; i < 50; ++i) fs.push_back(pool.submit(square, i));
        pool.shutdown(false);
        for (int i = 0; i < 50; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(kBound), i * i);
    }
}

// Pins shutdown protocol step 3 (process_pool_core.hpp).
TEST(ProcessPoolExecutor, ShutdownWaitFinishesEverything) {
    std::vector<cf::Future<int>> fs;
    cf::ProcessPoolExecutor pool(2);
    for (int i = 0; i < 200; ++i) fs.push_back(pool.submit(busy_us, 10));
    pool.shutdown(true);
    for (auto& f : fs) EXPECT_TRUE(f.done());
    EXPECT_TRUE(pool.worker_pids().empty());
}

// Pins shutdown protocol step 1 (cancel_futures) (process_pool_core.hpp).
TEST(ProcessPoolExecutor, CancelFuturesCancelsWhatWasNotSent) {
    auto [ours, theirs] = mp::Pipe();
    cf::ProcessPoolExecutor pool(1);
    auto blocker = pool.submit(wait_for_go, theirs);
    wait_started(ours);
    std::vector<cf::Future<int>> rest;
    for (int i = 0; i < 20; ++i) rest.push_back(pool.submit(square, i));
    pool.shutdown(false, true);
    char go = 1;
    ASSERT_EQ(::write(ours.fileno(), &go, 1), 1);
    EXPECT_EQ(blocker.result(kBound), 1);
    int cancelled = 0;
    for (int i = 0; i < 20; ++i) {
        auto& f = rest[static_cast<std::size_t>(i)];
        if (f.cancelled())
            ++cancelled;
        else
            EXPECT_EQ(f.result(kBound), i * i);
    }
    // At most a pipeline's worth (two tasks before anything was measured) was sent ahead.
    EXPECT_GE(cancelled, 18);
    pool.shutdown();
}

TEST(ProcessPoolExecutor, MapTimeout) {
    std::string fifo = "/tmp/nogil-ppe-test-" + std::to_string(::getpid());
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    {
        cf::ProcessPoolExecutor pool(1);
        std::vector<std::string> gates{fifo};
        auto start = std::chrono::steady_clock::now();
        auto r = pool.map(wait_on_fifo, gates, cf::MapOptions{.timeout = std::chrono::milliseconds(50)});
        EXPECT_THROW(*r.begin(), cf::TimeoutError);
        EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
        int fd = ::open(fifo.c_str(), O_WRONLY);  // meets the worker's open
        char go = 1;
        EXPECT_EQ(::write(fd, &go, 1), 1);
        ::close(fd);
    }
    ::unlink(fifo.c_str());
}

TEST(ProcessPoolExecutor, MapOfSeveralRangesStopsAtTheShortest) {
    cf::ProcessPoolExecutor pool(2);
    std::vector<int> got;
    for (int r : pool.map(add, std::vector<int>{1, 2, 3}, std::vector<int>{10, 20, 30, 40}, cf::MapOptions{.chunksize = 2}))
        got.push_back(r);
    EXPECT_EQ(got, (std::vector<int>{11, 22, 33}));
    std::size_t empty = 0;
    for ([[maybe_unused]] int r : pool.map(square, std::vector<int>{})) ++empty;
    EXPECT_EQ(empty, 0u);
    std::size_t voids = 0;
    for ([[maybe_unused]] auto r : pool.map(returns_nothing, std::vector<int>{1, 2, 3})) ++voids;
    EXPECT_EQ(voids, 3u);
}

TEST(ProcessPoolExecutor, MapWithBuffersizeReadsAnInfiniteRangeLazily) {
    cf::ProcessPoolExecutor pool(2);
    std::vector<int> got;
    for (int r : pool.map(square, std::views::iota(0), cf::MapOptions{.chunksize = 3, .buffersize = 2})) {
        got.push_back(r);
        if (got.size() == 10) break;
    }
    for (int i = 0; i < 10; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i * i);
}

TEST(ProcessPoolExecutor, LargeArgumentsAndResultsDoNotDeadlockThePipeline) {
    // Results and arguments larger than a socket's buffer, many in flight at once: neither side
    // may block writing while the other is blocked writing too.
    constexpr int size = 512 * 1024;
    cf::ProcessPoolExecutor pool(2);
    std::vector<cf::Future<std::string>> fs;
    std::vector<cf::Future<std::size_t>> sizes;
    for (int i = 0; i < 12; ++i) {
        fs.push_back(pool.submit(repeat, static_cast<char>('a' + i), size));
        sizes.push_back(pool.submit(length, std::string(size, 'x')));
    }
    for (int i = 0; i < 12; ++i) {
        auto s = fs[static_cast<std::size_t>(i)].result(kBound);
        ASSERT_EQ(s.size(), std::size_t{size});
        EXPECT_EQ(s[12345], static_cast<char>('a' + i));
        EXPECT_EQ(sizes[static_cast<std::size_t>(i)].result(kBound), std::size_t{size});
    }
}

TEST(ProcessPoolExecutor, ManyMessagesWrapTheRings) {
    // More bytes than a ring holds (1 MiB each way), in small messages: the rings wrap many times.
    cf::ProcessPoolExecutor pool(2);
    std::vector<cf::Future<std::size_t>> lengths;
    std::vector<cf::Future<std::string>> strings;
    for (int i = 0; i < 3000; ++i) {
        lengths.push_back(pool.submit(length, std::string(static_cast<std::size_t>(700 + i % 300), 'q')));
        strings.push_back(pool.submit(repeat, static_cast<char>('a' + i % 26), 500 + i % 400));
    }
    for (int i = 0; i < 3000; ++i) {
        ASSERT_EQ(lengths[static_cast<std::size_t>(i)].result(kBound), static_cast<std::size_t>(700 + i % 300));
        auto s = strings[static_cast<std::size_t>(i)].result(kBound);
        ASSERT_EQ(s, std::string(static_cast<std::size_t>(500 + i % 400), static_cast<char>('a' + i % 26)));
    }
}

TEST(ProcessPoolExecutor, MessagesLargerThanTheRingKeepTheirOrder) {
    // 3 MiB arguments and results travel on the socket behind a ring marker, between small tasks
    // that travel in the ring: each future gets its own answer.
    constexpr int big = 3 << 20;
    cf::ProcessPoolExecutor pool(1);
    std::vector<cf::Future<std::size_t>> sizes;
    std::vector<cf::Future<std::string>> bigs;
    std::vector<cf::Future<int>> smalls;
    for (int i = 0; i < 4; ++i) {
        smalls.push_back(pool.submit(square, i));
        sizes.push_back(pool.submit(length, std::string(static_cast<std::size_t>(big + i), 'x')));
        smalls.push_back(pool.submit(square, 10 + i));
        bigs.push_back(pool.submit(repeat, static_cast<char>('k' + i), big - i));
    }
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(smalls[static_cast<std::size_t>(2 * i)].result(kBound), i * i);
        EXPECT_EQ(smalls[static_cast<std::size_t>(2 * i + 1)].result(kBound), (10 + i) * (10 + i));
        EXPECT_EQ(sizes[static_cast<std::size_t>(i)].result(kBound), static_cast<std::size_t>(big + i));
        auto s = bigs[static_cast<std::size_t>(i)].result(kBound);
        ASSERT_EQ(s.size(), static_cast<std::size_t>(big - i));
        EXPECT_EQ(s.front(), static_cast<char>('k' + i));
        EXPECT_EQ(s.back(), static_cast<char>('k' + i));
    }
}

TEST(ProcessPoolExecutor, ThroughTheExecutorBaseIsRefused) {
    cf::ProcessPoolExecutor pool(1);
    cf::Executor& base = pool;
    EXPECT_THROW(base.submit([] { return 1; }), std::invalid_argument);
    EXPECT_EQ(pool.submit(square, 4).result(kBound), 16);
}

TEST(ProcessPoolExecutor, ManyThreadsSubmitAtOnce) {
    cf::ProcessPoolExecutor pool(2);
    std::vector<std::thread> threads;
    std::atomic<long> sum{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::vector<cf::Future<int>> fs;
            for (int i = 0; i < 2000; ++i) fs.push_back(pool.submit(add, t, i));
            for (auto& f : fs) sum += f.result(kBound);
        });
    }
    for (auto& th : threads) th.join();
    long expected = 0;
    for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 2000; ++i) expected += t + i;
    EXPECT_EQ(sum.load(), expected);
}

// ---- Futures from the pool are ordinary Futures -------------------------------------------------

TEST(ProcessPoolExecutor, WaitAndAsCompleted) {
    cf::ProcessPoolExecutor pool(2);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 30; ++i) fs.push_back(pool.submit(square, i));
    auto r = cf::wait(fs, kBound);
    EXPECT_EQ(r.done.size(), 30u);
    std::vector<cf::Future<int>> more;
    for (int i = 0; i < 30; ++i) more.push_back(pool.submit(square, i));
    int sum = 0, n = 0;
    for (auto f : cf::as_completed(more, kBound)) {
        sum += f.result();
        ++n;
    }
    EXPECT_EQ(n, 30);
    int expected = 0;
    for (int i = 0; i < 30; ++i) expected += i * i;
    EXPECT_EQ(sum, expected);
}

TEST(ProcessPoolExecutor, DoneCallbackRunsAndMaySubmit) {
    cf::ProcessPoolExecutor pool(1);
    auto first = pool.submit(square, 5);
    std::promise<cf::Future<int>> next;
    auto next_future = next.get_future();
    first.add_done_callback([&](cf::Future<int> f) { next.set_value(pool.submit(square, f.result())); });
    EXPECT_EQ(next_future.get().result(kBound), 625);
}

TEST(ProcessPoolExecutor, CoAwaitFromAsyncio) {
    cf::ProcessPoolExecutor pool(2);
    int v = asyncio::run([](cf::ProcessPoolExecutor* pool) -> asyncio::Coroutine<int> {
        auto f = pool->submit(add, 20, 22);
        int r = co_await f;
        co_return r;
    }(&pool));
    EXPECT_EQ(v, 42);
}

// ---- A thread waiting in result() reads the answers itself ------------------------------------------
// (ProcessPoolCore::help). Futures with done callbacks are still completed by the manager thread,
// so callbacks run there.

// Pins "Who does what" and "Reading the rings": callbacks on the manager thread (process_pool_core.hpp).
TEST(ProcessPoolHelpingWaiter, DoneCallbacksRunOnTheManagerNotOnTheWaiter) {
    cf::ProcessPoolExecutor pool(1);
    for (int i = 0; i < 10; ++i) {
        auto [ours, theirs] = mp::Pipe();
        auto f = pool.submit(wait_for_go, theirs);
        std::promise<std::thread::id> ran_on;
        auto ran_on_future = ran_on.get_future();
        f.add_done_callback([&](cf::Future<int>) { ran_on.set_value(std::this_thread::get_id()); });
        wait_started(ours);
        char go = 'g';
        ASSERT_EQ(::write(ours.fileno(), &go, 1), 1);
        ASSERT_EQ(f.result(kBound), 1);  // this thread reads the answer and hands it over
        ASSERT_EQ(ran_on_future.wait_for(kBound), std::future_status::ready);
        EXPECT_NE(ran_on_future.get(), std::this_thread::get_id()) << i;
    }
}

// A done callback runs on the manager thread: while it runs, nobody reads answers, so a wait
// there for another future of the pool times out (Python's would deadlock) and the pool goes on.
// Pins "Reading the rings": a callback must not wait on the pool (process_pool_core.hpp).
TEST(ProcessPoolHelpingWaiter, CallbackWaitingForAnotherFutureTimesOut) {
    cf::ProcessPoolExecutor pool(1);
    auto [ours, theirs] = mp::Pipe();
    auto f = pool.submit(wait_for_go, theirs);
    std::promise<bool> timed_out;
    auto timed_out_result = timed_out.get_future();
    f.add_done_callback([&](cf::Future<int>) {
        auto inner = pool.submit(square, 6);
        try {
            inner.result(50ms);
            timed_out.set_value(false);
        } catch (const cf::TimeoutError&) {
            timed_out.set_value(true);
        }
    });
    wait_started(ours);
    char go = 'g';
    ASSERT_EQ(::write(ours.fileno(), &go, 1), 1);
    // Not f.result() first: a thread waiting there could read the inner answer itself.
    ASSERT_EQ(timed_out_result.wait_for(kBound), std::future_status::ready);
    EXPECT_TRUE(timed_out_result.get());
    EXPECT_EQ(f.result(kBound), 1);
    EXPECT_EQ(pool.submit(square, 7).result(kBound), 49);  // the pool goes on
}

// Pins shutdown protocol step 3 from a done callback, and "Reading the rings" (process_pool_core.hpp).
TEST(ProcessPoolHelpingWaiter, CallbackMayShutDownAndDestroyThePool) {
    for (int trial = 0; trial < 20; ++trial) {
        auto pool = std::make_unique<cf::ProcessPoolExecutor>(2);
        auto warm = pool->submit(square, 2);
        ASSERT_EQ(warm.result(kBound), 4);
        auto f = pool->submit(square, 3);
        std::promise<void> gone;
        auto gone_future = gone.get_future();
        f.add_done_callback([&](cf::Future<int>) {
            pool->shutdown(true);  // waits for the manager unless this is the manager
            pool.reset();
            gone.set_value();
        });
        ASSERT_EQ(f.result(kBound), 9);
        ASSERT_EQ(gone_future.wait_for(kBound), std::future_status::ready) << "trial " << trial;
    }
}

TEST(ProcessPoolHelpingWaiter, ResultWithATimeoutShorterThanTheSpin) {
    cf::ProcessPoolExecutor pool(1);
    auto [ours, theirs] = mp::Pipe();
    auto f = pool.submit(wait_for_go, theirs);
    wait_started(ours);
    EXPECT_THROW(f.result(std::chrono::microseconds(0)), cf::TimeoutError);
    EXPECT_THROW(f.result(std::chrono::microseconds(5)), cf::TimeoutError);
    EXPECT_THROW(f.exception(std::chrono::microseconds(20)), cf::TimeoutError);
    char go = 'g';
    ASSERT_EQ(::write(ours.fileno(), &go, 1), 1);
    EXPECT_EQ(f.result(kBound), 1);
}

// Several threads wait at once (one reads the rings, the others spin or sleep), with done
// callbacks, cancellations at random points and a long task among the short ones: every value
// reaches its future, every cancelled one stays cancelled.
TEST(ProcessPoolHelpingWaiter, ManyWaitingThreadsStress) {
    cf::ProcessPoolExecutor pool(2);
    constexpr int threads = 4;
    constexpr int rounds = 400;
    std::atomic<long> callbacks{0};
    std::atomic<long> expected_callbacks{0};
    std::atomic<long> values{0};
    std::atomic<long> expected{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(1000 + t));
            for (int i = 0; i < rounds; ++i) {
                int kind = static_cast<int>(rng() % 8);
                if (kind == 0) {
                    // A batch, some cancelled before they may be sent.
                    std::vector<cf::Future<int>> fs;
                    for (int k = 0; k < 8; ++k) fs.push_back(pool.submit(add, t, k));
                    std::vector<bool> cancelled;
                    for (auto& f : fs) cancelled.push_back(rng() % 3 == 0 && f.cancel());
                    for (std::size_t k = 0; k < fs.size(); ++k) {
                        if (cancelled[k]) {
                            if (!fs[k].cancelled()) ++failures;
                            continue;
                        }
                        values += fs[k].result(kBound);
                        expected += t + static_cast<int>(k);
                    }
                } else if (kind == 1) {
                    auto f = pool.submit(busy_us, 300);  // longer than a waiter's spin
                    values += f.result(kBound);
                    expected += 300;
                } else {
                    auto f = pool.submit(square, i);
                    f.add_done_callback([&](cf::Future<int> done) { callbacks += done.result(); });
                    expected_callbacks += i * i;
                    values += f.result(kBound);
                    expected += i * i;
                }
            }
        });
    }
    for (auto& th : ts) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(values.load(), expected.load());
    // A callback runs on the thread that completed its future: a waiting thread (joined above)
    // or the manager (joined by shutdown).
    pool.shutdown(true);
    EXPECT_EQ(callbacks.load(), expected_callbacks.load());
}

// ---- ExecutorDeadlockTest: deaths and garbage never hang -------------------------------------------

TEST(ProcessPoolDeadlock, SegfaultInATask) {
    cf::ProcessPoolExecutor pool(2);
    auto f = pool.submit(segfault, 0);
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
}

// Pins shutdown protocol step 2: a death while shutting down (process_pool_core.hpp).
TEST(ProcessPoolDeadlock, PendingFuturesFailTooAndShutdownReturns) {
    cf::ProcessPoolExecutor pool(1);
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 10; ++i) fs.push_back(pool.submit(busy_us, 100));
    auto death = pool.submit(exit_now, 1);
    std::vector<cf::Future<int>> after;
    for (int i = 0; i < 10; ++i) after.push_back(pool.submit(square, i));
    pool.shutdown(true);  // the death happens during shutdown(wait = true): it must return
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(death));
    for (auto& f : after) EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    for (auto& f : fs) EXPECT_TRUE(f.done());
}

TEST(ProcessPoolDeadlock, GarbageFromAWorkerIsNotTrusted) {
    cf::ProcessPoolExecutor pool(1);
    auto f = pool.submit(write_garbage, 0);
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    EXPECT_THROW(pool.submit(square, 1), cf::BrokenProcessPool);
}

// The shared rings: a worker that writes impossible indices or lengths there is not trusted.
TEST(ProcessPoolDeadlock, ScribbledResponseIndexBreaksThePool) {
    cf::ProcessPoolExecutor pool(1);
    auto f = pool.submit(scribble_response_tail, 0);
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    EXPECT_THROW(pool.submit(square, 1), cf::BrokenProcessPool);
}

TEST(ProcessPoolDeadlock, ScribbledRecordLengthBreaksThePool) {
    cf::ProcessPoolExecutor pool(2);
    std::vector<cf::Future<int>> before;
    for (int i = 0; i < 50; ++i) before.push_back(pool.submit(square, i));
    auto f = pool.submit(scribble_response_length, 0);
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    for (auto& g : before) EXPECT_TRUE(g.exception(kBound) == nullptr || fails_with<cf::BrokenProcessPool>(g));
}

TEST(ProcessPoolDeadlock, ScribbledRequestIndexBreaksThePool) {
    auto pids = std::vector<int>{};
    {
        cf::ProcessPoolExecutor pool(1);
        EXPECT_EQ(pool.submit(scribble_request_head, 5).result(kBound), 5);
        pids = pool.worker_pids();
        // The next request finds the index impossible: that task, or the submit, fails.
        try {
            auto g = pool.submit(square, 3);
            EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(g));
        } catch (const cf::BrokenProcessPool&) {
        }
        EXPECT_THROW(pool.submit(square, 1), cf::BrokenProcessPool);
    }
    for (int pid : pids) EXPECT_TRUE(process_gone(pid)) << pid;
}

// A worker that dies while the manager spins on its ring (answers due from a busy pipeline).
TEST(ProcessPoolDeadlock, WorkerKilledWhileThePoolSpins) {
    for (int trial = 0; trial < 10; ++trial) {
        cf::ProcessPoolExecutor pool(1);
        std::vector<cf::Future<int>> fs;
        for (int i = 0; i < 30; ++i) fs.push_back(pool.submit(busy_us, 5));
        auto death = pool.submit(kill_self, 0);
        for (int i = 0; i < 30; ++i) fs.push_back(pool.submit(busy_us, 5));
        EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(death)) << "trial " << trial;
        for (std::size_t i = 30; i < fs.size(); ++i) EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(fs[i]));
        pool.shutdown(true);  // returns
    }
}

// Pins terminate_workers()/kill_workers() in the shutdown protocol (process_pool_core.hpp).
TEST(ProcessPoolDeadlock, KillWorkersFailsTheRunningTask) {
    auto [ours, theirs] = mp::Pipe();
    cf::ProcessPoolExecutor pool(2);
    auto f = pool.submit(wait_for_go, theirs);
    wait_started(ours);
    auto pids = pool.worker_pids();
    pool.kill_workers();
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    pool.shutdown();
    for (int pid : pids) EXPECT_TRUE(process_gone(pid)) << pid;
}

// Pins terminate_workers()/kill_workers() in the shutdown protocol (process_pool_core.hpp).
TEST(ProcessPoolDeadlock, TerminateWorkersFailsTheRunningTask) {
    auto [ours, theirs] = mp::Pipe();
    cf::ProcessPoolExecutor pool(1);
    auto f = pool.submit(wait_for_go, theirs);
    wait_started(ours);
    pool.terminate_workers();
    EXPECT_TRUE(fails_with<cf::BrokenProcessPool>(f));
    EXPECT_THROW(pool.submit(square, 1), std::runtime_error);
}

// 100 trials: SIGKILL the worker at a random point of a run of tasks. Every trial must end with
// BrokenProcessPool (on a task, or at the latest on the one submitted after the kill), no hang
// (every wait is bounded) and no zombie.
TEST(ProcessPoolDeadlock, RandomSigkillHundredTrials) {
    std::mt19937 rng(20261125);
    std::uniform_int_distribution<int> delay_us(0, 2000);
    for (int trial = 0; trial < 100; ++trial) {
        std::vector<int> pids;
        {
            cf::ProcessPoolExecutor pool(1);
            std::vector<cf::Future<int>> fs;
            for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(busy_us, 100));
            ASSERT_EQ(fs[0].result(kBound), 100);  // the worker exists
            pids = pool.worker_pids();
            ASSERT_EQ(pids.size(), 1u);
            busy_us(delay_us(rng));
            ::kill(pids[0], SIGKILL);
            bool broken = false;
            for (auto& f : fs) {
                auto e = f.exception(kBound);
                if (e) {
                    ASSERT_TRUE(fails_with<cf::BrokenProcessPool>(f)) << "trial " << trial;
                    broken = true;
                }
            }
            try {
                auto last = pool.submit(square, 2);
                ASSERT_TRUE(fails_with<cf::BrokenProcessPool>(last)) << "trial " << trial;
            } catch (const cf::BrokenProcessPool&) {
                broken = true;
            }
            (void)broken;
        }
        for (int pid : pids) ASSERT_TRUE(process_gone(pid)) << "trial " << trial << " pid " << pid;
    }
}

// Parent death takes the workers with it: a child process runs a pool, reports its workers'
// pids, and is killed; the workers must go too.
void run_pool_and_report(mp::Connection out) {
    cf::ProcessPoolExecutor pool(2);
    pool.submit(square, 1).result(kBound);
    out.send(pool.worker_pids());
    char byte;
    [[maybe_unused]] auto n = ::read(out.fileno(), &byte, 1);  // until killed
}

TEST(ProcessPoolDeadlock, ParentDeathTakesTheWorkers) {
    auto [ours, theirs] = mp::Pipe();
    mp::Process parent(run_pool_and_report, theirs, mp::ProcessOptions{.start_method = "spawn"});
    parent.start();
    ASSERT_TRUE(ours.poll(kBound));
    auto pids = ours.recv<std::vector<int>>();
    ASSERT_EQ(pids.size(), 2u);
    parent.kill();
    parent.join();
    // The workers die by PR_SET_PDEATHSIG / their fork server's exit: poll /proc until they are
    // gone, bounded (there is no event to wait on for another process's children).
    auto deadline = std::chrono::steady_clock::now() + kBound;
    for (int pid : pids) {
        while (!process_gone(pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
        EXPECT_TRUE(process_gone(pid)) << pid;
    }
}

}  // namespace
