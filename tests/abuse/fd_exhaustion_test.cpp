// Running out of fds while clients connect (issue 14's attack list): accept4() fails with
// EMFILE; the server reports it to the loop's exception handler and pauses accepting for a
// second instead of spinning on a listening socket that stays readable (it uses far less CPU
// than the time that passes), and once fds are free again it accepts the clients that waited
// and serves them; at the end the process's fds are back at their baseline. On io_uring
// (io_uring/AbuseFdExhaustion.*) the server accepts by a multishot accept: EMFILE ends it, and
// this checks that the server arms it again (after the pause) until it accepts.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <gtest/gtest.h>

#include "asyncio_streams_testing.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using nogil_test::open_fd_count;

namespace {

asyncio::Coroutine<> echo_line(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        std::string line = co_await reader.readline();
        writer.write(line);
        co_await writer.drain();
        writer.close();
    } catch (const nogil::ConnectionError&) {
    }
}

double seconds(clockid_t clock) {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// The accept failures the loop's exception handler saw.
struct Reports {
    int count = 0;
    std::string message;
    double wall[2]{}, cpu[2]{};
    asyncio::Event second;
};

TEST(AbuseFdExhaustion, AcceptPausesOnEmfileAndServesOnceFdsReturn) {
    constexpr int clients = 5;
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        // The soft limit is lowered before the server starts: io_uring's accept takes the
        // limit when it is armed (a multishot accept armed earlier would not see it lowered).
        rlimit saved{};
        ::getrlimit(RLIMIT_NOFILE, &saved);
        rlimit low = saved;
        low.rlim_cur = open_fd_count() + 32;
        ::setrlimit(RLIMIT_NOFILE, &low);
        auto server = co_await asyncio::start_server(echo_line, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        Reports reports;
        std::vector<int> hogs;
        auto fds_return = [&hogs, &saved] {
            for (int fd : hogs) ::close(fd);
            hogs.clear();
            ::setrlimit(RLIMIT_NOFILE, &saved);
        };
        asyncio::get_running_loop().set_exception_handler(
            [&reports, &fds_return](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
                if (reports.count < 2) {
                    reports.wall[reports.count] = seconds(CLOCK_MONOTONIC);
                    reports.cpu[reports.count] = seconds(CLOCK_PROCESS_CPUTIME_ID);
                }
                reports.message = c.message;
                if (++reports.count == 2) {
                    // Fds come back before anything else runs (for UBSan, see above).
                    fds_return();
                    reports.second.set();
                }
            });

        // UBSan checks an object's dynamic type the first time it meets it through a pipe of its
        // own; with no fd free that check fails and reports a false "invalid vptr". So the
        // objects the accept error path builds are met once before the fds run out.
        (void)nogil::asyncio::detail::make_os_error(EMFILE, "warm-up");
        asyncio::get_running_loop().call_exception_handler({"warm-up", nogil::asyncio::detail::make_os_error(EMFILE, "x"), ""});
        // The same for the accept path's own objects (on io_uring the server is an AcceptSink
        // the backend calls): one client served while fds are free.
        EXPECT_EQ(co_await nogil_test::ask("127.0.0.1", port, "warm-up\n"), "warm-up\n");
        reports.count = 0;
        // The clients' sockets exist before the fds run out (connect() needs no new fd).
        std::vector<int> sockets;
        for (int i = 0; i < clients; ++i) sockets.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        // The fds run out in a callback that runs once this task waits: nothing here builds an
        // awaiter while none is free (UBSan checks a new object's type through a pipe of its own,
        // and reports a false "invalid vptr" without one).
        asyncio::get_running_loop().call_soon([&hogs, &sockets, port] {
            // Use up every fd below the lowered soft limit by dup().
            for (int fd; (fd = ::dup(0)) >= 0;) hogs.push_back(fd);
            EXPECT_EQ(errno, EMFILE);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(static_cast<std::uint16_t>(port));
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            for (int s : sockets) {
                const int rc = ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
                EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
            }
        });
        // The first accept fails, accepting pauses, the retry a second later fails again.
        // Bounded without wait_for (whose inner task would build its awaiter later, with no fd
        // free): a timer gives up after 30 s.
        bool gave_up = false;
        auto give_up = asyncio::get_running_loop().call_later(std::chrono::seconds(30), [&reports, &gave_up, &fds_return] {
            gave_up = true;
            fds_return();
            reports.second.set();
        });
        co_await reports.second.wait();
        give_up.cancel();
        EXPECT_FALSE(gave_up) << "no second accept failure within 30 s";
        EXPECT_EQ(reports.message, "socket.accept() out of system resource");
        const double wall = reports.wall[1] - reports.wall[0];
        const double cpu = reports.cpu[1] - reports.cpu[0];
        EXPECT_LT(cpu, 0.5 * wall) << "accept spins on EMFILE: " << cpu << " s of CPU in " << wall << " s";

        // The fds came back (in the handler): the waiting clients are accepted and served.
        EXPECT_TRUE(hogs.empty());
        for (int i = 0; i < clients; ++i) {
            auto [reader, writer] = asyncio::connect_fd(sockets[i]);
            const std::string line = "after EMFILE " + std::to_string(i) + "\n";
            writer.write(line);
            EXPECT_EQ(co_await asyncio::wait_for(reader.readline(), 30.0), line);
            writer.close();
            co_await writer.wait_closed();
        }
        server.close();
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every fd is closed";
}

}  // namespace
