// asyncio::Server: close / wait_closed / serve_forever / close_clients / abort_clients, handler
// errors, and a bounded soak with misbehaving clients (fds back to baseline, memory bounded).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <gtest/gtest.h>

#include "asyncio_streams_testing.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

using nogil_test::open_fd_count;

asyncio::Coroutine<> echo_until_eof(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    for (;;) {
        std::string data = co_await reader.read(4096);
        if (data.empty()) break;
        writer.write(data);
        co_await writer.drain();
    }
}

// Pins the connection-lost protocol step 5 (src/asyncio/detail/transport.cpp).
TEST(AsyncioServer, WaitClosedWaitsForTheClients) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_until_eof, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        writer.write("ping");
        EXPECT_EQ(co_await reader.read(4), "ping");
        server.close();
        auto wait = [](asyncio::Server s) -> asyncio::Coroutine<> { co_await s.wait_closed(); };
        auto waiting = asyncio::create_task(wait(server));
        for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0);
        EXPECT_FALSE(waiting.done()) << "a client is still connected";
        writer.write("still served after close()");
        EXPECT_EQ(co_await reader.read(100), "still served after close()");
        writer.close();
        co_await waiting;
        co_await server.wait_closed();  // returns at once from now on
    }());
}

TEST(AsyncioServer, CloseClientsAndAbortClients) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_until_eof, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        auto one = co_await asyncio::open_connection("127.0.0.1", port);
        auto two = co_await asyncio::open_connection("127.0.0.1", port);
        one.writer.write("a");
        EXPECT_EQ(co_await one.reader.read(1), "a");
        two.writer.write("b");
        EXPECT_EQ(co_await two.reader.read(1), "b");
        server.close_clients();
        EXPECT_EQ(co_await one.reader.read(), "") << "the server closed its end";
        EXPECT_EQ(co_await two.reader.read(), "");
        auto three = co_await asyncio::open_connection("127.0.0.1", port);
        three.writer.write("c");
        EXPECT_EQ(co_await three.reader.read(1), "c");
        server.abort_clients();
        EXPECT_EQ(co_await three.reader.read(), "");
        server.close();
        co_await server.wait_closed();
    }());
}

asyncio::Coroutine<> failing_handler(asyncio::StreamReader reader, asyncio::StreamWriter) {
    (void)co_await reader.readline();
    throw std::logic_error("handler bug");
}

TEST(AsyncioServer, HandlerExceptionIsReportedAndClosesTheConnection) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<std::string> reports;
        asyncio::get_running_loop().set_exception_handler(
            [&reports](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { reports.push_back(c.message); });
        auto server = co_await asyncio::start_server(failing_handler, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        writer.write("go\n");
        EXPECT_EQ(co_await reader.read(), "") << "the failing handler's connection is closed";
        EXPECT_EQ(reports, std::vector<std::string>{"Unhandled exception in client_connected_cb"});
        // The server keeps serving.
        auto again = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        again.writer.write("x\n");
        EXPECT_EQ(co_await again.reader.read(), "");
        EXPECT_EQ(reports.size(), 2u);
    }());
}

TEST(AsyncioServer, ServeForeverUntilCancelledThenClosed) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_until_eof, "127.0.0.1", 0, {.start_serving = false});
        EXPECT_FALSE(server.is_serving());
        auto forever = [](asyncio::Server s) -> asyncio::Coroutine<> { co_await s.serve_forever(); };
        auto t = asyncio::create_task(forever(server));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(server.is_serving());
        EXPECT_THROW(co_await server.serve_forever(), std::runtime_error) << "one serve_forever at a time";
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        writer.write("hi");
        EXPECT_EQ(co_await reader.read(2), "hi");
        t.cancel();
        EXPECT_THROW(co_await t, nogil::CancelledError);
        EXPECT_FALSE(server.is_serving());
        EXPECT_THROW(server.start_serving(), std::runtime_error);
    }());
}

// ---------------------------------------------------------------------------------- soak

/// The soak's server handler: a line protocol with timeouts, as a real server needs them
/// against peers that stall or never read.
asyncio::Coroutine<> guarded_echo(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            // No client of the soak stalls while sending (each kind ends its lines, its
            // connection or its bytes over the limit): the read timeout is a safety net only. A
            // short one cut polite clients off on a starved machine (io_uring under TSan: a turn
            // of the one loop that runs both sides can take longer than 0.2 s).
            std::string line = co_await asyncio::wait_for(reader.readline(), 30.0);
            if (line.empty()) break;
            // The read side is bounded too: reading pauses past 2 * limit (plus one read()).
            EXPECT_LE(reader.state()->buffer().size(),
                      2 * reader.limit() + nogil::asyncio::detail::FdTransport::max_read_size);
            writer.write(line);
            // Memory stays bounded: a writer that drains queues at most high-water + one line.
            EXPECT_LE(writer.get_write_buffer_size(), writer.transport().write_high_water() + line.size());
            co_await asyncio::wait_for(writer.drain(), 0.2);
        }
        writer.close();
    } catch (const nogil::TimeoutError&) {
        writer.abort();  // stalled peer
    } catch (const std::invalid_argument&) {
        writer.abort();  // a line over the limit: garbage
    } catch (const nogil::ConnectionError&) {
    }
}

enum class Kind { polite, vanish_mid_message, garbage, never_reads };

