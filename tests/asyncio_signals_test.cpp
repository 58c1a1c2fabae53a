// Tests of <nogil/asyncio/signals.hpp>: the Ctrl-C behaviour of asyncio::run() itself, tested in child
// processes (this test program re-runs itself in a helper mode), so that a failure cannot kill
// the test program. add_signal_handler itself is the core's (tests/asyncio_event_loop_test.cpp).
#include <nogil/asyncio/signals.hpp>

#include <nogil/asyncio.hpp>
#include <nogil/asyncio/subprocess.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

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

bool disposition_is_default(int sig) {
    struct sigaction sa {};
    ::sigaction(sig, nullptr, &sa);
    return sa.sa_handler == SIG_DFL;
}

// Pins when MainTaskInterrupt is installed (include/nogil/asyncio/signals.hpp).
TEST(AsyncioSignals, GuardLeavesSigintAloneOffTheMainThreadAndRestoresIt) {
    // On the main thread with SIGINT at its default, the guard takes SIGINT while run() runs...
    asyncio::run([]() -> asyncio::Coroutine<> {
        EXPECT_FALSE(disposition_is_default(SIGINT));
        co_return;
    }());
    // ...and gives it back afterwards.
    EXPECT_TRUE(disposition_is_default(SIGINT));
    // Off the main thread, nothing is installed (signals are the main thread's business).
    bool was_default = false;
    std::thread other([&] {
        asyncio::run([](bool& was_default) -> asyncio::Coroutine<> {
            was_default = disposition_is_default(SIGINT);
            co_return;
        }(was_default));
    });
    other.join();
    EXPECT_TRUE(was_default);
}

// ----------------------------------------------------------------------------- Ctrl-C

/// The child side: only runs when the parent test starts this program with NOGIL_SIGNALS_CHILD.
TEST(AsyncioSignalsChild, Main) {
    const char* mode = std::getenv("NOGIL_SIGNALS_CHILD");
    if (!mode) GTEST_SKIP() << "helper of the Ctrl-C tests (runs in a child process)";
    const std::string m = mode;
    if (m == "cancel") {
        // One SIGINT: the main task is cancelled, run() ends with KeyboardInterrupt.
        bool cleanup_ran = false;
        try {
            asyncio::run([](bool& cleanup_ran) -> asyncio::Coroutine<> {
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
        asyncio::run([]() -> asyncio::Coroutine<> {
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
        int value = asyncio::run([]() -> asyncio::Coroutine<int> {
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
            "/proc/self/exe", "--gtest_filter=AsyncioSignalsChild.Main", sp::Options{.stdout = sp::PIPE, .env = &env});
        auto [out, err] = co_await proc.communicate();
        co_return std::pair<std::string, int>(out, *proc.returncode());
    }(mode));
}

// Pins MainTaskInterrupt steps 1-3 (include/nogil/asyncio/signals.hpp).
TEST(AsyncioSignals, CtrlCCancelsTheMainTaskThenKeyboardInterrupt) {
    auto [out, rc] = run_child("cancel");
    EXPECT_NE(out.find("KeyboardInterrupt cleanup=1 sigint_default=1"), std::string::npos) << out;
    EXPECT_EQ(rc, 0) << out;
}

// Pins MainTaskInterrupt step 1 (SIGINT gets its default action back) (include/nogil/asyncio/signals.hpp).
TEST(AsyncioSignals, SecondCtrlCEndsTheProgram) {
    auto [out, rc] = run_child("twice");
    EXPECT_NE(out.find("first interrupt taken"), std::string::npos) << out;
    EXPECT_EQ(out.find("still alive"), std::string::npos) << out;
    EXPECT_EQ(rc, -SIGINT) << out;
}

// Pins when MainTaskInterrupt is installed (include/nogil/asyncio/signals.hpp).
TEST(AsyncioSignals, ProgramHandlingSigintItselfKeepsIt) {
    auto [out, rc] = run_child("handled");
    EXPECT_NE(out.find("handled 7"), std::string::npos) << out;
    EXPECT_EQ(rc, 0) << out;
}

}  // namespace
