// nogil::threading::Thread and the module functions (current_thread, main_thread, get_ident,
// get_native_id, active_count, enumerate, excepthook), after CPython's Lib/test/test_threading.py.
#include <nogil/threading/event.hpp>
#include <nogil/threading/thread.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

// A forked child inherits the vanished threads' bookkeeping (glibc's thread_local destructor
// lists); LeakSanitizer would call that a leak. LSan asks this documented hook before checking.
static bool in_forked_child = false;
#if defined(__SANITIZE_ADDRESS__)
extern "C" int __lsan_is_turned_off() { return in_forked_child ? 1 : 0; }
#endif

namespace {

using namespace std::chrono_literals;
namespace threading = nogil::threading;
using threading::Event;
using threading::Thread;
using Clock = std::chrono::steady_clock;

template <class F>
std::string runtime_error_of(F f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no exception)";
}

// Python's default names: prefix followed by a decimal counter; returns the counter or -1.
long numbered(const std::string& name, const std::string& prefix) {
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return -1;
    auto digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stol(digits);
}

// Restores the default hook however a test leaves.
struct ExceptHookRestorer {
    ~ExceptHookRestorer() { threading::excepthook = threading::default_excepthook; }
};

TEST(Thread, RunsTargetWithCopiedAndMovedArguments) {
    int sum = 0;
    auto owned = std::make_unique<int>(40);
    Thread t([](int& out, std::unique_ptr<int> p, int extra) { out = *p + extra; }, std::ref(sum), std::move(owned), 2);
    EXPECT_EQ(sum, 0);  // not started yet
    t.start();
    t.join();
    EXPECT_EQ(sum, 42);
    EXPECT_FALSE(t.is_alive());
}

// Pins thread lifetime step 2 (src/threading/thread.cpp).
TEST(Thread, StartTwiceThrows) {
    Thread t([] {});
    t.start();
    EXPECT_EQ(runtime_error_of([&] { t.start(); }), "threads can only be started once");
    t.join();
    EXPECT_EQ(runtime_error_of([&] { t.start(); }), "threads can only be started once");
}

// Pins thread lifetime step 1 (src/threading/thread.cpp).
TEST(Thread, JoinBeforeStartThrows) {
    Thread t([] {});
    EXPECT_EQ(runtime_error_of([&] { t.join(); }), "cannot join thread before it is started");
    EXPECT_EQ(runtime_error_of([&] { (void)t.join(1ms); }), "cannot join thread before it is started");
}

TEST(Thread, JoinCurrentThreadThrows) {
    std::string message;
    Thread t([&] { message = runtime_error_of([] { threading::current_thread().join(); }); });
    t.start();
    t.join();
    EXPECT_EQ(message, "cannot join current thread");
    EXPECT_EQ(runtime_error_of([] { threading::main_thread().join(); }), "cannot join current thread");
}

TEST(Thread, DefaultNamesCountUpLikePython) {
    Thread a([] {}), b([] {});
    const long na = numbered(a.name(), "Thread-"), nb = numbered(b.name(), "Thread-");
    EXPECT_GT(na, 0) << a.name();
    EXPECT_EQ(nb, na + 1) << b.name();
}

TEST(Thread, OptionsSetNameAndDaemon) {
    std::string seen_name;
    Thread t({.name = "worker", .daemon = true}, [&] { seen_name = threading::current_thread().name(); });
    EXPECT_EQ(t.name(), "worker");
    EXPECT_TRUE(t.daemon());
    t.set_name("renamed");
    t.start();
    t.join();
    EXPECT_EQ(seen_name, "renamed");
}

TEST(Thread, DaemonIsInheritedAndFrozenAtStart) {
    Thread plain([] {});
    EXPECT_FALSE(plain.daemon());  // the main thread is not a daemon
    bool child_daemon = false;
    Thread parent({.daemon = true}, [&] { child_daemon = Thread([] {}).daemon(); });
    parent.start();
    parent.join();
    EXPECT_TRUE(child_daemon);
    plain.set_daemon(true);
    EXPECT_TRUE(plain.daemon());
    plain.start();
    EXPECT_EQ(runtime_error_of([&] { plain.set_daemon(false); }), "cannot set daemon status of active thread");
    plain.join();
}

