// CPython's Lib/test/test_concurrent_futures/test_shutdown.py (ExecutorShutdownTest,
// ThreadPoolShutdownTest, ProcessPoolShutdownTest), ported. The interpreter-shutdown cases run
// this test program again as a fresh child process (assert_python_ok's counterpart): its static
// initializer below sees NOGIL_TEST_EXIT_SCENARIO, plays the scenario and exits through
// std::exit, and the test reads the child's stdout and exit status.
#include <nogil/concurrent/futures.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
namespace threading = nogil::threading;
using namespace std::chrono_literals;

int ipow(int base, int exp) {
    int r = 1;
    while (exp-- > 0) r *= base;
    return r;
}
int identity(int x) { return x; }

// ---- the child scenarios --------------------------------------------------------------------

// Reachable from a global, so LeakSanitizer does not count them: they are alive at exit on purpose.
cf::ThreadPoolExecutor* g_thread_pool = nullptr;
cf::ProcessPoolExecutor* g_process_pool = nullptr;
threading::Event* g_exit_began = nullptr;

void say(const char* line) {
    std::fputs(line, stdout);
    std::fflush(stdout);
}

// test_interpreter_shutdown: a call submitted to a pool still alive runs before the program ends.
// The call waits until exit has begun (an atexit function registered after the pool runs before
// the executors' hook), so "apple" is printed only if exit waits for it.
[[noreturn]] void interpreter_shutdown_thread() {
    g_thread_pool = new cf::ThreadPoolExecutor(5);
    g_exit_began = new threading::Event;
    std::atexit([] { g_exit_began->set(); });
    g_thread_pool->submit([] {
        g_exit_began->wait();
        say("apple\n");
    });
    std::exit(0);
}

// test_submit_after_interpreter_shutdown: an atexit function registered before the executors'
// hook runs after it, and its submit raises.
void run_last() {
    try {
        if (g_thread_pool) g_thread_pool->submit(identity, 1);
        if (g_process_pool) g_process_pool->submit(identity, 1);
        say("submitted\n");
    } catch (const std::runtime_error& e) {
        say("runtime-error\n");
        say(e.what());
        say("\n");
    }
}
[[noreturn]] void submit_after_interpreter_shutdown(bool process) {
    std::atexit(run_last);
    if (process) {
        g_process_pool = new cf::ProcessPoolExecutor({.max_workers = 2, .start_method = "fork"});
        g_process_pool->submit(identity, 42).result();
    } else {
        g_thread_pool = new cf::ThreadPoolExecutor(5);
        g_thread_pool->submit(identity, 42).result();
    }
    std::exit(0);
}

// test_cancel_futures_wait_false: shutdown(wait = false, cancel_futures = true), then exit.
[[noreturn]] void cancel_futures_wait_false() {
    g_thread_pool = new cf::ThreadPoolExecutor;
    g_thread_pool->submit([] { say("apple\n"); });
    g_thread_pool->shutdown(false, true);
    std::exit(0);
}

[[maybe_unused]] const bool scenario_ran = [] {
    const char* scenario = std::getenv("NOGIL_TEST_EXIT_SCENARIO");
    if (!scenario) return false;
    ::unsetenv("NOGIL_TEST_EXIT_SCENARIO");
    std::string s = scenario;
    if (s == "interpreter_shutdown_thread") interpreter_shutdown_thread();
    if (s == "submit_after_thread") submit_after_interpreter_shutdown(false);
    if (s == "submit_after_process") submit_after_interpreter_shutdown(true);
    if (s == "cancel_futures_wait_false") cancel_futures_wait_false();
    std::_Exit(99);
}();

// The thread-name patterns of test_thread_names_*: "<prefix>_[0-4]" (no std::regex: g++ 12 warns
// inside <regex> under the sanitizers).
bool is_worker_name(const std::string& name, const std::string& prefix) {
    if (name.size() != prefix.size() + 2 || name.compare(0, prefix.size(), prefix) != 0) return false;
    return name[prefix.size()] == '_' && name.back() >= '0' && name.back() <= '4';
}

struct ChildResult {
    int status = -1;
    std::string out;
};

