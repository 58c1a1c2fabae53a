// Attacks on a stream server by its clients: slowloris on the header block, RST in the middle
// of a response (SO_LINGER 0), clients that never read. Each asserts on what matters: the
// server cuts the attacker off within its deadline, keeps serving others, and every fd is
// closed (the process's fd count is back at its baseline); a shutdown with clients that never
// read ends through abort_clients() (issue 14).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <gtest/gtest.h>

#include "asyncio_streams_testing.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using nogil_test::open_fd_count;

namespace {

constexpr double request_deadline = 1.0;   // seconds a whole request may take to arrive
constexpr double response_deadline = 1.0;  // seconds a response may take to be taken
// (with room for a loaded machine: a polite client answers in microseconds)

/// How many handlers have queued a response (so the test knows its clients were accepted),
/// and the event set when `expected` have.
struct Queued {
    int count = 0;
    int expected = 0;
    asyncio::Event* all = nullptr;
};
Queued queued;

void note_queued() {
    if (++queued.count == queued.expected && queued.all) queued.all->set();
}

/// An HTTP-like server's handler: "GET N\r\n\r\n" asks for N bytes. A request must arrive whole
/// within request_deadline and each response be drained within response_deadline; otherwise
/// the connection is aborted (what examples/http_server does).
asyncio::Coroutine<> guarded_server(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            std::string head = co_await asyncio::wait_for(reader.readuntil("\r\n\r\n"), request_deadline);
            const std::size_t n = std::stoul(head.substr(4));
            writer.write(std::string(n, 'r'));
            note_queued();
            co_await asyncio::wait_for(writer.drain(), response_deadline);
        }
    } catch (const nogil::TimeoutError&) {
        writer.abort();
    } catch (const asyncio::IncompleteReadError&) {
        writer.abort();
    } catch (const nogil::ConnectionError&) {
    }
}

/// A polite request/response on a fresh connection: the server still serves.
asyncio::Coroutine<bool> polite(int port) {
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
    writer.write("GET 5\r\n\r\n");
    const bool ok = co_await reader.readexactly(5) == "rrrrr";
    writer.close();
    co_await writer.wait_closed();
    co_return ok;
}

/// True once the server ended the connection (EOF or reset), reading whatever it sent.
asyncio::Coroutine<bool> ended_by_server(asyncio::StreamReader reader) {
    try {
        while (!(co_await reader.read(65536)).empty()) {
        }
    } catch (const nogil::ConnectionError&) {
    }
    co_return true;
}

TEST(AbuseStreamClients, SlowlorisOnHeadersIsCutOffAndOthersAreServed) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(guarded_server, "127.0.0.1", 0, {.backlog = 256});
        const int port = server.sockets().at(0).port;
        // 50 clients trickle a header block one byte at a time and never finish it.
        auto slowloris = [](int p) -> asyncio::Coroutine<bool> {
            auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", p);
            auto ended = asyncio::create_task(ended_by_server(reader));
            const std::string header = "GET 10\r\nX-Slow: ";
            for (int i = 0; !ended.done(); ++i) {
                if (i > 1000) co_return false;  // 20 s of trickling and still open
                writer.write(std::string(1, i < static_cast<int>(header.size()) ? header[i] : 'a'));
                co_await asyncio::sleep(0.02);  // the attack's pace
            }
            co_return co_await ended;
        };
        std::vector<asyncio::Coroutine<bool>> attackers;
        for (int i = 0; i < 50; ++i) attackers.push_back(slowloris(port));
        auto attack = asyncio::gather(std::move(attackers));  // running from here on
        EXPECT_TRUE(co_await polite(port)) << "a polite client is served during the attack";
        auto ok = co_await asyncio::wait_for(std::move(attack), 60.0);
        EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 50) << "every slowloris connection is cut off";
        EXPECT_TRUE(co_await polite(port));
        server.close();
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd is closed";
}

