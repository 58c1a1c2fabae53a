// The event loop's I/O backends (include/nogil/asyncio/detail/io_backend.hpp): the readiness
// contract each must keep (level-triggered reports, interest changes, removal before close,
// cross-thread wake-ups), checked on epoll and io_uring alike; and choosing one: the option, the
// environment variable, and the fallback to epoll where io_uring cannot run (a seccomp filter
// denying io_uring_setup, as container runtimes install, on the creating thread).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/detail/io_backend.hpp>
#include <nogil/errors.hpp>

#include "asyncio/detail/io_epoll.hpp"
#include "asyncio/detail/io_uring.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace detail = nogil::asyncio::detail;
using asyncio::IoBackendKind;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<detail::IoBackend> make(IoBackendKind kind) { return detail::make_io_backend(kind, false); }

/// A connected AF_UNIX stream pair, closed at the end of the scope.
struct Pair {
    int fd[2] = {-1, -1};
    Pair() {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fd) != 0) throw std::runtime_error("socketpair");
    }
    ~Pair() {
        for (int f : fd)
            if (f >= 0) ::close(f);
    }
    void close(int i) {
        ::close(fd[i]);
        fd[i] = -1;
    }
};

std::uint32_t events_for(const std::vector<detail::IoEvent>& got, int fd) {
    std::uint32_t e = 0;
    for (const auto& ev : got)
        if (ev.fd == fd) e |= ev.events;
    return e;
}

std::string backend_name(IoBackendKind k) { return k == IoBackendKind::epoll ? "epoll" : "io_uring"; }

class IoBackendContract : public ::testing::TestWithParam<IoBackendKind> {
protected:
    void SetUp() override {
        if (GetParam() == IoBackendKind::io_uring) {
            const std::string why = detail::io_uring_unavailable_reason();
            if (!why.empty()) GTEST_SKIP() << "io_uring cannot run here: " << why;
        }
        backend = make(GetParam());
    }
    std::vector<detail::IoEvent> poll(std::optional<std::chrono::nanoseconds> timeout) {
        std::vector<detail::IoEvent> out;
        backend->poll(timeout, out);
        return out;
    }
    std::unique_ptr<detail::IoBackend> backend;
};

// An fd with unread bytes is reported on every poll, as epoll's level-triggered mode does: a
// transport that read 64 KiB of a larger backlog is told again.
TEST_P(IoBackendContract, ReadinessIsLevelTriggered) {
    Pair p;
    ASSERT_EQ(::write(p.fd[1], "hello", 5), 5);
    backend->watch(p.fd[0], detail::io_readable);
    EXPECT_EQ(backend->watched(), 1u);
    EXPECT_TRUE(events_for(poll(std::nullopt), p.fd[0]) & detail::io_readable);
    EXPECT_TRUE(events_for(poll(std::nullopt), p.fd[0]) & detail::io_readable) << "not told again while bytes wait";
    char buf[8];
    ASSERT_EQ(::read(p.fd[0], buf, sizeof buf), 5);
    EXPECT_EQ(events_for(poll(0ns), p.fd[0]), 0u);
    ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
    EXPECT_TRUE(events_for(poll(std::nullopt), p.fd[0]) & detail::io_readable);
}

TEST_P(IoBackendContract, InterestChangesTakeEffect) {
    Pair p;
    backend->watch(p.fd[0], detail::io_writable);
    EXPECT_TRUE(events_for(poll(std::nullopt), p.fd[0]) & detail::io_writable);
    backend->watch(p.fd[0], detail::io_readable);  // nothing to read
    EXPECT_EQ(events_for(poll(0ns), p.fd[0]), 0u);
    EXPECT_EQ(events_for(poll(1ms), p.fd[0]), 0u);
    backend->watch(p.fd[0], detail::io_readable | detail::io_writable);
    EXPECT_TRUE(events_for(poll(std::nullopt), p.fd[0]) & detail::io_writable);
    backend->watch(p.fd[0], 0);
    EXPECT_EQ(backend->watched(), 0u);
    EXPECT_EQ(events_for(poll(0ns), p.fd[0]), 0u);
}

