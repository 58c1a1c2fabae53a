// CPython's Lib/test/test_concurrent_futures/test_deadlock.py (ExecutorDeadlockTest), ported: a
// worker that dies in every way a C++ call can make it die breaks the pool instead of hanging it.
// Every wait is bounded by kBound.
//
// Not applicable (pickling has no C++ counterpart: arguments and results are serialized by types
// the compiler checked): test_error_at_task_pickle, test_exit_at_task_unpickle,
// test_error_at_task_unpickle, test_crash_at_task_unpickle, test_error_during_result_pickle_on_worker,
// test_error_during_result_unpickle_in_result_handler, test_exit_during_result_unpickle_in_result_handler,
// test_shutdown_deadlock_pickle.
#include <nogil/concurrent/futures.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

constexpr auto kBound = std::chrono::seconds(60);

int crash(int) {  // test_deadlock.py: _crash (faulthandler._sigsegv)
    std::signal(SIGSEGV, SIG_DFL);
    ::raise(SIGSEGV);
    return 0;
}
int exit_worker(int) {  // test_deadlock.py: _exit
    std::_Exit(1);
}
int raise_error(int) {  // test_deadlock.py: _raise_error
    throw std::runtime_error("error in the call");
}
std::string crash_after_big_result(int n) {  // test_deadlock.py: _crash_with_data
    if (n == 1) crash(0);
    return std::string(1 << 20, 'a');
}
int sleep_then_crash(int) { return crash(0); }
int identity(int x) { return x; }

class ExecutorDeadlockTest : public ::testing::TestWithParam<std::string> {
protected:
    cf::ProcessPoolOptions options(int workers) const {
        return cf::ProcessPoolOptions{.max_workers = workers, .start_method = GetParam()};
    }
};

// test_deadlock.py: ExecutorDeadlockTest.test_crash_during_func_exec_on_worker
TEST_P(ExecutorDeadlockTest, test_crash_during_func_exec_on_worker) {
    cf::ProcessPoolExecutor executor(options(2));
    auto f = executor.submit(crash, 0);
    EXPECT_THROW(f.result(kBound), cf::BrokenProcessPool);
}

// test_deadlock.py: ExecutorDeadlockTest.test_exit_during_func_exec_on_worker
TEST_P(ExecutorDeadlockTest, test_exit_during_func_exec_on_worker) {
    cf::ProcessPoolExecutor executor(options(2));
    auto f = executor.submit(exit_worker, 0);
    EXPECT_THROW(f.result(kBound), cf::BrokenProcessPool);
}

// test_deadlock.py: ExecutorDeadlockTest.test_error_during_func_exec_on_worker
TEST_P(ExecutorDeadlockTest, test_error_during_func_exec_on_worker) {
    cf::ProcessPoolExecutor executor(options(2));
    auto f = executor.submit(raise_error, 0);
    EXPECT_THROW(f.result(kBound), std::runtime_error);
    EXPECT_EQ(executor.submit(identity, 3).result(kBound), 3);  // an exception does not break the pool
}

// test_deadlock.py: ExecutorDeadlockTest.test_shutdown_deadlock — a worker dies while the pool
// shuts down: shutdown returns and the future fails.
TEST_P(ExecutorDeadlockTest, test_shutdown_deadlock) {
    cf::Future<int> f;
    {
        cf::ProcessPoolExecutor executor(options(2));
        f = executor.submit(sleep_then_crash, 0);
    }  // shutdown(wait = true)
    EXPECT_THROW(f.result(kBound), cf::BrokenProcessPool);
}

// test_deadlock.py: ExecutorDeadlockTest.test_crash_big_data (gh-94777): a worker crashes while
// others send large results back.
TEST_P(ExecutorDeadlockTest, test_crash_big_data) {
    cf::ProcessPoolExecutor executor(options(2));
    std::vector<int> items{0, 0, 1, 0, 0};
    bool broken = false;
    try {
        for (auto r : executor.map(crash_after_big_result, items)) EXPECT_EQ(r.size(), 1u << 20);
    } catch (const cf::BrokenProcessPool&) {
        broken = true;
    }
    EXPECT_TRUE(broken);
    executor.shutdown(true);
}

// test_deadlock.py: ExecutorDeadlockTest.test_gh105829_should_not_deadlock_if_wakeup_pipe_full —
// many submits while the manager is busy do not block the submitter (the manager's wake-up pipe
// is non-blocking: a full pipe means it is awake anyway).
TEST_P(ExecutorDeadlockTest, test_gh105829_should_not_deadlock_if_wakeup_pipe_full) {
    cf::ProcessPoolExecutor executor(options(1));
    std::vector<cf::Future<int>> fs;
    for (int i = 0; i < 20000; ++i) fs.push_back(executor.submit(identity, i));
    for (int i = 0; i < 20000; i += 997) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(kBound), i);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ExecutorDeadlockTest, ::testing::Values("fork", "forkserver", "spawn"),
                         [](const auto& info) { return info.param; });

}  // namespace
