// CPython's Lib/test/test_asyncio/test_events.py (3.13), ported: the callback-ordering cases of
// EventLoopTestsMixin (the module mostly tests sockets, pipes and subprocesses, which
// tests/cpython/test_streams.cpp and the unit tests cover).
//
// Not applicable in C++: the selector/proactor/policy cases (one epoll/io_uring loop, no policy).
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

// test_events.py: EventLoopTestsMixin.test_call_soon_threadsafe_same_thread - call_soon_threadsafe
// and call_soon from the loop's thread run in the order they were queued.
TEST(EventLoopTestsMixin, test_call_soon_threadsafe_same_thread) {
    asyncio::EventLoop loop;
    std::vector<std::string> results;
    auto callback = [&](std::string arg) {
        results.push_back(arg);
        if (results.size() >= 3) loop.stop();
    };
    loop.call_soon_threadsafe(callback, "hello");
    loop.call_soon(callback, "world");
    loop.call_soon_threadsafe(callback, "again");
    loop.run_forever();
    EXPECT_EQ(results, (std::vector<std::string>{"hello", "world", "again"}));
    loop.close();
}

// test_events.py: the same while the loop runs (a callback queueing both kinds).
TEST(EventLoopTestsMixin, test_call_soon_threadsafe_same_thread_while_running) {
    asyncio::EventLoop loop;
    std::vector<int> results;
    loop.call_soon([&] {
        for (int i = 0; i < 10; ++i) {
            if (i % 2)
                loop.call_soon([&results, i] { results.push_back(i); });
            else
                loop.call_soon_threadsafe([&results, i] { results.push_back(i); });
        }
        loop.call_soon([&] { loop.stop(); });
    });
    loop.run_forever();
    EXPECT_EQ(results, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    loop.close();
}

// test_events.py: EventLoopTestsMixin.test_call_soon_threadsafe - from another thread: a callback
// queued by the other thread before the loop's thread queued one (ordered by an Event) runs
// first.
TEST(EventLoopTestsMixin, test_call_soon_threadsafe) {
    asyncio::EventLoop loop;
    std::vector<std::string> results;
    nogil::threading::Event queued;
    loop.call_soon([&] {
        nogil::threading::Thread other([&] {
            loop.call_soon_threadsafe([&] { results.push_back("other thread"); });
            queued.set();
        });
        other.start();
        queued.wait();
        other.join();
        loop.call_soon([&] { results.push_back("loop thread"); });
        loop.call_soon([&] { loop.stop(); });
    });
    loop.run_forever();
    EXPECT_EQ(results, (std::vector<std::string>{"other thread", "loop thread"}));
    loop.close();
}

}  // namespace