// Runs this program again with the scenario; returns its exit status and stdout.
ChildResult run_scenario(const char* scenario) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::close(out[0]);
        ::close(out[1]);
        ::setenv("NOGIL_TEST_EXIT_SCENARIO", scenario, 1);
        char self[] = "/proc/self/exe";
        char* argv[] = {self, nullptr};
        ::execv(self, argv);
        std::_Exit(127);
    }
    ::close(out[1]);
    ChildResult r;
    char buf[256];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        r.out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// ---- ExecutorShutdownTest -----------------------------------------------------------------------

// test_shutdown.py: ExecutorShutdownTest.test_run_after_shutdown
TEST(ThreadPoolShutdownTest, test_run_after_shutdown) {
    cf::ThreadPoolExecutor executor(5);
    executor.shutdown();
    EXPECT_THROW(executor.submit(ipow, 2, 5), std::runtime_error);
}

// test_shutdown.py: ExecutorShutdownTest.test_interpreter_shutdown (thread pool)
TEST(ThreadPoolShutdownTest, test_interpreter_shutdown) {
    auto r = run_scenario("interpreter_shutdown_thread");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "apple\n");
}

// test_shutdown.py: ExecutorShutdownTest.test_interpreter_shutdown (process pool) — not ported:
// a worker process cannot wait for the parent's exit without timing; the process pool's exit
// path is the same shutdown(wait = true), and test_submit_after_interpreter_shutdown covers its
// hook.

// test_shutdown.py: ExecutorShutdownTest.test_submit_after_interpreter_shutdown (thread pool)
TEST(ThreadPoolShutdownTest, test_submit_after_interpreter_shutdown) {
    auto r = run_scenario("submit_after_thread");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "runtime-error\ncannot schedule new futures after interpreter shutdown\n");
}

// test_shutdown.py: ExecutorShutdownTest.test_submit_after_interpreter_shutdown (process pool)
TEST(ProcessPoolShutdownTest, test_submit_after_interpreter_shutdown) {
    auto r = run_scenario("submit_after_process");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "runtime-error\ncannot schedule new futures after interpreter shutdown\n");
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_issue12364
TEST(ThreadPoolShutdownTest, test_hang_issue12364) {
    cf::ThreadPoolExecutor executor(5);
    std::vector<cf::Future<void>> fs;
    for (int i = 0; i < 50; ++i) fs.push_back(executor.submit([] { std::this_thread::yield(); }));
    executor.shutdown();
    for (auto& f : fs) f.result();
}

