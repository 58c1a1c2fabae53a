// Tests of <nogil/asyncio/signals.hpp>: add_signal_handler / remove_signal_handler, and the
// Ctrl-C behaviour of run() (tested in a child process: this test program re-runs itself).
#include <nogil/asyncio/signals.hpp>

#include <nogil/asyncio.hpp>
#include <nogil/asyncio/subprocess.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace asyncio = nogil::asyncio;
namespace sp = nogil::asyncio::subprocess;
using namespace std::chrono_literals;

namespace {

template <class T>
T run_bounded(asyncio::Coroutine<T> body) {
    return asyncio::run(asyncio::timeout(20s, std::move(body)));
}

bool disposition_is_default(int sig) {
    struct sigaction sa {};
    ::sigaction(sig, nullptr, &sa);
    return sa.sa_handler == SIG_DFL;
}

/// asyncio::run() with the Ctrl-C guard, exactly as the patch proposed for runners.hpp does it
/// (the core's run() is not ours to edit).
template <class T>
T run_with_ctrl_c(asyncio::Coroutine<T> main) {
    asyncio::EventLoop loop;
    struct Shutdown {
        asyncio::EventLoop& loop;
        ~Shutdown() { asyncio::detail_run::shutdown(loop); }
    } shutdown{loop};
    auto task = loop.create_task(std::move(main));
    nogil::detail::MainTaskInterrupt interrupt(loop, *task.state());
    try {
        return loop.run_until_complete(task);
    } catch (const nogil::CancelledError&) {
        interrupt.throw_if_interrupted();
        throw;
    }
}

TEST(Signals, HandlerRunsOnTheLoopAndIsRemoved) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto got = loop.create_future<int>();
        const auto loop_thread = std::this_thread::get_id();
        loop.add_signal_handler(SIGUSR1, [&] {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread);
            if (!got.done()) got.set_result(SIGUSR1);
        });
        EXPECT_FALSE(disposition_is_default(SIGUSR1));
        ::kill(::getpid(), SIGUSR1);
        EXPECT_EQ(co_await got, SIGUSR1);
        EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
        EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
        EXPECT_TRUE(disposition_is_default(SIGUSR1));
    }());
}

TEST(Signals, SignalsFromAnotherThreadAndReplacement) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        auto got = loop.create_future<std::string>();
        loop.add_signal_handler(SIGUSR2, [&] { ADD_FAILURE() << "replaced handler ran"; });
        loop.add_signal_handler(SIGUSR2, [&] {
            if (!got.done()) got.set_result("second");
        });
        std::thread sender([] { ::kill(::getpid(), SIGUSR2); });
        EXPECT_EQ(co_await got, "second");
        sender.join();
        loop.remove_signal_handler(SIGUSR2);
    }());
}

TEST(Signals, ClosingTheLoopRestoresDefaults) {
    run_bounded([]() -> asyncio::Coroutine<> {
        asyncio::get_running_loop().add_signal_handler(SIGUSR1, [] {});
        asyncio::get_running_loop().add_signal_handler(SIGHUP, [] {});
        co_return;
    }());
    EXPECT_TRUE(disposition_is_default(SIGUSR1));
    EXPECT_TRUE(disposition_is_default(SIGHUP));
    // And a new loop may take signals over.
    run_bounded([]() -> asyncio::Coroutine<> {
        asyncio::get_running_loop().add_signal_handler(SIGUSR1, [] {});
        co_return;
    }());
    EXPECT_TRUE(disposition_is_default(SIGUSR1));
}

TEST(Signals, BadArguments) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(0, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(100000, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(SIGUSR1, nullptr), std::invalid_argument);
        EXPECT_THROW((void)loop.remove_signal_handler(-1), std::invalid_argument);
        EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
        co_return;
    }());
}

TEST(Signals, OnlyTheMainThreadAndOneLoop) {
    std::string error;
    std::thread other([&] {
        asyncio::run([](std::string& error) -> asyncio::Coroutine<> {
            try {
                asyncio::get_running_loop().add_signal_handler(SIGUSR1, [] {});
            } catch (const std::runtime_error& e) {
                error = e.what();
            }
            co_return;
        }(error));
    });
    other.join();
    EXPECT_NE(error.find("main thread"), std::string::npos) << error;

    run_bounded([]() -> asyncio::Coroutine<> {
        asyncio::get_running_loop().add_signal_handler(SIGUSR1, [] {});
        asyncio::EventLoop second;  // not running; still refused while the first owns signals
        EXPECT_THROW(second.add_signal_handler(SIGUSR2, [] {}), std::runtime_error);
        co_return;
    }());
}

