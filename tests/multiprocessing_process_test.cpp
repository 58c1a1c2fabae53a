// Mirrors the core of CPython's _test_multiprocessing.py _TestProcess, for each start method.
#include "multiprocessing_test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <link.h>
#include <pthread.h>
#include <cstdlib>
#include <string>
#include <thread>
#include <unistd.h>

namespace mp = nogil::multiprocessing;
using namespace std::chrono_literals;

namespace {

using mp_test::kBound;  // every wait is bounded: a broken test fails instead of hanging

void report_identity(mp::Connection conn, std::string tag) {
    auto me = mp::current_process();
    conn.send(std::make_tuple(tag, me.name, me.pid, me.daemon, static_cast<int>(::getppid())));
}

void exit_with(int code) { std::exit(code); }

void throw_runtime(std::string message) { throw std::runtime_error(message); }

[[noreturn]] void exit_five() { ::_exit(5); }

void block_on(mp::Connection conn) {
    conn.send(std::string("ready"));
    (void)conn.recv<int>();  // never answered: the parent terminates or kills us
}

// Starts `p` (a child running block_on with the other end of `parent`) and waits, bounded, until
// the child says it runs; false if it did not.
bool start_and_wait_ready(mp::Process& p, mp::Connection& parent) {
    p.start();
    return parent.poll(kBound) && parent.recv<std::string>() == "ready";
}

void crash_with_segfault() { std::raise(SIGSEGV); }

void echo_sum(mp::Connection conn, std::vector<int> values) {
    long sum = 0;
    for (int v : values) sum += v;
    conn.send(sum);
}

void spawn_grandchild(mp::Connection conn) {
    mp::Process p(report_identity, conn, std::string("grandchild"));
    p.start();
    p.join(kBound);
    conn.send(p.exitcode().value_or(-1000));
}

using ProcessTest = mp_test::StartMethodTest;

TEST_P(ProcessTest, RunsTargetWithArgumentsAndReportsIdentity) {
    auto [parent, child] = mp::Pipe();
    mp::Process p(report_identity, child, std::string("hello"), options());
    EXPECT_FALSE(p.is_alive());
    EXPECT_FALSE(p.pid().has_value());
    EXPECT_FALSE(p.exitcode().has_value());
    EXPECT_FALSE(p.daemon());
    p.start();
    ASSERT_TRUE(parent.poll(kBound));
    auto [tag, name, pid, daemon, ppid] = parent.recv<std::tuple<std::string, std::string, int, bool, int>>();
    EXPECT_EQ(tag, "hello");
    EXPECT_EQ(name, p.name());
    EXPECT_EQ(pid, p.pid().value());
    EXPECT_FALSE(daemon);
    if (GetParam() != "forkserver") {
        EXPECT_EQ(ppid, ::getpid());
    }
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_FALSE(p.is_alive());
}

TEST_P(ProcessTest, NameAndDaemonOptions) {
    auto [parent, child] = mp::Pipe();
    mp::Process p(report_identity, child, std::string("x"),
                  mp::ProcessOptions{.name = "worker-7", .daemon = true, .start_method = GetParam()});
    EXPECT_EQ(p.name(), "worker-7");
    EXPECT_TRUE(p.daemon());
    p.start();
    ASSERT_TRUE(parent.poll(kBound));
    auto result = parent.recv<std::tuple<std::string, std::string, int, bool, int>>();
    EXPECT_EQ(std::get<1>(result), "worker-7");
    EXPECT_TRUE(std::get<3>(result));
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, ExitCodeFromStdExit) {
    mp::Process p(exit_with, 7, options());
    p.start();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 7);
}

// Python's Process(target=f): no arguments, with and without options (a zero-argument target
// once failed to compile: the options check looked at an argument that is not there).
TEST_P(ProcessTest, TargetWithoutArguments) {
    mp::Process with_options(exit_five, options());
    with_options.start();
    with_options.join(kBound);
    EXPECT_EQ(with_options.exitcode(), 5);
    mp::Process plain(exit_five);  // the default start method
    plain.start();
    plain.join(kBound);
    EXPECT_EQ(plain.exitcode(), 5);
}

TEST_P(ProcessTest, ExceptionInTargetGivesExitCodeOne) {
    mp::Process p(throw_runtime, std::string("boom"), options());
    p.start();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 1);
}

TEST_P(ProcessTest, TerminateGivesNegativeSigterm) {
    auto [parent, child] = mp::Pipe();
    mp::Process p(block_on, child, options());
    ASSERT_TRUE(start_and_wait_ready(p, parent));
    EXPECT_TRUE(p.is_alive());
    // join with a short timeout returns while the child still runs (not before the timeout).
    auto t0 = std::chrono::steady_clock::now();
    p.join(50ms);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
    EXPECT_FALSE(p.exitcode().has_value());
    p.terminate();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), -SIGTERM);
    EXPECT_FALSE(p.is_alive());
}

