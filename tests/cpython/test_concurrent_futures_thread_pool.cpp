// CPython's Lib/test/test_concurrent_futures/test_thread_pool.py (ThreadPoolExecutorTest), ported.
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace threading = nogil::threading;
using namespace std::chrono_literals;

int mul(int x, int y) { return x * y; }

// test_thread_pool.py: ThreadPoolExecutorTest.test_map_submits_without_iteration (issue 11777)
TEST(ThreadPoolExecutorTest, test_map_submits_without_iteration) {
    cf::ThreadPoolExecutor executor(5);
    std::mutex mutex;
    std::vector<int> finished;
    executor.map([&](int n) {
        std::lock_guard guard(mutex);
        finished.push_back(n);
    }, std::views::iota(0, 10));
    executor.shutdown(true);
    std::sort(finished.begin(), finished.end());
    EXPECT_EQ(finished, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_default_workers
TEST(ThreadPoolExecutorTest, test_default_workers) {
    cf::ThreadPoolExecutor executor;
    int cpus = std::max(1, mp::cpu_count());
    EXPECT_EQ(executor.max_workers(), std::min(32, cpus + 4));
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_saturation
TEST(ThreadPoolExecutorTest, test_saturation) {
    cf::ThreadPoolExecutor executor(4);
    threading::Semaphore sem(0);
    for (int i = 0; i < 15 * executor.max_workers(); ++i) executor.submit([&sem] { sem.acquire(); });
    EXPECT_EQ(executor.thread_count(), static_cast<std::size_t>(executor.max_workers()));
    for (int i = 0; i < 15 * executor.max_workers(); ++i) sem.release();
    executor.shutdown(true);
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_idle_thread_reuse
TEST(ThreadPoolExecutorTest, test_idle_thread_reuse) {
    cf::ThreadPoolExecutor executor;
    executor.submit(mul, 21, 2).result();
    executor.submit(mul, 6, 7).result();
    executor.submit(mul, 3, 14).result();
    EXPECT_EQ(executor.thread_count(), 1u);
    executor.shutdown(true);
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_hang_global_shutdown_lock (bpo-45021: the exit
// registry's lock is reinitialised in a forked child)
TEST(ThreadPoolExecutorTest, test_hang_global_shutdown_lock) {
    cf::ThreadPoolExecutor pool(1);
    pool.submit([] {}).result();
    for (int i = 0; i < 5; ++i) {
        cf::ProcessPoolExecutor workers({.max_workers = 1, .start_method = "fork"});
        EXPECT_EQ(workers.submit(+[] { return 1; }).result(), 1);
    }
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_process_fork_from_a_threadpool (bpo-43944:
// the forked child does not try to join the parent's pool threads at its exit)
TEST(ThreadPoolExecutorTest, test_process_fork_from_a_threadpool) {
    cf::ThreadPoolExecutor pool(1);
    auto exitcode = pool.submit([] {
        mp::Process p(+[] {}, mp::ProcessOptions{.start_method = "fork"});
        p.start();
        p.join();
        return p.exitcode();
    }).result();
    EXPECT_EQ(exitcode, 0);
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_executor_map_current_future_cancel
TEST(ThreadPoolExecutorTest, test_executor_map_current_future_cancel) {
    threading::Event stop_event;
    std::mutex mutex;
    std::vector<std::string> log;
    auto log_n_wait = [&](std::string ident) {
        {
            std::lock_guard guard(mutex);
            log.push_back("ident='" + ident + "' started");
        }
        stop_event.wait();
        std::lock_guard guard(mutex);
        log.push_back("ident='" + ident + "' stopped");
    };
    {
        cf::ThreadPoolExecutor pool(1);
        auto fut = pool.submit(log_n_wait, std::string("first"));  // saturate the pool
        {
            std::vector<std::string> idents{"second", "third"};
            auto gen = pool.map(log_n_wait, idents, cf::MapOptions{.timeout = 0s});
            EXPECT_THROW(*gen.begin(), cf::TimeoutError);
        }
        stop_event.set();
        fut.result();
    }
    // 'second' is cancelled by the TimeoutError, 'third' because it was still queued.
    EXPECT_EQ(log, (std::vector<std::string>{"ident='first' started", "ident='first' stopped"}));
}

}  // namespace