// The owner unwatches, closes, and the kernel hands the number to a new socket: nothing of the
// old registration may be reported for the new one (io_uring: a stale completion is dropped by
// its generation).
TEST_P(IoBackendContract, UnwatchCloseAndReuseOfTheNumberReportsNothingStale) {
    auto a = std::make_unique<Pair>();
    ASSERT_EQ(::write(a->fd[1], "old", 3), 3);
    const int number = a->fd[0];
    backend->watch(number, detail::io_readable);
    EXPECT_TRUE(events_for(poll(std::nullopt), number) & detail::io_readable);
    backend->watch(number, 0);
    a.reset();
    Pair b;  // likely reuses `number`; the check holds either way
    backend->watch(b.fd[0], detail::io_readable);
    EXPECT_EQ(events_for(poll(0ns), b.fd[0]), 0u) << "a stale readiness report for fd " << b.fd[0];
    EXPECT_EQ(events_for(poll(1ms), b.fd[0]), 0u);
    ASSERT_EQ(::write(b.fd[1], "new", 3), 3);
    EXPECT_TRUE(events_for(poll(std::nullopt), b.fd[0]) & detail::io_readable);
}

TEST_P(IoBackendContract, HangupIsReportedAsReadable) {
    Pair p;
    backend->watch(p.fd[0], detail::io_readable);
    p.close(1);
    const auto e = events_for(poll(std::nullopt), p.fd[0]);
    EXPECT_TRUE(e & detail::io_readable);
}

TEST_P(IoBackendContract, WakeupEndsAnUnboundedPollFromAnotherThread) {
    std::latch polling(1);
    std::thread t([&] {
        polling.wait();
        backend->wakeup();
    });
    polling.count_down();
    EXPECT_TRUE(poll(std::nullopt).empty());  // returns: woken, nothing to report
    t.join();
    backend->wakeup();  // before the poll: the next unbounded poll returns at once
    EXPECT_TRUE(poll(std::nullopt).empty());
    backend->wakeup();
    backend->wakeup();  // two wake-ups before a poll are one
    EXPECT_TRUE(poll(std::nullopt).empty());
    EXPECT_TRUE(poll(0ns).empty());
}

// ----------------------------------------------------------------------------- completions

/// Collects what a receive delivers.
struct Collect final : detail::RecvSink {
    std::string got;
    std::optional<int> end;
    void on_recv(const char* data, std::size_t n) noexcept override { got.append(data, n); }
    void on_recv_end(int res) noexcept override { end = res; }
};

class IoUringRecv : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string why = detail::io_uring_unavailable_reason();
        if (!why.empty()) GTEST_SKIP() << "io_uring cannot run here: " << why;
        backend = make(IoBackendKind::io_uring);
        if (!backend->can_recv()) GTEST_SKIP() << "this kernel has no provided-buffer receive";
    }
    std::vector<detail::IoEvent> poll(std::optional<std::chrono::nanoseconds> timeout) {
        std::vector<detail::IoEvent> out;
        backend->poll(timeout, out);
        return out;
    }
    void poll_until_end(Collect& c) {
        std::vector<detail::IoEvent> out;
        for (int i = 0; i < 1000 && !c.end; ++i) backend->poll(std::nullopt, out);
        ASSERT_TRUE(c.end.has_value());
    }
    std::unique_ptr<detail::IoBackend> backend;
};

TEST_F(IoUringRecv, ReceivesWhatArrivedThenEndsAtEof) {
    Pair p;
    Collect c;
    EXPECT_EQ(backend->watched(), 0u);
    backend->start_recv(p.fd[0], c);
    EXPECT_EQ(backend->watched(), 1u) << "a receive in flight keeps the loop polling";
    ASSERT_EQ(::write(p.fd[1], "abc", 3), 3);
    poll_until_end(c);
    EXPECT_EQ(c.got, "abc");
    EXPECT_EQ(*c.end, 1) << "one-shot: ended after one buffer, to be started again";
    EXPECT_EQ(backend->watched(), 0u);
    Collect eof;
    backend->start_recv(p.fd[0], eof);
    p.close(1);
    poll_until_end(eof);
    EXPECT_EQ(eof.got, "");
    EXPECT_EQ(*eof.end, 0);
}