// Pins thread lifetime step 3 (src/threading/thread.cpp).
TEST(Thread, CurrentThreadIsTheSameHandle) {
    Event go;
    std::optional<Thread> inside;
    std::optional<unsigned long> ident_inside, native_inside;
    Thread t([&] {
        inside = threading::current_thread();
        ident_inside = threading::get_ident();
        native_inside = threading::get_native_id();
        go.wait();
    });
    EXPECT_FALSE(t.ident().has_value());
    EXPECT_FALSE(t.native_id().has_value());
    t.start();
    EXPECT_TRUE(t.ident().has_value());  // known as soon as start() returns
    EXPECT_TRUE(t.is_alive());
    go.set();
    t.join();
    ASSERT_TRUE(inside.has_value());
    EXPECT_TRUE(*inside == t);
    EXPECT_EQ(t.ident(), ident_inside);
    EXPECT_EQ(t.native_id(), native_inside);
    EXPECT_NE(t.ident(), threading::get_ident());
}

TEST(Thread, MainThread) {
    EXPECT_EQ(threading::main_thread().name(), "MainThread");
    EXPECT_TRUE(threading::current_thread() == threading::main_thread());
    EXPECT_EQ(threading::main_thread().ident(), threading::get_ident());
    EXPECT_FALSE(threading::main_thread().daemon());
    EXPECT_TRUE(threading::main_thread().is_alive());
    bool main_from_thread = false;
    Thread t([&] { main_from_thread = !(threading::current_thread() == threading::main_thread()); });
    t.start();
    t.join();
    EXPECT_TRUE(main_from_thread);
}

// Pins thread lifetime step 4 (src/threading/thread.cpp).
TEST(Thread, TimedJoinOfABlockedThread) {
    Event release;
    Thread t([&] { release.wait(); });
    t.start();
    auto start = Clock::now();
    EXPECT_FALSE(t.join(50ms));
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_TRUE(t.is_alive());
    release.set();
    EXPECT_TRUE(t.join(std::chrono::hours(1)));
    EXPECT_FALSE(t.is_alive());
    EXPECT_TRUE(t.join(0s));
}

// Pins thread lifetime step 2 (src/threading/thread.cpp).
TEST(Thread, ActiveCountAndEnumerateSeeRunningThreads) {
    Event release;
    const auto before = threading::active_count();
    Thread t([&] { release.wait(); });
    t.start();
    EXPECT_EQ(threading::active_count(), before + 1);
    auto all = threading::enumerate();
    EXPECT_EQ(all.size(), before + 1);
    EXPECT_NE(std::find(all.begin(), all.end(), t), all.end());
    EXPECT_NE(std::find(all.begin(), all.end(), threading::main_thread()), all.end());
    release.set();
    t.join();
    EXPECT_EQ(threading::active_count(), before);
}

TEST(Thread, ForeignThreadsAreDummies) {
    const auto before = threading::active_count();
    std::string name;
    bool daemon = false, alive = false;
    std::thread foreign([&] {
        Thread me = threading::current_thread();
        name = me.name();
        daemon = me.daemon();
        alive = me.is_alive();
    });
    foreign.join();
    EXPECT_GT(numbered(name, "Dummy-"), 0) << name;
    EXPECT_TRUE(daemon);
    EXPECT_TRUE(alive);
    EXPECT_EQ(threading::active_count(), before);  // deregistered when the std::thread ended

    Event release;
    std::optional<Thread> dummy;
    Event got;
    std::thread holder([&] {
        dummy = threading::current_thread();
        got.set();
        release.wait();
    });
    got.wait();
    EXPECT_EQ(runtime_error_of([&] { dummy->join(); }), "cannot join a dummy thread");
    release.set();
    holder.join();
}

// Pins thread lifetime step 3 (src/threading/thread.cpp).
TEST(Thread, UncaughtExceptionIsPrintedWithTheThreadName) {
    Thread t({.name = "failing"}, [] { throw std::runtime_error("boom"); });
    testing::internal::CaptureStderr();
    t.start();
    t.join();
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "Exception in thread failing:\nstd::runtime_error: boom\n");
    EXPECT_FALSE(t.is_alive());
}

TEST(Thread, NonStandardExceptionIsPrintedToo) {
    Thread t({.name = "int-thrower"}, [] { throw 42; });
    testing::internal::CaptureStderr();
    t.start();
    t.join();
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "Exception in thread int-thrower:\nint\n");
}