// ----------------------------------------------------------------------------- Ctrl-C

/// The child side: only runs when the parent test starts this program with NOGIL_SIGNALS_CHILD.
TEST(SignalsChild, Main) {
    const char* mode = std::getenv("NOGIL_SIGNALS_CHILD");
    if (!mode) GTEST_SKIP() << "helper of the Ctrl-C tests (runs in a child process)";
    const std::string m = mode;
    if (m == "cancel") {
        // One SIGINT: the main task is cancelled, run() ends with KeyboardInterrupt.
        bool cleanup_ran = false;
        try {
            run_with_ctrl_c([](bool& cleanup_ran) -> asyncio::Coroutine<> {
                asyncio::get_running_loop().call_later(5ms, [] { ::kill(::getpid(), SIGINT); });
                try {
                    co_await asyncio::sleep(30s);
                } catch (const nogil::CancelledError&) {
                    cleanup_ran = true;  // the main task sees the cancellation, like Python's
                    throw;
                }
            }(cleanup_ran));
            std::printf("no exception\n");
        } catch (const nogil::KeyboardInterrupt& e) {
            std::printf("%s cleanup=%d sigint_default=%d\n", e.what(), cleanup_ran, disposition_is_default(SIGINT));
        }
    } else if (m == "twice") {
        // The main task swallows the cancellation and keeps going: the second SIGINT has the
        // default action and ends the process (the parent expects -SIGINT).
        run_with_ctrl_c([]() -> asyncio::Coroutine<> {
            asyncio::get_running_loop().call_later(5ms, [] { ::kill(::getpid(), SIGINT); });
            try {
                co_await asyncio::sleep(30s);
            } catch (const nogil::CancelledError&) {
                asyncio::current_task()->uncancel();
            }
            std::printf("first interrupt taken\n");
            std::fflush(stdout);
            ::kill(::getpid(), SIGINT);
            co_await asyncio::sleep(30s);
        }());
        std::printf("still alive\n");
    } else if (m == "handled") {
        // A program that handles SIGINT itself: run() leaves it alone and ends normally.
        int value = run_with_ctrl_c([]() -> asyncio::Coroutine<int> {
            auto& loop = asyncio::get_running_loop();
            auto got = loop.create_future<int>();
            loop.add_signal_handler(SIGINT, [&] { got.set_result(7); });
            ::kill(::getpid(), SIGINT);
            co_return co_await got;
        }());
        std::printf("handled %d\n", value);
    }
    std::fflush(stdout);
}

/// Starts this test program in child mode `mode`; returns {output, returncode}.
std::pair<std::string, int> run_child(const std::string& mode) {
    return run_bounded([](std::string mode) -> asyncio::Coroutine<std::pair<std::string, int>> {
        std::map<std::string, std::string> env;
        for (char** e = environ; *e; ++e) {
            std::string kv = *e;
            auto eq = kv.find('=');
            if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        env["NOGIL_SIGNALS_CHILD"] = mode;
        auto proc = co_await asyncio::create_subprocess_exec(
            "/proc/self/exe", "--gtest_filter=SignalsChild.Main", sp::Options{.stdout = sp::PIPE, .env = &env});
        auto [out, err] = co_await proc.communicate();
        co_return std::pair<std::string, int>(out, *proc.returncode());
    }(mode));
}

TEST(Signals, CtrlCCancelsTheMainTaskThenKeyboardInterrupt) {
    auto [out, rc] = run_child("cancel");
    EXPECT_NE(out.find("KeyboardInterrupt cleanup=1 sigint_default=1"), std::string::npos) << out;
    EXPECT_EQ(rc, 0) << out;
}

TEST(Signals, SecondCtrlCEndsTheProgram) {
    auto [out, rc] = run_child("twice");
    EXPECT_NE(out.find("first interrupt taken"), std::string::npos) << out;
    EXPECT_EQ(out.find("still alive"), std::string::npos) << out;
    EXPECT_EQ(rc, -SIGINT) << out;
}

TEST(Signals, ProgramHandlingSigintItselfKeepsIt) {
    auto [out, rc] = run_child("handled");
    EXPECT_NE(out.find("handled 7"), std::string::npos) << out;
    EXPECT_EQ(rc, 0) << out;
}

}  // namespace
