// 3,000 connections open at once to one server on one loop (issue 14's attack list): every
// client is served while all are open, and once they close the process's fds are back at
// their baseline. The soft RLIMIT_NOFILE is raised within the hard limit for the ~6,000 fds
// (both ends live in this process); the test is skipped, saying so, only if the hard limit is
// too low.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <gtest/gtest.h>

#include "abuse/abuse_testing.hpp"
#include "asyncio_streams_testing.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using nogil_test::echo_lines;
using nogil_test::open_fd_count;

namespace {

constexpr int connections = 3000;

/// Counts clients that got their echo; all of them wait at `all_open` before closing, so that
/// every connection is open at the same time.
struct Rendezvous {
    int echoed = 0;
    asyncio::Event all_open;
};

asyncio::Coroutine<bool> client(int port, int i, Rendezvous* r) {
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
    const std::string line = "client " + std::to_string(i) + "\n";
    writer.write(line);
    const bool ok = co_await reader.readline() == line;
    if (++r->echoed == connections) r->all_open.set();
    co_await r->all_open.wait();
    writer.close();
    co_await writer.wait_closed();
    co_return ok;
}

TEST(AbuseManyConnections, ThreeThousandAtOnce) {
    if (!nogil_abuse::raise_fd_limit(2 * connections + 200))
        GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is too low for " << connections << " connections in one process";
    const std::size_t fds_before = open_fd_count();
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.backlog = 4096});
        const int port = server.sockets().at(0).port;
        Rendezvous r;
        std::vector<asyncio::Coroutine<bool>> clients;
        for (int i = 0; i < connections; ++i) clients.push_back(client(port, i, &r));
        auto ok = co_await asyncio::wait_for(asyncio::gather(std::move(clients)), 120.0);
        EXPECT_EQ(std::count(ok.begin(), ok.end(), true), connections);
        EXPECT_EQ(r.echoed, connections);
        server.close();
        co_await asyncio::wait_for(server.wait_closed(), 30.0);
    }());
    EXPECT_EQ(open_fd_count(), fds_before) << "every connection's fd is closed";
}

}  // namespace