// Cancelled with nothing received: ends with -ECANCELED; bytes sent later stay in the socket.
TEST_F(IoUringRecv, CancelEndsTheReceiveAndLosesNothing) {
    Pair p;
    Collect c;
    const auto id = backend->start_recv(p.fd[0], c);
    EXPECT_TRUE(poll(0ns).empty());  // submitted: the receive waits in the kernel
    backend->cancel_recv(id);
    ASSERT_EQ(::write(p.fd[1], "xyz", 3), 3);  // may race the cancel: then it is delivered
    poll_until_end(c);
    EXPECT_TRUE(*c.end == -ECANCELED || *c.end == 1) << *c.end;
    char buf[8];
    const ssize_t left = ::read(p.fd[0], buf, sizeof buf);
    EXPECT_EQ(c.got + std::string(buf, left > 0 ? static_cast<std::size_t>(left) : 0), "xyz");
}

// Detached: the sink is never called again, even for bytes that arrive while the cancel is on
// its way; the socket can be closed at once (ASan: the sink may be gone).
TEST_F(IoUringRecv, DetachedReceiveNeverCallsItsSink) {
    auto p = std::make_unique<Pair>();
    auto c = std::make_unique<Collect>();
    const auto id = backend->start_recv(p->fd[0], *c);
    EXPECT_TRUE(poll(0ns).empty());
    backend->detach_recv(id);
    c.reset();
    ASSERT_EQ(::write(p->fd[1], "gone", 4), 4);
    p.reset();
    for (int i = 0; i < 3; ++i) poll(1ms);
    EXPECT_EQ(backend->watched(), 0u) << "the detached receive ended";
}

// A receive reaches the kernel at the next poll, after the turn's sends (io_uring.cpp,
// start_recv): one cancelled before that never reaches it. It ends with -ECANCELED at that poll,
// having taken nothing, and what the peer sent stays in the socket.
TEST_F(IoUringRecv, CancelledBeforeItsPollTakesNothing) {
    Pair p;
    Collect c;
    const auto id = backend->start_recv(p.fd[0], c);
    ASSERT_EQ(::write(p.fd[1], "xyz", 3), 3);  // already there: a receive in the kernel would take it
    backend->cancel_recv(id);
    EXPECT_FALSE(c.end.has_value()) << "the sink hears of the end inside poll(), not inside cancel_recv()";
    EXPECT_EQ(backend->watched(), 1u) << "still counted until that poll";
    EXPECT_TRUE(poll(0ns).empty());
    ASSERT_TRUE(c.end.has_value());
    EXPECT_EQ(*c.end, -ECANCELED);
    EXPECT_EQ(c.got, "");
    EXPECT_EQ(backend->watched(), 0u);
    char buf[8];
    EXPECT_EQ(::read(p.fd[0], buf, sizeof buf), 3);
}

// Detached before its poll: the sink is never called (it may be gone), nothing is taken from the
// socket, and the receive is no longer counted after that poll.
TEST_F(IoUringRecv, DetachedBeforeItsPollNeverCallsItsSinkNorTakesBytes) {
    Pair p;
    auto c = std::make_unique<Collect>();
    const auto id = backend->start_recv(p.fd[0], *c);
    ASSERT_EQ(::write(p.fd[1], "kept", 4), 4);
    backend->detach_recv(id);
    c.reset();
    EXPECT_TRUE(poll(0ns).empty());
    EXPECT_EQ(backend->watched(), 0u);
    char buf[8];
    EXPECT_EQ(::read(p.fd[0], buf, sizeof buf), 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, IoBackendContract, ::testing::Values(IoBackendKind::epoll, IoBackendKind::io_uring),
                         [](const auto& info) { return backend_name(info.param); });

// ----------------------------------------------------------------------------- one issuer

// The io_uring ring is IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN where the kernel takes it
// (6.1 and later), made disabled and bound to the thread of the loop's first run
// (docs/asyncio-io.md, "Backends"); NOGIL_ASYNCIO_IO_URING_SETUP=coop takes the path of a
// kernel that refuses the flags (EINVAL): a COOP_TASKRUN ring any thread may run.
class IoUringOneIssuer : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string why = detail::io_uring_unavailable_reason();
        if (!why.empty()) GTEST_SKIP() << "io_uring cannot run here: " << why;
    }
    /// What a loop made now gets: a SINGLE_ISSUER ring, or the COOP_TASKRUN one.
    static bool single_issuer() {
        std::string why;
        int err = 0;
        auto b = detail::IoUringBackend::create(why, err);
        if (!b) throw std::runtime_error(why);
        return b->single_issuer();
    }
    static asyncio::EventLoop make_loop() { return asyncio::EventLoop(asyncio::EventLoopOptions{.io_backend = IoBackendKind::io_uring}); }
};