// test_shutdown.py: ExecutorShutdownTest.test_cancel_futures (the calls block until shutdown()
// returned, so the count of cancelled ones does not depend on timing)
TEST(ThreadPoolShutdownTest, test_cancel_futures) {
    cf::ThreadPoolExecutor executor(5);
    threading::Event go;
    std::vector<cf::Future<bool>> fs;
    for (int i = 0; i < 50; ++i) fs.push_back(executor.submit([&] { return go.wait(); }));
    std::thread releaser([&] {
        while (!fs.back().cancelled() && !fs.back().done()) std::this_thread::yield();
        go.set();
    });
    executor.shutdown(true, true);
    releaser.join();
    int cancelled = 0, others = 0;
    for (auto& f : fs) {
        if (f.cancelled()) {
            ++cancelled;
        } else {
            ++others;
            EXPECT_TRUE(f.done());
            EXPECT_FALSE(f.exception());
        }
    }
    EXPECT_GT(cancelled, 20);
    EXPECT_GT(others, 0);
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_gh83386 — covered by
// test_cancel_futures_wait_false's scenario without cancel (a running call at exit after
// shutdown(wait = false) is waited for by exit, see docs/executors.md).

// test_shutdown.py: ExecutorShutdownTest.test_hang_gh94440
TEST(ThreadPoolShutdownTest, test_hang_gh94440) {
    cf::ThreadPoolExecutor executor(1);
    executor.submit([] { return 0; }).result();
    executor.submit([] { return 0; }).cancel();
    executor.shutdown(true);
}

// test_shutdown.py: ThreadPoolShutdownTest.test_threads_terminate
TEST(ThreadPoolShutdownTest, test_threads_terminate) {
    cf::ThreadPoolExecutor executor(5);
    threading::Semaphore sem(0);
    for (int i = 0; i < 3; ++i) executor.submit([&] { sem.acquire(); });
    EXPECT_EQ(executor.thread_count(), 3u);
    for (int i = 0; i < 3; ++i) sem.release();
    executor.shutdown();  // joins the threads
}

// test_shutdown.py: ThreadPoolShutdownTest.test_context_manager_shutdown
TEST(ThreadPoolShutdownTest, test_context_manager_shutdown) {
    std::vector<int> got;
    {
        cf::ThreadPoolExecutor e(5);
        for (int r : e.map([](int x) { return std::abs(x); }, std::views::iota(-5, 5))) got.push_back(r);
    }
    EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

// test_shutdown.py: ThreadPoolShutdownTest.test_del_shutdown — the results range outlives its
// executor: every call was submitted at map() and ran before the destructor returned.
TEST(ThreadPoolShutdownTest, test_del_shutdown) {
    auto executor = std::make_unique<cf::ThreadPoolExecutor>(5);
    auto res = executor->map([](int x) { return std::abs(x); }, std::views::iota(-5, 5));
    executor.reset();
    std::vector<int> got;
    for (int r : res) got.push_back(r);
    EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

// test_shutdown.py: ThreadPoolShutdownTest.test_shutdown_no_wait
TEST(ThreadPoolShutdownTest, test_shutdown_no_wait) {
    cf::ThreadPoolExecutor executor(5);
    auto res = executor.map([](int x) { return std::abs(x); }, std::views::iota(-5, 5));
    executor.shutdown(false);
    std::vector<int> got;
    for (int r : res) got.push_back(r);
    EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

// test_shutdown.py: ThreadPoolShutdownTest.test_thread_names_assigned
TEST(ThreadPoolShutdownTest, test_thread_names_assigned) {
    cf::ThreadPoolExecutor executor({.max_workers = 5, .thread_name_prefix = "SpecialPool"});
    threading::Barrier all(5);
    std::vector<cf::Future<std::string>> names;
    for (int i = 0; i < 5; ++i)
        names.push_back(executor.submit([&] {
            all.wait();  // five calls at once: five threads
            return threading::current_thread().name();
        }));
    for (auto& n : names) EXPECT_TRUE(is_worker_name(n.result(), "SpecialPool")) << n.result();
}

// test_shutdown.py: ThreadPoolShutdownTest.test_thread_names_default
TEST(ThreadPoolShutdownTest, test_thread_names_default) {
    cf::ThreadPoolExecutor executor(5);
    auto name = executor.submit([] { return threading::current_thread().name(); }).result();
    // ThreadPoolExecutor-<digits>_[0-4]
    const std::string prefix = "ThreadPoolExecutor-";
    auto underscore = name.rfind('_');
    ASSERT_NE(underscore, std::string::npos) << name;
    std::string number = name.substr(prefix.size(), underscore - prefix.size());
    EXPECT_EQ(name.compare(0, prefix.size(), prefix), 0) << name;
    EXPECT_TRUE(!number.empty() && number.find_first_not_of("0123456789") == std::string::npos) << name;
    EXPECT_TRUE(is_worker_name(name, name.substr(0, underscore))) << name;
}

// test_shutdown.py: ThreadPoolShutdownTest.test_cancel_futures_wait_false
TEST(ThreadPoolShutdownTest, test_cancel_futures_wait_false) {
    auto r = run_scenario("cancel_futures_wait_false");
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(r.out == "apple\n" || r.out.empty()) << r.out;  // gh-116682
}

// test_shutdown.py: ProcessPoolShutdownTest.test_context_manager_shutdown
TEST(ProcessPoolShutdownTest, test_context_manager_shutdown) {
    std::vector<int> got;
    {
        cf::ProcessPoolExecutor e(5);
        for (int r : e.map(+[](int x) { return std::abs(x); }, std::views::iota(-5, 5))) got.push_back(r);
    }
    EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

// test_shutdown.py: ProcessPoolShutdownTest.test_del_shutdown / test_shutdown_no_wait
TEST(ProcessPoolShutdownTest, test_shutdown_no_wait) {
    auto executor = std::make_unique<cf::ProcessPoolExecutor>(5);
    auto res = executor->map(+[](int x) { return std::abs(x); }, std::views::iota(-5, 5));
    executor->shutdown(false);
    std::vector<int> got;
    for (int r : res) got.push_back(r);
    executor.reset();
    EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
}

// test_shutdown.py: ProcessPoolShutdownTest.test_processes_terminate, _run_test_issue_gh_132969 —
// not ported here: the pool's worker count and max_tasks_per_child cases are in
// test_concurrent_futures_process_pool.cpp.

}  // namespace
