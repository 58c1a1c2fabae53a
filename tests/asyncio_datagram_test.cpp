// Tests of <nogil/asyncio/datagram.hpp>: UDP (IPv4, IPv6) and unix datagram endpoints.
#include <nogil/asyncio/datagram.hpp>

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <chrono>
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

/// A unique path for a unix socket in /tmp.
std::string temp_socket_path(const char* tag) {
    return "/tmp/nogil-dgram-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

TEST(AsyncioDatagram, Ipv4RoundTrip) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto server_addr = server.sockname();
        EXPECT_EQ(server_addr.host, "127.0.0.1");
        EXPECT_EQ(server_addr.family, AF_INET);
        EXPECT_NE(server_addr.port, 0);
        auto client = co_await asyncio::open_datagram_endpoint({.remote_addr = {{"127.0.0.1", server_addr.port}}});
        EXPECT_EQ(client.peername(), server_addr);
        co_await client.sendto("ping");
        auto [data, from] = co_await server.recvfrom();
        EXPECT_EQ(data, "ping");
        EXPECT_EQ(from, client.sockname());
        co_await server.sendto("pong", from);
        auto [reply, reply_from] = co_await client.recvfrom();
        EXPECT_EQ(reply, "pong");
        EXPECT_EQ(reply_from, server_addr);
    }());
}

TEST(AsyncioDatagram, Ipv6RoundTrip) {
    run_bounded([]() -> asyncio::Coroutine<> {
        std::optional<asyncio::DatagramEndpoint> server;
        try {
            server.emplace(co_await asyncio::open_datagram_endpoint({.local_addr = {{"::1", 0}}}));
        } catch (const nogil::OSError& e) {
            std::cerr << "no IPv6 loopback here: " << e.what() << '\n';
            co_return;
        }
        auto addr = server->sockname();
        EXPECT_EQ(addr.host, "::1");
        auto client = co_await asyncio::open_datagram_endpoint({.local_addr = {{"::1", 0}}});
        co_await client.sendto("six", addr);
        auto [data, from] = co_await server->recvfrom();
        EXPECT_EQ(data, "six");
        EXPECT_EQ(from, client.sockname());
    }());
}

TEST(AsyncioDatagram, DatagramsKeepTheirBoundariesAndOrder) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto a = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto b = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        const auto to = a.sockname();
        for (int i = 0; i < 50; ++i) co_await b.sendto(std::string(static_cast<std::size_t>(i + 1), 'x'), to);
        for (int i = 0; i < 50; ++i) {
            auto [data, from] = co_await a.recvfrom();
            EXPECT_EQ(data.size(), static_cast<std::size_t>(i + 1));
        }
        // A datagram longer than bufsize is truncated (recvfrom(2) semantics).
        co_await b.sendto("0123456789", to);
        auto [cut, from] = co_await a.recvfrom(4);
        EXPECT_EQ(cut, "0123");
    }());
}

// A small datagram comes back as a string of its size, not one holding the 64 KiB receive
// buffer (a queue of small datagrams would keep 64 KiB each).
TEST(AsyncioDatagram, ReceivedDataDoesNotKeepTheReceiveBuffer) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto client = co_await asyncio::open_datagram_endpoint({.remote_addr = {{"127.0.0.1", server.sockname().port}}});
        const std::string small(100, 's');
        co_await client.sendto(small);
        auto [data, from] = co_await server.recvfrom();
        EXPECT_EQ(data, small);
        EXPECT_LT(data.capacity(), 1024u);
    }());
}

TEST(AsyncioDatagram, CancelledRecvfromLeavesTheEndpointUsable) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto client = co_await asyncio::open_datagram_endpoint({.remote_addr = {{"127.0.0.1", server.sockname().port}}});
        auto waiting = asyncio::create_task(server.recvfrom());
        co_await asyncio::sleep(0);
        waiting.cancel();
        EXPECT_THROW(co_await waiting, nogil::CancelledError);
        // wait_for on recvfrom: times out, then the next recvfrom gets the datagram.
        EXPECT_THROW(co_await asyncio::wait_for(server.recvfrom(), 10ms), nogil::TimeoutError);
        co_await client.sendto("after cancel");
        auto [data, from] = co_await server.recvfrom();
        EXPECT_EQ(data, "after cancel");
    }());
}

TEST(AsyncioDatagram, ConcurrentRecvfromIsRefused) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto ep = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto first = asyncio::create_task(ep.recvfrom());
        co_await asyncio::sleep(0);
        EXPECT_THROW(co_await ep.recvfrom(), std::runtime_error);
        first.cancel();
        EXPECT_THROW(co_await first, nogil::CancelledError);
    }());
}

TEST(AsyncioDatagram, CloseEndsAPendingRecvfrom) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto ep = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto waiting = asyncio::create_task(ep.recvfrom());
        co_await asyncio::sleep(0);
        ep.close();
        EXPECT_TRUE(ep.is_closing());
        EXPECT_EQ(ep.fileno(), -1);
        try {
            co_await waiting;
            ADD_FAILURE() << "expected OSError(EBADF)";
        } catch (const nogil::OSError& e) {
            EXPECT_EQ(e.code().value(), EBADF);
        }
        EXPECT_THROW(co_await ep.sendto("x", "127.0.0.1", 9), nogil::OSError);
    }());
}