/// Echoes `text` through a socket pair on the running loop: a receive and a send through the ring.
asyncio::Coroutine<std::string> echo_through_pair(std::string text) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw nogil::OSError(errno, "socketpair");
    auto a = asyncio::connect_fd(sv[0]);
    auto b = asyncio::connect_fd(sv[1]);
    a.writer.write(text);
    co_await a.writer.drain();
    std::string got = co_await b.reader.readexactly(static_cast<std::ptrdiff_t>(text.size()));
    b.writer.write(got);
    std::string back = co_await a.reader.readexactly(static_cast<std::ptrdiff_t>(text.size()));
    co_await asyncio::sleep(0.001);  // a timer: the enter's timeout
    a.writer.close();
    b.writer.close();
    co_await a.writer.wait_closed();
    co_await b.writer.wait_closed();
    co_return back;
}

TEST_F(IoUringOneIssuer, TheRingIsSingleIssuerWhereTheKernelTakesIt) {
    utsname u{};
    int major = 0, minor = 0;
    ASSERT_EQ(::uname(&u), 0);
    ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2);
    if (major < 6 || (major == 6 && minor < 1)) GTEST_SKIP() << "kernel " << u.release << " has no DEFER_TASKRUN";
    const char* setup = std::getenv("NOGIL_ASYNCIO_IO_URING_SETUP");
    if (setup && std::string(setup) == "coop") GTEST_SKIP() << "NOGIL_ASYNCIO_IO_URING_SETUP=coop asks for the COOP_TASKRUN ring";
    EXPECT_TRUE(single_issuer());
}

// Made on this thread, run on another (twice): the ring binds to the thread of the first run.
TEST_F(IoUringOneIssuer, LoopCreatedOnOneThreadRunsOnAnother) {
    auto loop = make_loop();
    EXPECT_EQ(loop.io_backend(), IoBackendKind::io_uring);
    std::string first, second;
    std::thread runner([&] {
        first = loop.run_until_complete(echo_through_pair("first"));
        second = loop.run_until_complete(echo_through_pair(std::string(200 * 1024, 'x')));
    });
    runner.join();
    EXPECT_EQ(first, "first");
    EXPECT_EQ(second, std::string(200 * 1024, 'x'));
    loop.close();  // on the creating thread, which never ran it
}

// The ring's thread has ended and a new thread runs the loop: glibc gives the new thread the
// joined one's pthread_t (its stack is reused), the kernel knows it is another task. Still the
// clear RuntimeError, not the kernel's EEXIST as an OSError.
TEST_F(IoUringOneIssuer, ARunOnANewThreadAfterTheRingsThreadEndedIsTheClearError) {
    if (!single_issuer()) GTEST_SKIP() << "a COOP_TASKRUN ring: any thread may run it";
    auto loop = make_loop();
    std::string first;
    std::thread::id first_id;
    std::thread a([&] {
        first_id = std::this_thread::get_id();
        first = loop.run_until_complete(echo_through_pair("first"));
    });
    a.join();
    ASSERT_EQ(first, "first");
    std::string error;
    bool same_pthread = false;
    std::thread b([&] {
        same_pthread = std::this_thread::get_id() == first_id;
        try {
            loop.run_until_complete(echo_through_pair("second"));
        } catch (const nogil::OSError& e) {
            error = std::string("OSError: ") + e.what();
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
    });
    b.join();
    EXPECT_NE(error.find("bound to the thread that first ran it"), std::string::npos) << error
        << (same_pthread ? " (the new thread had the old one's pthread_t)" : "");
    loop.close();
}

// More registrations before the first run than the submission queue holds (add_reader on
// 1,100 sockets: one poll each, sq_entries is 1,024): the full queue is handed to the kernel,
// which binds the ring to this thread, and every reader fires when the loop runs here.
TEST_F(IoUringOneIssuer, MoreRegistrationsBeforeTheFirstRunThanTheQueueHolds) {
    constexpr int n = 1100;
    rlimit lim{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur < 2 * n + 64) {
        lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 2 * n + 64);
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
        if (lim.rlim_cur < 2 * n + 64) GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below " << 2 * n + 64;
    }
    auto loop = make_loop();
    std::vector<std::array<int, 2>> pairs(n);
    int fired = 0;
    for (auto& p : pairs) {
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p.data()), 0);
        const int fd = p[0];
        loop.add_reader(fd, [&loop, &fired, fd] {
            char c;
            ASSERT_EQ(::read(fd, &c, 1), 1);
            loop.remove_reader(fd);
            if (++fired == n) loop.stop();
        });
    }
    for (auto& p : pairs) ASSERT_EQ(::write(p[1], "x", 1), 1);
    loop.run_forever();
    EXPECT_EQ(fired, n);
    loop.close();
    for (auto& p : pairs) {
        ::close(p[0]);
        ::close(p[1]);
    }
}