TEST_P(ProcessTest, KillGivesNegativeSigkill) {
    auto [parent, child] = mp::Pipe();
    mp::Process p(block_on, child, options());
    ASSERT_TRUE(start_and_wait_ready(p, parent));
    p.kill();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), -SIGKILL);
}

TEST_P(ProcessTest, SegfaultIsReportedNotHung) {
    mp::Process p(crash_with_segfault, options());
    p.start();
    p.join(kBound);
    ASSERT_TRUE(p.exitcode().has_value());
#if defined(__SANITIZE_THREAD__)
    EXPECT_NE(*p.exitcode(), 0);  // TSan catches the signal, reports, and exits with its own code
#else
    EXPECT_LT(*p.exitcode(), 0);  // -SIGSEGV (ASan: -SIGABRT after its report)
#endif
}

TEST_P(ProcessTest, ActiveChildrenListsRunningOnly) {
    auto [parent, child] = mp::Pipe();
    mp::Process p(block_on, child, options());
    EXPECT_TRUE(mp::active_children().empty());
    ASSERT_TRUE(start_and_wait_ready(p, parent));
    auto kids = mp::active_children();
    ASSERT_EQ(kids.size(), 1u);
    EXPECT_EQ(kids[0].pid(), p.pid());
    p.terminate();
    p.join(kBound);
    EXPECT_TRUE(mp::active_children().empty());
}

TEST_P(ProcessTest, CloseRules) {
    auto [parent, child] = mp::Pipe();
    mp::Process p(block_on, child, options());
    ASSERT_TRUE(start_and_wait_ready(p, parent));
    EXPECT_THROW(p.close(), std::invalid_argument);  // still running
    p.kill();
    p.join(kBound);
    p.close();
    EXPECT_THROW(p.is_alive(), std::invalid_argument);
    EXPECT_THROW(p.start(), std::invalid_argument);
    p.close();  // idempotent
}

TEST_P(ProcessTest, StartTwiceAndJoinUnstartedThrow) {
    mp::Process p(exit_with, 0, options());
    EXPECT_THROW(p.join(), std::runtime_error);
    p.start();
    EXPECT_THROW(p.start(), std::runtime_error);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, ContainerArgumentsCrossTheBoundary) {
    auto [parent, child] = mp::Pipe();
    std::vector<int> values(1000);
    for (int i = 0; i < 1000; ++i) values[static_cast<std::size_t>(i)] = i;
    mp::Process p(echo_sum, child, values, options());
    p.start();
    ASSERT_TRUE(parent.poll(kBound));
    EXPECT_EQ(parent.recv<long>(), 999L * 1000 / 2);
    p.join(kBound);
}

TEST_P(ProcessTest, ChildCanStartGrandchild) {
    MP_SKIP_IF_TSAN_FORK_CHILD_STARTS_THREADS();  // the child's launcher thread starts the grandchild
    auto [parent, child] = mp::Pipe();
    mp::Process p(spawn_grandchild, child, options("outer"));
    p.start();
    ASSERT_TRUE(parent.poll(kBound));
    auto grandchild = parent.recv<std::tuple<std::string, std::string, int, bool, int>>();
    EXPECT_EQ(std::get<0>(grandchild), "grandchild");
    EXPECT_EQ(std::get<1>(grandchild).rfind("Process-", 0), 0u);
    EXPECT_NE(std::get<1>(grandchild).find(':'), std::string::npos);  // "Process-N:1"
    ASSERT_TRUE(parent.poll(kBound));
    EXPECT_EQ(parent.recv<int>(), 0);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, ManyProcessesConcurrently) {
    constexpr int n = 8;
    std::vector<mp::Process> procs;
    for (int i = 0; i < n; ++i) procs.emplace_back(exit_with, i, options());
    for (auto& p : procs) p.start();
    for (int i = 0; i < n; ++i) {
        procs[static_cast<std::size_t>(i)].join(kBound);
        EXPECT_EQ(procs[static_cast<std::size_t>(i)].exitcode(), i);
    }
}