TEST(AsyncioDatagram, ConnectedEndpointReportsRefusal) {
    run_bounded([]() -> asyncio::Coroutine<> {
        // Find a free port, then close it: sending there makes the kernel answer ICMP
        // port-unreachable, which a connected UDP socket reports as ECONNREFUSED. Another process
        // may take the port between the close and the send (a UDP echo peer of a test running
        // beside this one answered once): an answer, or silence, means the port was taken, and
        // the test tries another port; refusal must come within a few.
        for (int attempt = 0; attempt < 5; ++attempt) {
            std::uint16_t port;
            {
                auto probe = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
                port = probe.sockname().port;
            }
            auto client = co_await asyncio::open_datagram_endpoint({.remote_addr = {{"127.0.0.1", port}}});
            co_await client.sendto("anyone?");
            try {
                (void)co_await asyncio::wait_for(client.recvfrom(), 2s);
                continue;  // someone else holds the port now
            } catch (const nogil::TimeoutError&) {
                continue;  // the same, silent
            } catch (const nogil::ConnectionRefusedError& e) {
                EXPECT_EQ(e.code().value(), ECONNREFUSED);
                co_return;
            }
        }
        ADD_FAILURE() << "expected ECONNREFUSED from one of five closed ports";
    }());
}

TEST(AsyncioDatagram, ReusePortAndBroadcastOptions) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto a = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}, .reuse_port = true});
        const auto port = a.sockname().port;
        auto b = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", port}}, .reuse_port = true});
        EXPECT_EQ(b.sockname().port, port);
        EXPECT_THROW((void)co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", port}}}), nogil::OSError)
            << "without reuse_port the address is in use";

        auto bc = co_await asyncio::open_datagram_endpoint({.local_addr = {{"0.0.0.0", 0}}, .allow_broadcast = true});
        int on = 0;
        socklen_t len = sizeof on;
        EXPECT_EQ(::getsockopt(bc.fileno(), SOL_SOCKET, SO_BROADCAST, &on, &len), 0);
        EXPECT_EQ(on, 1);
    }());
}

TEST(AsyncioDatagram, HostNamesAreResolved) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto ep = co_await asyncio::open_datagram_endpoint({.local_addr = {{"localhost", 0}}, .family = AF_INET});
        EXPECT_EQ(ep.sockname().host, "127.0.0.1");
        co_await ep.sendto("to myself", "localhost", ep.sockname().port);
        auto [data, from] = co_await ep.recvfrom();
        EXPECT_EQ(data, "to myself");
    }());
}

TEST(AsyncioDatagram, BadOptions) {
    run_bounded([]() -> asyncio::Coroutine<> {
        EXPECT_THROW((void)co_await asyncio::open_datagram_endpoint({}), std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}, .family = 12345}),
                     std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::open_datagram_endpoint({.remote_addr = {{"127.0.0.1", 0}}}),
                     std::invalid_argument);
        EXPECT_THROW((void)co_await asyncio::open_datagram_endpoint({.local_addr = {{"not an address!", 0}}}),
                     nogil::OSError);
        auto unconnected = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        EXPECT_THROW((void)unconnected.sendto("x"), std::runtime_error);
        EXPECT_THROW((void)unconnected.recvfrom(0), std::invalid_argument);
        EXPECT_THROW((void)unconnected.peername(), nogil::OSError);
    }());
}

TEST(AsyncioDatagram, UnixDatagramRoundTrip) {
    const std::string server_path = temp_socket_path("server");
    const std::string client_path = temp_socket_path("client");
    run_bounded([](std::string server_path, std::string client_path) -> asyncio::Coroutine<> {
        auto server = co_await asyncio::open_unix_datagram_endpoint({.local_path = server_path});
        // Opening on the same path again replaces the stale socket file, as Python does.
        server = co_await asyncio::open_unix_datagram_endpoint({.local_path = server_path});
        EXPECT_EQ(server.sockname().host, server_path);
        EXPECT_EQ(server.sockname().family, AF_UNIX);
        auto client = co_await asyncio::open_unix_datagram_endpoint({.local_path = client_path, .remote_path = server_path});
        co_await client.sendto("over unix");
        auto [data, from] = co_await server.recvfrom();
        EXPECT_EQ(data, "over unix");
        EXPECT_EQ(from.host, client_path);
        EXPECT_EQ(from.port, 0);
        co_await server.sendto("back", from);
        auto [reply, reply_from] = co_await client.recvfrom();
        EXPECT_EQ(reply, "back");
        EXPECT_EQ(reply_from.host, server_path);

        // An unbound sender: the receiver sees an empty path.
        auto anonymous = co_await asyncio::open_unix_datagram_endpoint({});
        co_await anonymous.sendto("who?", server_path);
        auto [d2, from2] = co_await server.recvfrom();
        EXPECT_EQ(d2, "who?");
        EXPECT_EQ(from2.host, "");
    }(server_path, client_path));
    ::unlink(server_path.c_str());
    ::unlink(client_path.c_str());
}

TEST(AsyncioDatagram, MovedEndpointKeepsAPendingRecvfrom) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        auto to = server.sockname();
        auto waiting = asyncio::create_task(server.recvfrom());
        co_await asyncio::sleep(0);
        asyncio::DatagramEndpoint moved = std::move(server);
        auto client = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
        co_await client.sendto("still here", to);
        auto [data, from] = co_await waiting;
        EXPECT_EQ(data, "still here");
    }());
}

}  // namespace