// A later run on another thread: a RuntimeError before anything runs (SINGLE_ISSUER), and the
// loop still works on its own thread. Then closed on a third thread while the ring's thread is
// alive, with a receive and a partial send in flight: nothing leaks (ASan/LSan) and the
// kernel lets go of the socket (the peer sees the end).
TEST_F(IoUringOneIssuer, SecondRunOnAnotherThreadIsAClearErrorAndTheLoopStillWorks) {
    const bool bound = single_issuer();
    auto loop = make_loop();
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    auto body = [](bool* r) -> asyncio::Coroutine<void> {
        *r = true;
        co_return;
    };
    std::optional<asyncio::StreamPair> ours;
    auto start = [&]() -> asyncio::Coroutine<void> {
        ours = asyncio::connect_fd(sv[0]);
        // More than the socket takes: a send stays in flight (the peer does not read).
        ours->writer.write(std::string(4 * 1024 * 1024, 'y'));
        co_await asyncio::sleep(0.001);
    };
    std::latch first_ran(1), other_tried(1), ran_second(1), closed(1);
    bool ran_again = false;
    std::thread first([&] {  // the ring's thread: runs the loop twice, stays alive until the close
        loop.run_until_complete(start());
        first_ran.count_down();
        other_tried.wait();
        loop.run_until_complete(body(&ran_again));
        ran_second.count_down();
        closed.wait();
    });
    first_ran.wait();
    bool ran = false;
    std::thread other([&] {
        if (bound) {
            try {
                loop.run_until_complete(body(&ran));
                ADD_FAILURE() << "a SINGLE_ISSUER ring ran on a second thread";
            } catch (const std::runtime_error& e) {
                EXPECT_NE(std::string(e.what()).find("bound to the thread that first ran it"), std::string::npos) << e.what();
            }
            EXPECT_FALSE(ran);
        } else {
            loop.run_until_complete(body(&ran));  // a COOP_TASKRUN ring: any thread
            EXPECT_TRUE(ran);
        }
        EXPECT_FALSE(loop.is_running());
        other_tried.count_down();
    });
    other.join();
    ran_second.wait();
    EXPECT_TRUE(ran_again);
    ours.reset();
    loop.close();
    closed.count_down();
    first.join();
    // The peer sees the end (EOF, or ECONNRESET for the bytes left unread): the kernel let go of
    // the socket. A receive timeout turns "it never lets go" into a failure instead of a hang.
    // (With a timeout set, a read is not restarted after an interruption: EINTR, seen in CI when
    // the ring's teardown work reached this thread; read again.)
    timeval tv{30, 0};
    ASSERT_EQ(::setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    char buf[65536];
    ssize_t n;
    while ((n = ::read(sv[1], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    }
    const int err = n < 0 ? errno : 0;
    EXPECT_TRUE(n == 0 || err == ECONNRESET) << "the peer's last read: " << n << ", " << std::strerror(err);
    ::close(sv[1]);
}

// call_soon_threadsafe from other threads wakes a loop blocked in its enter (a receive in
// flight, no timer) without submitting to the ring: every callback runs, on the loop's thread.
TEST_F(IoUringOneIssuer, CrossThreadWakeupsReachALoopBlockedInTheRing) {
    auto loop = make_loop();
    constexpr int per_thread = 2000;
    int ran = 0;  // loop thread only
    std::atomic<bool> off_thread{false};
    std::thread::id loop_thread;
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    std::latch running(1);
    std::thread runner([&] {
        loop_thread = std::this_thread::get_id();
        auto body = [&]() -> asyncio::Coroutine<std::string> {
            auto pair = asyncio::connect_fd(sv[0]);
            running.count_down();
            std::string got = co_await pair.reader.read(100);  // blocks in the ring until the peer writes
            pair.writer.close();
            co_await pair.writer.wait_closed();
            co_return got;
        };
        EXPECT_EQ(loop.run_until_complete(body()), "done");
    });
    running.wait();
    std::vector<std::thread> wakers;
    for (int t = 0; t < 2; ++t)
        wakers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i)
                loop.call_soon_threadsafe([&] {
                    if (std::this_thread::get_id() != loop_thread) off_thread = true;
                    if (++ran == 2 * per_thread) (void)!::write(sv[1], "done", 4);
                });
        });
    for (auto& w : wakers) w.join();
    runner.join();
    EXPECT_EQ(ran, 2 * per_thread);
    EXPECT_FALSE(off_thread.load());
    loop.close();
    ::close(sv[1]);
}