TEST(Thread, CustomExceptHookReceivesExceptionAndThread) {
    ExceptHookRestorer restore;
    std::optional<Thread> reported;
    std::string what;
    threading::excepthook = [&](const threading::ExceptHookArgs& args) {
        reported = args.thread;
        try {
            std::rethrow_exception(args.exc_value);
        } catch (const std::out_of_range& e) {
            what = e.what();
        }
    };
    Thread t([] { throw std::out_of_range("index 7"); });
    t.start();
    t.join();
    ASSERT_TRUE(reported.has_value());
    EXPECT_TRUE(*reported == t);
    EXPECT_EQ(what, "index 7");
}

TEST(Thread, ThrowingExceptHookIsReportedNotFatal) {
    ExceptHookRestorer restore;
    threading::excepthook = [](const threading::ExceptHookArgs&) { throw std::logic_error("hook broke"); };
    Thread t({.name = "victim"}, [] { throw std::runtime_error("original"); });
    testing::internal::CaptureStderr();
    t.start();
    t.join();
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Exception in threading.excepthook:"), std::string::npos) << err;
    EXPECT_NE(err.find("std::logic_error: hook broke"), std::string::npos) << err;
    EXPECT_NE(err.find("std::runtime_error: original"), std::string::npos) << err;
}

TEST(Thread, ExceptHookCanBeReadAndRestored) {
    ExceptHookRestorer restore;
    int calls = 0;
    threading::excepthook = [&](const threading::ExceptHookArgs&) { ++calls; };
    auto saved = threading::excepthook.get();
    threading::excepthook = threading::default_excepthook;
    threading::excepthook = saved;
    Thread t([] { throw 1; });
    t.start();
    t.join();
    EXPECT_EQ(calls, 1);
}

// Pins thread lifetime step 3 (src/threading/thread.cpp).
TEST(Thread, HandleMayBeDroppedWhileTheThreadRuns) {
    Event release, done;
    {
        Thread t([&] {
            release.wait();
            done.set();
        });
        t.start();
    }  // no std::terminate: the thread keeps its own reference
    release.set();
    EXPECT_TRUE(done.wait(std::chrono::hours(1)));
}

TEST(ThreadStress, ManyShortThreads) {
    constexpr int threads = 64;
    std::atomic<int> ran{0};
    std::vector<Thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back([&] { ran.fetch_add(1); });
    for (auto& t : pool) t.start();
    for (auto& t : pool) t.join();
    EXPECT_EQ(ran.load(), threads);
}

TEST(Thread, ForkedChildForgetsTheOtherThreads) {
    Event release;
    Thread busy([&] { release.wait(); });  // non-daemon and still running at fork()
    busy.start();
    pid_t child = ::fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
        in_forked_child = true;
        // std::exit runs the exit hook: it must not wait for `busy`, which does not exist here.
        bool ok = threading::active_count() == 1 && !busy.is_alive() &&
                  threading::current_thread() == threading::main_thread();
        std::exit(ok ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_TRUE(busy.is_alive());  // the parent's thread is untouched
    release.set();
    busy.join();
}

using ThreadExitDeathTest = testing::Test;

// Pins thread lifetime step 4 (src/threading/thread.cpp).
TEST(ThreadExitDeathTest, NonDaemonThreadsAreJoinedAtExit) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    // atexit handlers run in reverse order of registration: release_worker, then nogil's join
    // hook (registered by the first start()), then report: which sees the worker ended only
    // if the hook joined it.
    EXPECT_EXIT(
        {
            static Event exit_began;
            static std::optional<Thread> worker;
            std::atexit([] { std::fprintf(stderr, "worker alive after join hook: %d\n", worker->is_alive()); });
            worker.emplace([] {
                exit_began.wait();  // so it is certainly still running when exit() starts
                std::fputs("worker finished\n", stderr);
            });
            worker->start();
            std::atexit([] { exit_began.set(); });
            std::exit(0);
        },
        testing::ExitedWithCode(0), "worker finished\nworker alive after join hook: 0");
}

// Pins thread lifetime step 4 (src/threading/thread.cpp).
TEST(ThreadExitDeathTest, DaemonThreadsAreNotWaitedFor) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            static Event never;  // outlives the exit: the daemon stays blocked on it
            Thread worker({.daemon = true}, [] { never.wait(); });
            worker.start();
            std::fputs("main exiting\n", stderr);
            std::exit(0);
        },
        testing::ExitedWithCode(0), "main exiting");
}

}  // namespace
