// open_connection / start_server / unix sockets: real connections on 127.0.0.1, ::1 and unix
// sockets, and the ways a peer misbehaves (reset, half-close, never reading).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <gtest/gtest.h>

#include "asyncio_streams_testing.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

using nogil_test::ask;
using nogil_test::echo_lines;
using nogil_test::open_fd_count;


asyncio::Coroutine<> echo_round_trip(std::string bind_host, std::string connect_host) {
    auto server = co_await asyncio::start_server(echo_lines, bind_host, 0);
    EXPECT_TRUE(server.is_serving());
    const int port = server.sockets().at(0).port;
    EXPECT_EQ(co_await ask(connect_host, port, "hello\n"), "hello\n");
    server.close();
    co_await server.wait_closed();
    EXPECT_FALSE(server.is_serving());
    EXPECT_TRUE(server.sockets().empty());
}

TEST(AsyncioStreams, EchoOverIPv4) { asyncio::run(echo_round_trip("127.0.0.1", "127.0.0.1")); }

TEST(AsyncioStreams, EchoOverIPv6) { asyncio::run(echo_round_trip("::1", "::1")); }

TEST(AsyncioStreams, HostNameIsResolved) { asyncio::run(echo_round_trip("127.0.0.1", "localhost")); }

TEST(AsyncioStreams, ManyClientsAtOnce) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        std::vector<asyncio::Coroutine<std::string>> asks;
        for (int i = 0; i < 50; ++i) asks.push_back(ask("127.0.0.1", port, "n" + std::to_string(i) + "\n"));
        auto answers = co_await asyncio::gather(std::move(asks));
        for (int i = 0; i < 50; ++i) EXPECT_EQ(answers[i], "n" + std::to_string(i) + "\n");
    }());
}

TEST(AsyncioStreams, UnixSocketEchoAndCleanup) {
    const std::string path = "/tmp/nogil_streams_test_" + std::to_string(::getpid()) + ".sock";
    asyncio::run([](std::string path) -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_unix_server(echo_lines, path);
        EXPECT_EQ(server.sockets().at(0).family, AF_UNIX);
        EXPECT_EQ(server.sockets().at(0).host, path);
        auto [reader, writer] = co_await asyncio::open_unix_connection(path);
        writer.write("over unix\n");
        EXPECT_EQ(co_await reader.readline(), "over unix\n");
        auto peer = std::get<asyncio::SocketAddress>(writer.get_extra_info("peername"));
        EXPECT_EQ(peer.host, path);
        writer.close();
        co_await writer.wait_closed();
        server.close();
        co_await server.wait_closed();
    }(path));
    struct stat st {};
    EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file is removed when the server closes";
}

TEST(AsyncioStreams, RefusedConnectionIsConnectionRefusedError) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        int port;
        {
            auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
            port = server.sockets().at(0).port;
        }  // the last handle closes the server
        EXPECT_THROW((void)co_await asyncio::open_connection("127.0.0.1", port), nogil::ConnectionRefusedError);
        EXPECT_THROW((void)co_await asyncio::open_unix_connection("/nonexistent/nogil.sock"), nogil::OSError);
    }());
}

TEST(AsyncioStreams, BadArgumentsThrowAtOnce) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        EXPECT_THROW((void)co_await asyncio::open_connection("127.0.0.1", 70000), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::open_connection("127.0.0.1", 80, {.limit = 0}), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::start_server(echo_lines, "127.0.0.1", -1), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.backlog = 0}),
                     std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::start_server(nullptr, "127.0.0.1", 0), std::invalid_argument);
    }());
}

TEST(AsyncioStreams, BindingABusyAddressIsOSError) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        EXPECT_THROW((void)co_await asyncio::start_server(echo_lines, "127.0.0.1", port, {.reuse_address = false}),
                     nogil::OSError);
    }());
}

asyncio::Coroutine<> reset_at_once(asyncio::StreamReader, asyncio::StreamWriter writer) {
    // SO_LINGER 0: close() sends a RST instead of a FIN.
    const int fd = std::get<int>(writer.get_extra_info("socket"));
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    writer.close();
    co_return;
}

// Pins the connection-lost protocol step 4 (src/asyncio/detail/transport.cpp).
TEST(AsyncioStreams, PeerResetIsConnectionResetError) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(reset_at_once, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        EXPECT_THROW((void)co_await reader.read(100), nogil::ConnectionResetError);
        EXPECT_TRUE(writer.is_closing()) << "a reset closes the connection";
        writer.write("dropped");  // silently dropped, as in Python
        EXPECT_THROW(co_await writer.drain(), nogil::ConnectionResetError);
        EXPECT_THROW(co_await writer.wait_closed(), nogil::ConnectionResetError);
    }());
}

TEST(AsyncioStreams, WritingToAVanishedPeerFailsWithoutSigpipe) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(reset_at_once, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        std::string chunk(64 * 1024, 'x');
        bool failed = false;
        for (int i = 0; i < 1000 && !failed; ++i) {
            writer.write(chunk);
            try {
                co_await writer.drain();
            } catch (const nogil::ConnectionError&) {  // BrokenPipeError or ConnectionResetError
                failed = true;
            }
            if (!failed) co_await asyncio::sleep(0.001);
        }
        EXPECT_TRUE(failed);
        EXPECT_TRUE(writer.is_closing());
    }());
}

asyncio::Coroutine<> read_all_then_reply(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    std::string all = co_await reader.read();
    EXPECT_TRUE(reader.at_eof());
    writer.write("got " + std::to_string(all.size()));
    co_await writer.drain();
    writer.close();
}