TEST(AbuseStreamClients, RstInTheMiddleOfAResponse) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(guarded_server, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        auto rst_client = [](int p) -> asyncio::Coroutine<bool> {
            auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", p);
            writer.write("GET 4000000\r\n\r\n");  // 4 MB: more than the kernel buffers take
            const std::string first = co_await reader.readexactly(100000);
            // Close with SO_LINGER 0: the kernel sends RST, the server's send()s fail.
            const int fd = std::get<int>(writer.get_extra_info("socket"));
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            writer.abort();
            co_return first == std::string(100000, 'r');
        };
        for (int wave = 0; wave < 4; ++wave) {
            std::vector<asyncio::Coroutine<bool>> clients;
            for (int i = 0; i < 10; ++i) clients.push_back(rst_client(port));
            auto ok = co_await asyncio::wait_for(asyncio::gather(std::move(clients)), 60.0);
            EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 10) << "wave " << wave;
            EXPECT_TRUE(co_await polite(port)) << "still serving after wave " << wave;
        }
        server.close();
        // Every reset connection is gone from the server (wait_closed waits for its clients).
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd is closed";
}

/// A client that asks for 10 MB with a tiny receive buffer and never reads it; it keeps its
/// socket open until `release` (which outlives it) is set.
asyncio::Coroutine<> never_reads(int port, asyncio::Event* release) {
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
    const int fd = std::get<int>(writer.get_extra_info("socket"));
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    writer.write("GET 10000000\r\n\r\n");
    co_await release->wait();
    writer.abort();
}

/// Starts 20 never_reads() clients and returns once the server has queued each a response.
asyncio::Coroutine<std::vector<asyncio::Task<>>> start_never_readers(int port, asyncio::Event* release) {
    asyncio::Event all_queued;
    queued = {0, 20, &all_queued};
    std::vector<asyncio::Task<>> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(asyncio::create_task(never_reads(port, release)));
    co_await asyncio::wait_for(all_queued.wait(), 30.0);
    queued = {};
    co_return clients;
}

TEST(AbuseStreamClients, ClientsThatNeverReadAreAbortedAtTheResponseDeadline) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(guarded_server, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        asyncio::Event release;
        std::vector<asyncio::Task<>> clients = co_await start_never_readers(port, &release);
        server.close();
        // The clients still hold their sockets: only the server's response deadline can end
        // its side of each connection, which wait_closed() waits for.
        co_await asyncio::wait_for(server.wait_closed(), 30.0);
        release.set();
        for (auto& c : clients) co_await c;
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd is closed";
}


/// A handler with no deadline of its own: it waits for its response to drain forever.
asyncio::Coroutine<> unguarded_server(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        std::string head = co_await reader.readuntil("\r\n\r\n");
        writer.write(std::string(std::stoul(head.substr(4)), 'r'));
        note_queued();
        co_await writer.drain();
    } catch (const nogil::ConnectionError&) {
    }
}

// Issue 14 (5): close_clients() then wait_closed() waits forever for clients that never read
// their responses; abort_clients() after a grace period ends it.
TEST(AbuseStreamClients, ShutdownWithClientsThatNeverReadEndsThroughAbortClients) {
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(unguarded_server, "127.0.0.1", 0);
        const int port = server.sockets().at(0).port;
        asyncio::Event release;
        std::vector<asyncio::Task<>> clients = co_await start_never_readers(port, &release);
        server.close();
        server.close_clients();  // graceful: the queued responses would still be sent...
        bool graceful = true;
        try {
            co_await asyncio::timeout(0.3, server.wait_closed());  // the grace period
        } catch (const nogil::TimeoutError&) {
            graceful = false;
        }
        EXPECT_FALSE(graceful) << "clients that never read cannot be closed gracefully";
        server.abort_clients();  // ...so they are dropped
        co_await asyncio::wait_for(server.wait_closed(), 10.0);
        release.set();
        for (auto& c : clients) co_await c;
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd is closed";
}

}  // namespace
