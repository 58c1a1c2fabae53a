// EventLoop::start_tls (Python 3.7's loop.start_tls): CPython's BaseStartTLS cases
// (Lib/test/test_asyncio/test_sslproto.py) with their blocking Python peers
// (tests/ssl/peers/py_starttls_peer.py), plus the argument checks, the handshake timeout,
// cancellation mid-handshake and both sides on nogil. Runs on both I/O backends (CMakeLists).
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "asyncio_streams_testing.hpp"
#include "asyncio_testing.hpp"
#include "ssl_testing.hpp"
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace sp = nogil::asyncio::subprocess;
namespace ssl = nogil::ssl;
using namespace std::chrono_literals;
using nogil_test::cert;
using nogil_test::client_context;
using nogil_test::server_context;
using nogil_test::start_silent;

namespace {

constexpr std::size_t payload_size = 64 * 1024;  // CPython's BaseStartTLS.PAYLOAD_SIZE
const std::string peer_script = std::string(NOGIL_SSL_PEERS) + "/py_starttls_peer.py";

/// Starts the Python peer with `args`; for a listening peer, `port` gets the port it printed.
asyncio::Coroutine<sp::Process> start_peer(std::vector<std::string> args) {
    args.insert(args.begin(), peer_script);
    const sp::Options options{.stdout = sp::PIPE};
    co_return co_await asyncio::create_subprocess_exec(NOGIL_PYTHON3, args, options);
}

// test_sslproto.py: BaseStartTLS.test_start_tls_client_reg_proto_1
asyncio::Coroutine<> client_reg_proto_1() {
    const std::string hello(payload_size, '1');
    const std::vector<std::string> args{"serve", std::to_string(payload_size), cert("server.pem"), cert("server.key")};
    auto peer = co_await start_peer(args);
    const std::string port = co_await peer.stdout->readline();
    CO_ASSERT_TRUE(!port.empty());
    auto [reader, tr] = co_await asyncio::open_connection("127.0.0.1", std::stoi(port));
    tr.write(hello);  // plain, not drained: start_tls sends it before the ClientHello
    auto ctx = client_context();
    asyncio::StreamWriter new_tr = co_await asyncio::get_running_loop().start_tls(
        std::move(tr), reader, ctx, {.server_hostname = "localhost"});
    EXPECT_EQ(ssl::ssl_object(new_tr)->version(), "TLSv1.3");
    EXPECT_EQ(co_await reader.readexactly(1), "O");
    new_tr.write(hello);
    EXPECT_EQ(co_await reader.read(), "") << "the peer's shutdown is EOF";
    new_tr.close();
    co_await new_tr.wait_closed();
    EXPECT_EQ(co_await peer.wait(), 0);
}
TEST(LoopStartTls, ClientRegProto1) { run_bounded(client_reg_proto_1()); }

// test_sslproto.py: BaseStartTLS.test_start_tls_server_1
asyncio::Coroutine<> server_1_handler(asyncio::StreamReader reader, asyncio::StreamWriter tr,
                                      asyncio::Queue<std::string>* got) {
    tr.write(std::string(payload_size, '1'));
    asyncio::StreamWriter new_tr = co_await asyncio::get_running_loop().start_tls(
        std::move(tr), reader, server_context(), {.server_side = true, .ssl_handshake_timeout = 30s});
    EXPECT_TRUE(ssl::ssl_object(new_tr)->server_side());
    std::string data = co_await reader.readexactly(payload_size);
    new_tr.write("answer");
    EXPECT_EQ(co_await reader.read(), "") << "the client closed";
    new_tr.close();
    co_await new_tr.wait_closed();
    got->put_nowait(std::move(data));
}
asyncio::Coroutine<> server_1() {
    asyncio::Queue<std::string> got_queue;
    asyncio::Queue<std::string>* got = &got_queue;
    auto handler = [got](asyncio::StreamReader r, asyncio::StreamWriter w) { return server_1_handler(r, w, got); };
    auto server = co_await asyncio::start_server(handler, "127.0.0.1", 0);
    const std::vector<std::string> args{"client", std::to_string(payload_size),
                                        std::to_string(server.sockets().at(0).port), cert("ca.pem"), "answer"};
    auto peer = co_await start_peer(args);
    EXPECT_EQ(co_await peer.stdout->readline(), "answer\n");
    EXPECT_EQ(co_await got->get(), std::string(payload_size, '1'));
    EXPECT_EQ(co_await peer.wait(), 0);
    server.close();
    co_await server.wait_closed();
}
TEST(LoopStartTls, Server1) { run_bounded(server_1()); }

// test_sslproto.py: BaseStartTLS.test_start_tls_wrong_args (a StreamWriter cannot be None: a
// pipe and a connection that already carries TLS stand for the unsupported transports), plus
// a protocol that is not the transport's reader.
asyncio::Coroutine<> wrong_args() {
    auto& loop = asyncio::get_running_loop();
    auto server = co_await asyncio::start_server(nogil_test::echo_lines, "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
    auto [reader2, writer2] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
    auto expect_invalid = [](std::string what, std::string needle) {
        EXPECT_NE(what.find(needle), std::string::npos) << what;
    };
    try {
        co_await loop.start_tls(writer, reader, asyncio::SSLOption());
        ADD_FAILURE() << "start_tls without a context";
    } catch (const std::invalid_argument& e) {
        expect_invalid(e.what(), "SSLContext, got None");
    }
    try {
        co_await loop.start_tls(writer, reader, true);
        ADD_FAILURE() << "start_tls with ssl=true";
    } catch (const std::invalid_argument& e) {
        expect_invalid(e.what(), "SSLContext, got True");
    }
    auto ctx = client_context();
    try {
        co_await loop.start_tls(writer, reader2, ctx, {.server_hostname = "localhost"});
        ADD_FAILURE() << "start_tls with another connection's reader";
    } catch (const std::invalid_argument& e) {
        expect_invalid(e.what(), "is not supported by start_tls()");
    }
    int fds[2];
    CO_ASSERT_TRUE(::pipe(fds) == 0);
    asyncio::StreamReader pipe_reader = asyncio::connect_read_fd(fds[0]);
    asyncio::StreamWriter pipe_writer = asyncio::connect_write_fd(fds[1]);
    try {
        co_await loop.start_tls(pipe_writer, pipe_reader, ctx, {.server_hostname = "localhost"});
        ADD_FAILURE() << "start_tls on a pipe";
    } catch (const std::invalid_argument& e) {
        expect_invalid(e.what(), "is not supported by start_tls()");
    }
    pipe_writer.close();
    EXPECT_TRUE(pipe_writer.is_closing());
    try {
        co_await loop.start_tls(writer, reader, ctx, {.server_hostname = "localhost", .ssl_handshake_timeout = 0s});
        ADD_FAILURE() << "a handshake timeout of 0";
    } catch (const std::invalid_argument& e) {
        expect_invalid(e.what(), "ssl_handshake_timeout should be a positive number");
    }
    // Nothing above touched the connection: it still echoes in plain.
    writer.write("plain\n");
    EXPECT_EQ(co_await reader.readline(), "plain\n");
    writer.close();
    writer2.close();
    co_await writer.wait_closed();
    co_await writer2.wait_closed();
}
TEST(LoopStartTls, WrongArgs) { run_bounded(wrong_args()); }

// Both sides on nogil, each upgraded with loop.start_tls; a copy of the old transport kept by
// the caller writes through TLS (it cannot bypass the encryption).
asyncio::Coroutine<> both_sides_handler(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    EXPECT_EQ(co_await reader.readline(), "STARTTLS\n");
    writer.write("OK\n");
    asyncio::StreamWriter tls = co_await asyncio::get_running_loop().start_tls(std::move(writer), reader,
                                                                               server_context(), {.server_side = true});
    co_await nogil_test::echo_lines(reader, tls);
}
asyncio::Coroutine<> both_sides() {
    auto server = co_await asyncio::start_server(both_sides_handler, "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
    writer.write("STARTTLS\n");
    EXPECT_EQ(co_await reader.readline(), "OK\n");
    const asyncio::StreamWriter kept = writer;
    auto ctx = client_context();
    asyncio::StreamWriter tls = co_await asyncio::get_running_loop().start_tls(std::move(writer), reader, ctx,
                                                                               {.server_hostname = "localhost"});
    tls.write("secret\n");
    EXPECT_EQ(co_await reader.readline(), "secret\n");
    kept.write("old handle\n");  // Python's rule says not to; if done, it still goes through TLS
    EXPECT_EQ(co_await reader.readline(), "old handle\n");
    EXPECT_THROW(co_await asyncio::get_running_loop().start_tls(tls, reader, ctx, {.server_hostname = "localhost"}),
                 std::invalid_argument)
        << "a transport that already carries TLS is not supported";
    tls.close();
    co_await tls.wait_closed();
    server.close();
    co_await server.wait_closed();
}
TEST(LoopStartTls, BothSidesOnNogilAndTheOldHandleGoesThroughTls) { run_bounded(both_sides()); }

// test_sslproto.py: BaseStartTLS.test_start_tls_slow_client_cancel (the peer never answers the
// ClientHello; wait_for cancels start_tls mid-handshake): TimeoutError, the connection is
// closed (the peer sees EOF), and no fd is left behind.
asyncio::Coroutine<> slow_client_cancel() {
    asyncio::Queue<int> gone_queue;
    asyncio::Queue<int>* gone = &gone_queue;
    auto server = co_await start_silent(gone);
    auto ctx = client_context();
    const std::size_t fds = nogil_test::open_fd_count();
    for (int i = 0; i < 3; ++i) {
        auto [reader, tr] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        tr.write(std::string(payload_size, '1'));
        EXPECT_THROW(co_await asyncio::wait_for(asyncio::get_running_loop().start_tls(
                                                    std::move(tr), reader, ctx, {.server_hostname = "localhost"}),
                                                50ms),
                     nogil::TimeoutError);
        EXPECT_EQ(co_await reader.read(), "") << "the aborted connection is EOF for its reader";
    }
    for (int i = 0; i < 3; ++i) co_await gone->get();
    EXPECT_EQ(nogil_test::open_fd_count(), fds) << "a cancelled start_tls closes its socket";
}
TEST(LoopStartTls, SlowClientCancel) { run_bounded(slow_client_cancel()); }

// The handshake timeout (test_sslproto.py's test_create_connection_ssl_slow_handshake, through
// start_tls): ConnectionAbortedError with Python's message, nothing left behind.
asyncio::Coroutine<> handshake_timeout() {
    asyncio::Queue<int> gone_queue;
    asyncio::Queue<int>* gone = &gone_queue;
    auto server = co_await start_silent(gone);
    const std::size_t fds = nogil_test::open_fd_count();
    {
        auto [reader, tr] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        auto ctx = client_context();
        try {
            co_await asyncio::get_running_loop().start_tls(std::move(tr), reader, ctx,
                                                           {.server_hostname = "localhost", .ssl_handshake_timeout = 200ms});
            ADD_FAILURE() << "the handshake with a silent server succeeded";
        } catch (const nogil::ConnectionAbortedError& e) {
            EXPECT_NE(std::string(e.what()).find("SSL handshake is taking longer than 0.2 seconds: aborting the connection"),
                      std::string::npos)
                << e.what();
        }
    }
    co_await gone->get();
    EXPECT_EQ(nogil_test::open_fd_count(), fds);
}
TEST(LoopStartTls, HandshakeTimeoutIsConnectionAbortedError) { run_bounded(handshake_timeout()); }

// test_sslproto.py: BaseStartTLS.test_start_tls_client_corrupted_ssl (the peer writes plaintext
// into the TLS stream): the read fails with SSLError.
asyncio::Coroutine<> corrupted_ssl() {
    const std::vector<std::string> args{"corrupt", cert("server.pem"), cert("server.key")};
    auto peer = co_await start_peer(args);
    const std::string port = co_await peer.stdout->readline();
    CO_ASSERT_TRUE(!port.empty());
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", std::stoi(port),
                                                              {.ssl = client_context(), .server_hostname = "localhost"});
    EXPECT_EQ(co_await reader.readline(), "A\n");
    writer.write("B");
    EXPECT_THROW(co_await reader.readline(), ssl::SSLError);
    writer.close();
    EXPECT_THROW(co_await writer.wait_closed(), ssl::SSLError) << "the error the connection was lost with, as in Python";
    EXPECT_EQ(co_await peer.wait(), 0);
}
TEST(LoopStartTls, ClientCorruptedSsl) { run_bounded(corrupted_ssl()); }

}  // namespace
