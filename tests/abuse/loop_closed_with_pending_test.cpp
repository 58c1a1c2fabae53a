// Attack: close event loops while work that crosses threads is still pending. issue 14 item 2:
// a loop stopped and closed while a run_coroutine_threadsafe task, or a task awaiting a
// concurrent Future, is pending kept its epoll fd, its eventfd and its core (a reference cycle
// between the two futures' callbacks): 100 loops took fds 5 -> 205. close() releases the OS
// resources whatever is pending, and the cycles are broken (LeakSanitizer, in the asan build,
// fails the program if a core or a future is left behind).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include "abuse/core_testing.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

namespace {

namespace asyncio = nogil::asyncio;
namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

constexpr int kLoops = 100;

using core_testing::open_fds;

asyncio::Coroutine<int> sleep_an_hour() {
    co_await asyncio::sleep(3600);
    co_return 1;
}

asyncio::Coroutine<int> await_concurrent(cf::Future<int> f) { co_return co_await f; }

/// A couple of loop turns: the tasks scheduled so far start and suspend.
void turn(asyncio::EventLoop& loop) {
    loop.run_until_complete([]() -> asyncio::Coroutine<> {
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
    }());
}

TEST(LoopClosedWithPending, RunCoroutineThreadsafeTaskDoesNotKeepTheLoop) {
    std::size_t baseline = open_fds();
    std::vector<cf::Future<int>> kept;  // half the futures outlive their loops
    for (int i = 0; i < kLoops; ++i) {
        asyncio::EventLoop loop;
        auto f = asyncio::run_coroutine_threadsafe(sleep_an_hour(), loop);
        turn(loop);
        loop.stop();
        loop.close();
        EXPECT_FALSE(f.done()) << "a task left pending by close() stays pending, as in Python";
        if (i % 2) kept.push_back(std::move(f));
    }
    EXPECT_EQ(open_fds(), baseline) << "close() releases the epoll fd and the eventfd";
    kept.clear();
}

TEST(LoopClosedWithPending, TaskAwaitingAConcurrentFutureDoesNotKeepTheLoop) {
    std::size_t baseline = open_fds();
    std::vector<cf::Future<int>> kept;
    for (int i = 0; i < kLoops; ++i) {
        asyncio::EventLoop loop;
        cf::Future<int> never;  // nobody will complete it
        auto task = loop.create_task(await_concurrent(never));
        turn(loop);
        EXPECT_FALSE(task.done());
        loop.close();
        if (i % 2) kept.push_back(std::move(never));  // the source outlives the loop
    }
    EXPECT_EQ(open_fds(), baseline);
    // A source completed after its loop closed: its callback finds the loop closed and drops it.
    for (auto& f : kept) f.set_result(1);
}

TEST(LoopClosedWithPending, RunInExecutorCallStillRunningAtClose) {
    std::size_t baseline = open_fds();
    cf::ThreadPoolExecutor pool(1);
    nogil::threading::Event release;
    std::vector<cf::Future<void>> blockers;
    for (int i = 0; i < kLoops; ++i) {
        asyncio::EventLoop loop;
        auto f = loop.run_in_executor(&pool, [&release] { release.wait(); });
        auto task = loop.create_task([](asyncio::Future<void> f) -> asyncio::Coroutine<> { co_await f; }(f));
        turn(loop);
        loop.close();
    }
    EXPECT_EQ(open_fds(), baseline);
    release.set();
    pool.shutdown(true);  // the calls complete after their loops closed: nothing to deliver to
    EXPECT_EQ(open_fds(), baseline);
}

// Issue 16: a loop closed while a socket's send is in the kernel (io_uring: the backend owns the
// bytes and cancels and waits for the send before the ring goes; epoll: a queued write and its
// writable callback). The writer handle outlives the loop; dropping it closes the socket (the
// peer reads to EOF), and nothing is left behind (fds here, memory under LeakSanitizer).
TEST(LoopClosedWithPending, SendInFlightAtClose) {
    std::size_t baseline = open_fds();
    for (int i = 0; i < 20; ++i) {
        int peer = -1;
        {
            asyncio::EventLoop loop;
            std::vector<asyncio::StreamWriter> writer;  // (std::optional: g++ 12's -Wmaybe-uninitialized)
            loop.run_until_complete([](std::vector<asyncio::StreamWriter>* out, int* peer_out) -> asyncio::Coroutine<> {
                int sv[2];
                if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw nogil::OSError(errno, "socketpair");
                *peer_out = sv[1];
                auto ours = asyncio::connect_fd(sv[0]);
                ours.writer.write(std::string(std::size_t{4} << 20, 's'));  // more than the socket buffers hold
                co_await asyncio::sleep(0);
                co_await asyncio::sleep(0);  // the send is in the kernel, waiting for room
                EXPECT_GT(ours.writer.get_write_buffer_size(), 0u);
                out->push_back(ours.writer);
            }(&writer, &peer));
            loop.close();
            writer.clear();  // the last handle: the transport closes its socket
        }
        std::vector<char> buf(1 << 16);
        std::size_t got = 0;
        for (;;) {
            const ssize_t n = ::read(peer, buf.data(), buf.size());
            if (n <= 0) break;  // EOF: our end is closed
            got += static_cast<std::size_t>(n);
        }
        EXPECT_LT(got, std::size_t{4} << 20);
        ::close(peer);
    }
    EXPECT_EQ(open_fds(), baseline);
}

}  // namespace