// NOGIL_ASYNCIO_IO_URING_SETUP=coop: the path of a kernel that refuses SINGLE_ISSUER |
// DEFER_TASKRUN (EINVAL): a COOP_TASKRUN ring, which runs on any thread.
TEST_F(IoUringOneIssuer, RefusedFlagsFallBackToACoopRingThatRunsOnAnyThread) {
    ::setenv("NOGIL_ASYNCIO_IO_URING_SETUP", "coop", 1);  // each test runs in its own process under ctest
    const bool bound = single_issuer();
    auto loop = make_loop();
    std::string a, b;
    std::thread one([&] { a = loop.run_until_complete(echo_through_pair("one")); });
    one.join();
    std::thread two([&] { b = loop.run_until_complete(echo_through_pair("two")); });
    two.join();
    loop.close();
    ::unsetenv("NOGIL_ASYNCIO_IO_URING_SETUP");
    EXPECT_FALSE(bound);
    EXPECT_EQ(loop.io_backend(), IoBackendKind::io_uring);
    EXPECT_EQ(a, "one");
    EXPECT_EQ(b, "two");
}

// ----------------------------------------------------------------------------- choosing

// Runs `fn` on a thread whose io_uring_setup fails with `err` (a seccomp filter on that thread
// only, as a container runtime's profile would answer; the rest of the process is untouched).
template <class F>
void with_io_uring_denied(int err, F fn) {
    std::thread t([&] {
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
        ASSERT_EQ(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0) << std::strerror(errno);
        ASSERT_EQ(::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0) << std::strerror(errno);
        fn();
    });
    t.join();
}

TEST(AsyncioIoBackend, ExplicitIoUringWhereSeccompDeniesItIsAnOSErrorNamingWhy) {
    with_io_uring_denied(EPERM, [] {
        EXPECT_FALSE(detail::io_uring_unavailable_reason().empty());
        try {
            asyncio::EventLoop loop(asyncio::EventLoopOptions{.io_backend = IoBackendKind::io_uring});
            ADD_FAILURE() << "io_uring was created under a filter that denies it";
        } catch (const nogil::OSError& e) {
            EXPECT_EQ(e.code().value(), EPERM);
            const std::string what = e.what();
            EXPECT_NE(what.find("io_uring"), std::string::npos) << what;
            EXPECT_NE(what.find("Operation not permitted"), std::string::npos) << what;
            EXPECT_TRUE(what.find("seccomp") != std::string::npos || what.find("io_uring_disabled") != std::string::npos)
                << what;
        }
        // asyncio::run with the option: the same error, before anything runs.
        bool ran = false;
        auto body = [](bool* r) -> asyncio::Coroutine<void> {
            *r = true;
            co_return;
        };
        EXPECT_THROW(asyncio::run(body(&ran), {.io_backend = IoBackendKind::io_uring}), nogil::OSError);
        EXPECT_FALSE(ran);
    });
    with_io_uring_denied(ENOSYS, [] {
        try {
            asyncio::EventLoop loop(asyncio::EventLoopOptions{.io_backend = IoBackendKind::io_uring});
            ADD_FAILURE() << "io_uring was created under a filter that denies it";
        } catch (const nogil::OSError& e) {
            EXPECT_EQ(e.code().value(), ENOSYS);
            EXPECT_NE(std::string(e.what()).find("the kernel has no io_uring"), std::string::npos) << e.what();
        }
    });
}