TEST_P(ProcessTest, StartFromSeveralThreadsAtOnce) {
    // The fork child of this test once hung under ASan: it resolved its target with dl_iterate_phdr
    // while another starting thread (encoding its own call) held glibc's dl_load_write_lock at the
    // fork. A forked child now resolves from a snapshot (ChildOfForkNeverTakesTheLoaderLock below).
    // Later it hung in release: the targets end with std::exit, and the first start() to finish
    // registered the library's atexit handler while the launcher forked another child, which then
    // found glibc's exit-handler lock taken (1 run in ~15 as a fresh process, as ctest runs it).
    // The handler is now registered before the first fork.
    // Under ASan it also hung in ASan's own allocator (no fork handlers in g++ 12's libasan): the
    // starting threads allocate and exit while the launcher forks. That cannot be fixed from the
    // library, so that build skips this combination, saying why.
    MP_SKIP_IF_ASAN_FORK_BESIDE_ALLOCATING_THREADS();
    constexpr int n = 4;
    std::vector<mp::Process> procs;
    for (int i = 0; i < n; ++i) procs.emplace_back(exit_with, 10 + i, options());
    std::vector<std::thread> threads;
    for (auto& p : procs) threads.emplace_back([&p] { p.start(); });
    for (auto& t : threads) t.join();
    for (int i = 0; i < n; ++i) {
        procs[static_cast<std::size_t>(i)].join(kBound);
        EXPECT_EQ(procs[static_cast<std::size_t>(i)].exitcode(), 10 + i);
    }
}

MP_INSTANTIATE_START_METHODS(ProcessTest);

// While one thread of the parent sits inside dl_iterate_phdr (holding glibc's dl_load_write_lock,
// which fork() does not reset in the child), a fork-method child must still find and run its
// target. The prepare handler makes the fork happen exactly then, every time.
namespace loader_lock {
std::atomic<bool> armed{false};
std::atomic<int> stage{0};  // 1: go and take the lock; 2: holding it; 3: let it go

void wait_for_stage(int at_least) {
    for (int s = stage.load(); s < at_least; s = stage.load()) stage.wait(s);
}
void advance(int to) {
    stage.store(to);
    stage.notify_all();
}
void prepare_fork() {
    if (!armed.exchange(false)) return;
    advance(1);
    wait_for_stage(2);
}
int hold_lock(dl_phdr_info*, std::size_t, void*) {
    advance(2);
    wait_for_stage(3);
    return 1;
}
}  // namespace loader_lock

TEST(ForkStartMethod, ChildOfForkNeverTakesTheLoaderLock) {
    static const bool registered = ::pthread_atfork(loader_lock::prepare_fork, nullptr, nullptr) == 0;
    ASSERT_TRUE(registered);
    // Warm up: the first start also spawns the resource tracker (another fork, not the one to catch).
    mp::Process first(exit_with, 0, mp::ProcessOptions{.start_method = "fork"});
    first.start();
    first.join(kBound);
    ASSERT_EQ(first.exitcode(), 0);
    mp::Process p(exit_with, 7, mp::ProcessOptions{.start_method = "fork"});
    loader_lock::stage = 0;
    std::thread holder([] {
        loader_lock::wait_for_stage(1);
        dl_iterate_phdr(loader_lock::hold_lock, nullptr);
    });
    loader_lock::armed = true;
    p.start();  // forks while `holder` is inside dl_iterate_phdr
    p.join(kBound);
    loader_lock::advance(3);
    holder.join();
    EXPECT_EQ(p.exitcode(), 7);
    mp_test::kill_leftover_children();
}

TEST(Context, StartMethodsAndContexts) {
    EXPECT_EQ(mp::get_all_start_methods().front(), "forkserver");
    EXPECT_THROW(mp::get_context("thread"), std::invalid_argument);
    EXPECT_THROW(mp::set_start_method("bogus"), std::invalid_argument);
    EXPECT_EQ(mp::get_start_method(), "forkserver");  // the default, fixed on first ask
    EXPECT_THROW(mp::set_start_method("spawn"), std::runtime_error);
    mp::set_start_method("spawn", true);
    EXPECT_EQ(mp::get_start_method(), "spawn");
    mp::set_start_method("forkserver", true);
    auto ctx = mp::get_context("fork");
    EXPECT_EQ(ctx.get_start_method(), "fork");
    auto p = ctx.Process(exit_with, 3);
    p.start();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 3);
}

TEST(CurrentProcess, MainProcessAndCpuCount) {
    EXPECT_EQ(mp::current_process().name, "MainProcess");
    EXPECT_EQ(mp::current_process().pid, ::getpid());
    EXPECT_GE(mp::cpu_count(), 1);
}

TEST(ProcessOptionsTest, UnknownStartMethodThrowsAtConstruction) {
    EXPECT_THROW(mp::Process(exit_with, 0, mp::ProcessOptions{.name = {}, .daemon = {}, .start_method = "thread"}),
                 std::invalid_argument);
}

}  // namespace