asyncio::Coroutine<bool> soak_client(int port, Kind kind, unsigned seed) {
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
    std::mt19937 rng(seed);
    switch (kind) {
        case Kind::polite:
            for (int i = 0; i < 5; ++i) {
                writer.write("line " + std::to_string(i) + "\n");
                if (co_await reader.readline() != "line " + std::to_string(i) + "\n") co_return false;
            }
            writer.close();
            co_await writer.wait_closed();
            co_return true;
        case Kind::vanish_mid_message: {
            writer.write("half a li");
            co_await writer.drain();
            if (rng() % 2) {  // with a RST
                const int fd = std::get<int>(writer.get_extra_info("socket"));
                linger l{1, 0};
                ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
            writer.abort();
            co_return true;
        }
        case Kind::garbage: {
            std::string junk(3000 + rng() % 5000, '\0');
            for (char& c : junk) c = static_cast<char>(rng() % 255 + 1);
            std::replace(junk.begin(), junk.end(), '\n', 'x');
            writer.write(junk);
            try {
                co_await writer.drain();
                (void)co_await reader.read();  // the server gives up on us
            } catch (const nogil::ConnectionError&) {
            }
            co_return true;
        }
        case Kind::never_reads: {
            const std::string big(1500, 'n');  // under the server's 2048-byte limit
            // A small receive buffer, so that the server's writes back to us stall soon.
            const int fd = std::get<int>(writer.get_extra_info("socket"));
            int small = 4096;
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
            try {
                for (int i = 0; i < 40000; ++i) {
                    writer.write(big + "\n");  // the server echoes into our full receive buffer
                    co_await asyncio::wait_for(writer.drain(), 2.0);
                }
            } catch (const nogil::ConnectionError&) {
            } catch (const nogil::TimeoutError&) {
            }
            writer.abort();
            co_return true;
        }
    }
    co_return false;
}

TEST(AsyncioServer, SoakWithMisbehavingClients) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(guarded_echo, "127.0.0.1", 0, {.limit = 2048});
        const int port = server.sockets().at(0).port;
        for (int wave = 0; wave < 3; ++wave) {
            std::vector<asyncio::Coroutine<bool>> clients;
            for (int i = 0; i < 40; ++i)
                clients.push_back(soak_client(port, static_cast<Kind>(i % 4), static_cast<unsigned>(wave * 100 + i)));
            auto ok = co_await asyncio::gather(std::move(clients));
            EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 40) << "wave " << wave;
        }
        // Still serving after the storm.
        EXPECT_TRUE(co_await soak_client(port, Kind::polite, 0));
        server.close();
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd was closed";
}

// Issue 16: a burst of 200 connects at once is accepted and served (on io_uring by the
// listening socket's multishot accept: many connections a completion batch).
TEST(AsyncioServer, BurstOfConnectsAllServed) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(nogil_test::echo_lines, "127.0.0.1", 0, {.backlog = 256});
        const int port = server.sockets().at(0).port;
        std::vector<asyncio::Coroutine<std::string>> asks;
        for (int i = 0; i < 200; ++i) asks.push_back(nogil_test::ask("127.0.0.1", port, "hello " + std::to_string(i) + "\n"));
        auto answers = co_await asyncio::gather(std::move(asks));
        for (int i = 0; i < 200; ++i) EXPECT_EQ(answers[static_cast<std::size_t>(i)], "hello " + std::to_string(i) + "\n");
        server.close();
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before);
}

// Stress: 100 clients stream to an echo server and are cancelled at random points (a random
// number of loop turns in: connecting, with sends and receives in flight, or draining); the
// server is still serving afterwards and every fd is closed at the end.
TEST(AsyncioServer, ClientsCancelledAtRandomPoints) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto echo = [](asyncio::StreamReader reader, asyncio::StreamWriter writer) -> asyncio::Coroutine<> {
            try {
                co_await echo_until_eof(reader, writer);
            } catch (const nogil::ConnectionError&) {  // a client cancelled with our echo in flight
            }
        };
        auto server = co_await asyncio::start_server(echo, "127.0.0.1", 0, {.backlog = 256});
        const int port = server.sockets().at(0).port;
        auto client = [](int port) -> asyncio::Coroutine<> {
            auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
            const std::string chunk(16 * 1024, 'c');
            for (;;) {
                writer.write(chunk);
                co_await writer.drain();
                (void)co_await reader.read(64 * 1024);
            }
        };
        std::mt19937 random(16);
        for (int wave = 0; wave < 3; ++wave) {
            std::vector<asyncio::Task<>> tasks;
            for (int i = 0; i < 100; ++i) tasks.push_back(asyncio::create_task(client(port)));
            std::uniform_int_distribution<int> turns(0, 40);
            std::vector<int> cancel_at;
            for (int i = 0; i < 100; ++i) cancel_at.push_back(turns(random));
            for (int turn = 0; turn <= 40; ++turn) {
                for (int i = 0; i < 100; ++i)
                    if (cancel_at[static_cast<std::size_t>(i)] == turn) tasks[static_cast<std::size_t>(i)].cancel();
                co_await asyncio::sleep(0);
            }
            for (auto& t : tasks) {
                try {
                    co_await t;
                } catch (const nogil::CancelledError&) {
                }
            }
        }
        EXPECT_EQ(co_await nogil_test::ask("127.0.0.1", port, "still here\n"), "still here\n");
        server.close();
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd was closed";
}

}  // namespace