// NOGIL_ASYNCIO_BACKEND=io_uring where io_uring cannot run: epoll, and in debug mode one line
// on stderr saying why (once per process, however many loops are made).
TEST(AsyncioIoBackend, EnvironmentPreferenceFallsBackToEpollAndSaysSoOnceInDebugMode) {
    const char* before = std::getenv("NOGIL_ASYNCIO_BACKEND");
    const std::string saved = before ? before : "";
    ::setenv("NOGIL_ASYNCIO_BACKEND", "io_uring", 1);  // each test runs in its own process under ctest
    testing::internal::CaptureStderr();
    with_io_uring_denied(EPERM, [] {
        for (int i = 0; i < 3; ++i) {
            asyncio::EventLoop loop(asyncio::EventLoopOptions{.debug = true});
            EXPECT_EQ(loop.io_backend(), IoBackendKind::epoll);
            // It works: a timer and a cross-thread wake-up go through the fallback's poll.
            bool called = false;
            std::thread waker;
            loop.call_later(1ms, [&] {
                waker = std::thread([&] {
                    loop.call_soon_threadsafe([&] {
                        called = true;
                        loop.stop();
                    });
                });
            });
            loop.run_forever();
            waker.join();
            EXPECT_TRUE(called);
        }
    });
    const std::string err = testing::internal::GetCapturedStderr();
    if (before)
        ::setenv("NOGIL_ASYNCIO_BACKEND", saved.c_str(), 1);
    else
        ::unsetenv("NOGIL_ASYNCIO_BACKEND");
    std::size_t count = 0;
    for (std::size_t pos = err.find("using epoll"); pos != std::string::npos; pos = err.find("using epoll", pos + 1))
        ++count;
    EXPECT_EQ(count, 1u) << err;
    EXPECT_NE(err.find("NOGIL_ASYNCIO_BACKEND=io_uring"), std::string::npos) << err;
    EXPECT_NE(err.find("Operation not permitted"), std::string::npos) << err;
}

// The ctest registration io_uring/... sets NOGIL_ASYNCIO_BACKEND=io_uring: its loops really run
// on io_uring wherever the kernel allows it (so that suite is not epoll under another name).
TEST(AsyncioIoBackend, IoBackendFromEnvironmentIsUsed) {
    const char* v = std::getenv("NOGIL_ASYNCIO_BACKEND");
    const bool wants_uring = v && std::string(v) == "io_uring";
    const std::string why = detail::io_uring_unavailable_reason();
    if (wants_uring && !why.empty()) GTEST_SKIP() << "NOGIL_ASYNCIO_BACKEND=io_uring, but io_uring cannot run here: " << why;
    asyncio::EventLoop loop;
    EXPECT_EQ(loop.io_backend(), wants_uring ? IoBackendKind::io_uring : IoBackendKind::epoll);
    auto body = []() -> asyncio::Coroutine<IoBackendKind> { co_return asyncio::get_running_loop().io_backend(); };
    EXPECT_EQ(asyncio::run(body()), loop.io_backend());
}

TEST(AsyncioIoBackend, TheOptionOverridesTheEnvironment) {
    auto body = []() -> asyncio::Coroutine<IoBackendKind> { co_return asyncio::get_running_loop().io_backend(); };
    EXPECT_EQ(asyncio::run(body(), {.io_backend = IoBackendKind::epoll}), IoBackendKind::epoll);
    if (!detail::io_uring_unavailable_reason().empty()) GTEST_SKIP() << "io_uring cannot run here";
    EXPECT_EQ(asyncio::run(body(), {.io_backend = IoBackendKind::io_uring}), IoBackendKind::io_uring);
}

}  // namespace