TEST(AsyncioStreams, HalfCloseWithWriteEof) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(read_all_then_reply, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        EXPECT_TRUE(writer.can_write_eof());
        writer.write(std::string(300000, 'a'));
        writer.write_eof();
        EXPECT_THROW(writer.write("more"), std::runtime_error);
        EXPECT_EQ(co_await reader.read(), "got 300000") << "reading goes on after our EOF";
        EXPECT_TRUE(reader.at_eof());
    }());
}

TEST(AsyncioStreams, ExtraInfoNamesBothEnds) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
        auto peer = std::get<asyncio::SocketAddress>(writer.get_extra_info("peername"));
        auto self = std::get<asyncio::SocketAddress>(writer.get_extra_info("sockname"));
        EXPECT_EQ(peer.family, AF_INET);
        EXPECT_EQ(peer.host, "127.0.0.1");
        EXPECT_EQ(peer.port, port);
        EXPECT_EQ(self.host, "127.0.0.1");
        EXPECT_NE(self.port, 0);
        EXPECT_GE(std::get<int>(writer.get_extra_info("socket")), 0);
        EXPECT_TRUE(std::holds_alternative<std::monostate>(writer.get_extra_info("pipe")));
        EXPECT_TRUE(std::holds_alternative<std::monostate>(writer.get_extra_info("nonsense")));
        writer.close();
        co_await writer.wait_closed();
        EXPECT_TRUE(std::holds_alternative<std::monostate>(writer.get_extra_info("socket"))) << "no fd once closed";
    }());
}

TEST(AsyncioStreams, CancelledReadOnASocketLeavesItUsable) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        auto waiting = [](asyncio::StreamReader r) -> asyncio::Coroutine<std::string> { co_return co_await r.readline(); };
        auto t = asyncio::create_task(waiting(reader));
        co_await asyncio::sleep(0);
        t.cancel();
        EXPECT_THROW(co_await t, nogil::CancelledError);
        writer.write("still here\n");
        EXPECT_EQ(co_await reader.readline(), "still here\n");
    }());
}

// Issue 16: bytes the kernel already received when a read is cancelled stay for the next read
// (on io_uring a receive is in flight while the read waits: its completion, reaped after the
// cancel, still lands in the buffer). The bytes are sent in the same turn as the cancel.
TEST(AsyncioStreams, CancelledReadWithBytesInFlightLosesNone) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw nogil::OSError(errno, "socketpair");
        auto ours = asyncio::connect_fd(sv[0]);
        auto waiting = [](asyncio::StreamReader r) -> asyncio::Coroutine<std::string> { co_return co_await r.readexactly(100000); };
        std::string expected;
        for (int round = 0; round < 20; ++round) {
            auto t = asyncio::create_task(waiting(ours.reader));
            co_await asyncio::sleep(0);  // the read waits; a receive is armed
            const std::string part = "part" + std::to_string(round) + ";";
            EXPECT_EQ(::send(sv[1], part.data(), part.size(), 0), static_cast<ssize_t>(part.size()));
            expected += part;
            t.cancel();
            EXPECT_THROW(co_await t, nogil::CancelledError);
        }
        ::close(sv[1]);
        EXPECT_EQ(co_await ours.reader.read(-1), expected);
    }());
}

// Issue 16: a transport closed (here: every handle dropped) while a receive is in flight lets
// go of the socket: the peer sees EOF, and bytes the peer sends afterwards reach nobody.
TEST(AsyncioStreams, TransportClosedWithAReceiveInFlightClosesTheSocket) {
    const std::size_t before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw nogil::OSError(errno, "socketpair");
        {
            auto ours = asyncio::connect_fd(sv[0]);
            auto t = asyncio::create_task([](asyncio::StreamReader r) -> asyncio::Coroutine<std::string> {
                co_return co_await r.read(100);
            }(ours.reader));
            co_await asyncio::sleep(0);  // reading: a receive is in flight
            t.cancel();
            EXPECT_THROW(co_await t, nogil::CancelledError);
        }  // the last handles go: the transport closes
        // Sent after the close: on epoll the socket is already gone (EPIPE); on io_uring it is
        // released when the receive's cancel reaches the kernel, with the loop's next enter:
        // with COOP_TASKRUN the receive may take the bytes first (dropped: it is detached);
        // with DEFER_TASKRUN it never runs after the cancel, so the socket goes with the bytes
        // unread and the peer sees ECONNRESET, as after any close() with unread bytes. Either
        // way nobody gets them and the socket is closed.
        [[maybe_unused]] const ssize_t late = ::send(sv[1], "late", 4, MSG_NOSIGNAL | MSG_DONTWAIT);
        auto peer = asyncio::connect_fd(sv[1]);
        std::string rest = "not closed";
        bool reset = false;
        try {
            rest = co_await peer.reader.read(-1);
        } catch (const nogil::ConnectionResetError&) {
            rest.clear();
            reset = true;
        }
        EXPECT_EQ(rest, "") << "the peer sees EOF (or a reset)";
        peer.writer.close();
        if (reset)
            EXPECT_THROW(co_await peer.writer.wait_closed(), nogil::ConnectionResetError);  // lost with the reset
        else
            co_await peer.writer.wait_closed();
    }());
    EXPECT_EQ(open_fd_count(), before);
}

TEST(AsyncioStreams, FdsReturnToBaseline) {
    const std::size_t before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        for (int round = 0; round < 3; ++round) {
            std::vector<asyncio::Coroutine<std::string>> asks;
            for (int i = 0; i < 20; ++i) asks.push_back(ask("127.0.0.1", port, "x\n"));
            co_await asyncio::gather(std::move(asks));
        }
        // Connections dropped without close(): the last handle closes them.
        for (int i = 0; i < 10; ++i) {
            auto pair = co_await asyncio::open_connection("127.0.0.1", port);
            pair.writer.write("y\n");
        }
        server.close();
        co_await server.wait_closed();
    }());
    EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
