// TLS over asyncio streams: nogil's client and server against each other, certificate failures,
// timeouts, cancellation, close_notify, start_tls. Pins the transport/layer protocol
// (include/nogil/asyncio/detail/transport_layer.hpp) and SSLProtocol's states
// (src/ssl/detail/ssl_protocol.hpp). Real peers (openssl, Python): ssl_peers_test.cpp.
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "asyncio_streams_testing.hpp"
#include "asyncio_testing.hpp"
#include "ssl_testing.hpp"
#include <any>
#include <latch>
#include <openssl/ssl.h>
#include <string>
#include <thread>

namespace asyncio = nogil::asyncio;
namespace ssl = nogil::ssl;
using namespace std::chrono_literals;
using nogil_test::cert;
using nogil_test::client_context;
using nogil_test::echo_lines;
using nogil_test::server_context;
using nogil_test::start_silent;

namespace {

/// nogil_test::ask with the line first.
asyncio::Coroutine<std::string> tls_ask(std::string host, int port, asyncio::ConnectionOptions options,
                                        std::string line) {
    return nogil_test::ask(std::move(host), port, std::move(line), options);
}

asyncio::Coroutine<> echo_over(std::string bind_host, std::string connect_host) {
    auto server = co_await asyncio::start_server(echo_lines, bind_host, 0, {.ssl = server_context()});
    const int port = server.sockets().at(0).port;
    EXPECT_EQ(co_await tls_ask(connect_host, port, {.ssl = client_context()}, "hello\n"), "hello\n");
    server.close();
    co_await server.wait_closed();
}

// Pins the transport/layer protocol step 1 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, EchoByName) { run_bounded(echo_over("127.0.0.1", "localhost")); }
TEST(SslStreams, EchoByIPv4AddressChecksTheIPSubjectAltName) { run_bounded(echo_over("127.0.0.1", "127.0.0.1")); }
TEST(SslStreams, EchoOverIPv6) { run_bounded(echo_over("::1", "::1")); }

asyncio::Coroutine<> many_clients() {
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = server_context()});
    const int port = server.sockets().at(0).port;
    std::vector<asyncio::Coroutine<std::string>> asks;
    auto ctx = client_context();
    for (int i = 0; i < 20; ++i) asks.push_back(tls_ask("localhost", port, {.ssl = ctx}, std::to_string(i) + "\n"));
    auto answers = co_await asyncio::gather(std::move(asks));
    for (int i = 0; i < 20; ++i) EXPECT_EQ(answers[i], std::to_string(i) + "\n");
}
TEST(SslStreams, ManyClientsShareOneContext) { run_bounded(many_clients()); }

// A megabyte each way: records split and joined, the write queue's flow control over TLS.
asyncio::Coroutine<> big_echo(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    std::string data = co_await reader.readexactly(1 << 20);
    writer.write(data);
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}
asyncio::Coroutine<> megabyte() {
    auto server = co_await asyncio::start_server(big_echo, "127.0.0.1", 0, {.ssl = server_context()});
    auto [reader, writer] =
        co_await asyncio::open_connection("localhost", server.sockets().at(0).port, {.ssl = client_context()});
    std::string data(1 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
    writer.write(data);
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readexactly(1 << 20), data);
    EXPECT_EQ(co_await reader.read(), "") << "the server's close_notify is EOF";
    writer.close();
    co_await writer.wait_closed();
}
// Pins the transport/layer protocol steps 2 and 3 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, MegabyteEachWay) { run_bounded(megabyte()); }

// --- get_extra_info -------------------------------------------------------------------------

asyncio::Coroutine<> report_sni(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    auto object = ssl::ssl_object(writer);
    writer.write((object && object->server_hostname() ? *object->server_hostname() : std::string("none")) + "\n");
    co_await writer.drain();
    co_await reader.read();
    writer.close();
}

asyncio::Coroutine<> extra_info() {
    auto sctx = server_context();
    sctx.set_alpn_protocols({"h2", "http/1.1"});
    auto server = co_await asyncio::start_server(report_sni, "127.0.0.1", 0, {.ssl = sctx});
    auto cctx = client_context();
    cctx.set_alpn_protocols({"http/1.1"});
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port,
                                                              {.ssl = cctx, .server_hostname = "localhost"});
    EXPECT_EQ(co_await reader.readline(), "localhost\n") << "SNI is server_hostname";

    auto peercert = std::any_cast<ssl::PeerCert>(std::get<std::any>(writer.get_extra_info("peercert")));
    CO_ASSERT_TRUE(!peercert.subject.empty());
    EXPECT_EQ(peercert.subject[0].first, "commonName");
    EXPECT_EQ(peercert.subject[0].second, "localhost");
    EXPECT_EQ(peercert.issuer[0].second, "nogil test CA");
    EXPECT_NE(std::find(peercert.subjectAltName.begin(), peercert.subjectAltName.end(),
                        std::pair<std::string, std::string>("IP Address", "127.0.0.1")),
              peercert.subjectAltName.end());
    EXPECT_EQ(peercert.version, 3);
    EXPECT_FALSE(peercert.der.empty());

    auto cipher = std::any_cast<ssl::Cipher>(std::get<std::any>(writer.get_extra_info("cipher")));
    EXPECT_EQ(cipher.protocol, "TLSv1.3");
    EXPECT_GE(cipher.secret_bits, 128);

    auto object = ssl::ssl_object(writer);
    CO_ASSERT_TRUE(object.has_value());
    EXPECT_EQ(object->version(), "TLSv1.3");
    EXPECT_EQ(object->selected_alpn_protocol(), "http/1.1");
    EXPECT_FALSE(object->server_side());
    EXPECT_NE(object->native_handle(), nullptr);

    auto context = std::any_cast<ssl::SSLContext>(std::get<std::any>(writer.get_extra_info("sslcontext")));
    EXPECT_EQ(context.native_handle(), cctx.native_handle()) << "the context the connection was made with";
    EXPECT_TRUE(std::holds_alternative<asyncio::SocketAddress>(writer.get_extra_info("peername")));
    EXPECT_FALSE(writer.can_write_eof()) << "TLS has no half-close";
    EXPECT_THROW(writer.write_eof(), std::runtime_error);
    writer.close();
    co_await writer.wait_closed();
}
TEST(SslStreams, ExtraInfoPeercertCipherSslObjectContextAndAlpn) { run_bounded(extra_info()); }

TEST(SslStreams, PlainStreamsHaveNoSslObject) {
    run_bounded([]() -> asyncio::Coroutine<> {
        auto server = co_await asyncio::start_server(nogil_test::echo_lines, "127.0.0.1", 0);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
        EXPECT_FALSE(ssl::ssl_object(writer).has_value());
        EXPECT_TRUE(std::holds_alternative<std::monostate>(writer.get_extra_info("peercert")));
        writer.close();
    }());
}

// --- certificate failures ---------------------------------------------------------------------

asyncio::Coroutine<> expect_verify_failure(std::string server_cert, std::string connect_as, std::string message) {
    const std::size_t fds = nogil_test::open_fd_count();
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = server_context(server_cert)});
    const int port = server.sockets().at(0).port;
    try {
        co_await asyncio::open_connection("127.0.0.1", port, {.ssl = client_context(), .server_hostname = connect_as});
        ADD_FAILURE() << "the handshake succeeded with " << server_cert;
    } catch (const ssl::SSLCertVerificationError& e) {
        EXPECT_EQ(e.verify_message, message);
        EXPECT_EQ(e.reason, "CERTIFICATE_VERIFY_FAILED");
        EXPECT_EQ(std::string(e.what()), "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: " + message);
    }
    // The server keeps serving (a client that does not verify).
    ssl::SSLContext trusting(ssl::PROTOCOL_TLS_CLIENT);
    trusting.check_hostname(false);
    trusting.verify_mode(ssl::CERT_NONE);
    EXPECT_EQ(co_await tls_ask("127.0.0.1", port, {.ssl = trusting}, "still\n"), "still\n");
    server.close();
    co_await server.wait_closed();  // every connection of the server is gone, the failed one too
    EXPECT_EQ(nogil_test::open_fd_count(), fds) << "no socket is left open";
}

TEST(SslStreams, ExpiredCertificate) {
    run_bounded(expect_verify_failure("expired", "localhost", "certificate has expired"));
}
TEST(SslStreams, WrongHostCertificate) {
    run_bounded(expect_verify_failure("wronghost", "localhost",
                                      "Hostname mismatch, certificate is not valid for 'localhost'."));
}
TEST(SslStreams, SelfSignedCertificate) {
    run_bounded(expect_verify_failure("selfsigned", "localhost", "self-signed certificate"));
}

// ssl=true is the default context: the system's CAs, which do not know the test CA.
asyncio::Coroutine<> default_context_rejects_test_ca() {
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = server_context()});
    try {
        co_await asyncio::open_connection("localhost", server.sockets().at(0).port, {.ssl = true});
        ADD_FAILURE() << "the system CAs trusted the test CA";
    } catch (const ssl::SSLCertVerificationError& e) {
        EXPECT_EQ(e.verify_message, "unable to get local issuer certificate");
    }
}
TEST(SslStreams, SslTrueIsTheDefaultContext) { run_bounded(default_context_rejects_test_ca()); }

// A client certificate the server requires (CERT_REQUIRED on the server side).
asyncio::Coroutine<> report_client_cn(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    auto peercert = std::any_cast<ssl::PeerCert>(std::get<std::any>(writer.get_extra_info("peercert")));
    writer.write(peercert.subject.at(0).second + "\n");
    co_await writer.drain();
    co_await reader.read();
    writer.close();
}
asyncio::Coroutine<> client_certificate() {
    auto sctx = server_context();
    sctx.verify_mode(ssl::CERT_REQUIRED);
    sctx.load_verify_locations(cert("ca.pem"));
    auto server = co_await asyncio::start_server(report_client_cn, "127.0.0.1", 0, {.ssl = sctx});
    auto cctx = client_context();
    cctx.load_cert_chain(cert("client.pem"), cert("client.key"));
    auto [reader, writer] = co_await asyncio::open_connection("localhost", server.sockets().at(0).port, {.ssl = cctx});
    EXPECT_EQ(co_await reader.readline(), "nogil client\n");
    writer.close();
    co_await writer.wait_closed();
}
TEST(SslStreams, ServerRequiresAClientCertificate) { run_bounded(client_certificate()); }

// --- argument checks (Python's ValueError / TypeError) ----------------------------------------

asyncio::Coroutine<> argument_checks() {
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0);
    const int port = server.sockets().at(0).port;
    EXPECT_THROW(co_await asyncio::open_connection("127.0.0.1", port, {.server_hostname = "x"}), std::invalid_argument);
    EXPECT_THROW(co_await asyncio::open_connection("127.0.0.1", port, {.ssl_handshake_timeout = 1s}),
                 std::invalid_argument);
    EXPECT_THROW(
        co_await asyncio::open_connection("127.0.0.1", port, {.ssl = client_context(), .ssl_handshake_timeout = -1s}),
        std::invalid_argument);
    EXPECT_THROW(co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = true}), std::invalid_argument);
    EXPECT_THROW(co_await asyncio::open_unix_connection("/nonexistent", {.ssl = client_context()}),
                 std::invalid_argument);
    // check_hostname without a name to check
    EXPECT_THROW(co_await asyncio::open_connection("127.0.0.1", port, {.ssl = client_context(), .server_hostname = ""}),
                 std::invalid_argument);
}
TEST(SslStreams, ArgumentsAreCheckedAsPythonDoes) { run_bounded(argument_checks()); }

// --- garbage, timeouts, cancellation (nothing half-done, nothing leaked) ----------------------

int raw_connect(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "connect failed";
    return fd;
}

/// Reads a raw socket (on a worker thread) until the peer closes; returns what came.
std::string read_until_closed(int fd) {
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    return got;
}

asyncio::Coroutine<> garbage_client_hello() {
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = server_context()});
    const int port = server.sockets().at(0).port;
    const int fd = raw_connect(port);
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string answer = co_await asyncio::to_thread(read_until_closed, fd);
    ::close(fd);
    // OpenSSL answers a plain-HTTP "ClientHello" with an alert record (content type 21) or
    // nothing; either way the connection is closed, and the server serves the next client.
    if (!answer.empty()) {
        EXPECT_EQ(answer[0], '\x15');
    }
    EXPECT_EQ(co_await tls_ask("localhost", port, {.ssl = client_context()}, "next\n"), "next\n");
}
// Pins the transport/layer protocol step 1 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, GarbageInsteadOfClientHelloClosesThatConnectionOnly) { run_bounded(garbage_client_hello()); }

asyncio::Coroutine<> silent_client_times_out() {
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0,
                                                 {.ssl = server_context(), .ssl_handshake_timeout = 200ms});
    const int fd = raw_connect(server.sockets().at(0).port);  // says nothing
    EXPECT_EQ(co_await asyncio::to_thread(read_until_closed, fd), "") << "closed after the handshake timeout";
    ::close(fd);
}
TEST(SslStreams, ServerHandshakeTimeoutClosesASilentClient) { run_bounded(silent_client_times_out()); }

asyncio::Coroutine<> client_handshake_timeout() {
    asyncio::Queue<int> gone_queue;  // outlives the handlers: the test waits for each
    asyncio::Queue<int>* gone = &gone_queue;
    auto server = co_await start_silent(gone);  // plain TCP: never answers
    const std::size_t fds = nogil_test::open_fd_count();
    try {
        co_await asyncio::open_connection(
            "127.0.0.1", server.sockets().at(0).port,
            {.ssl = client_context(), .server_hostname = "localhost", .ssl_handshake_timeout = 200ms});
        ADD_FAILURE() << "the handshake with a silent server succeeded";
    } catch (const nogil::ConnectionAbortedError& e) {
        EXPECT_NE(
            std::string(e.what()).find("SSL handshake is taking longer than 0.2 seconds: aborting the connection"),
            std::string::npos)
            << e.what();
    }
    co_await gone->get();
    EXPECT_EQ(nogil_test::open_fd_count(), fds);
}
// Pins the transport/layer protocol step 5 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, ClientHandshakeTimeoutIsConnectionAbortedError) { run_bounded(client_handshake_timeout()); }

asyncio::Coroutine<> cancel_mid_handshake() {
    asyncio::Queue<int> gone_queue;  // outlives the handlers: the test waits for each
    asyncio::Queue<int>* gone = &gone_queue;
    auto server = co_await start_silent(gone);
    auto ctx = client_context();
    const std::size_t fds = nogil_test::open_fd_count();
    for (int i = 0; i < 5; ++i) {
        EXPECT_THROW(co_await asyncio::wait_for(asyncio::open_connection("127.0.0.1", server.sockets().at(0).port,
                                                                         {.ssl = ctx, .server_hostname = "localhost"}),
                                                50ms),
                     nogil::TimeoutError);
    }
    for (int i = 0; i < 5; ++i) co_await gone->get();
    EXPECT_EQ(nogil_test::open_fd_count(), fds) << "a cancelled handshake closes its socket";
}
// Pins the transport/layer protocol step 5 (nogil/asyncio/detail/transport_layer.hpp) and the
// connection-lost step 3 (src/asyncio/detail/transport.cpp).
TEST(SslStreams, CancelledHandshakeLeavesNothingBehind) { run_bounded(cancel_mid_handshake()); }

asyncio::Coroutine<> cancel_mid_read() {
    auto server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = server_context()});
    auto [reader, writer] =
        co_await asyncio::open_connection("localhost", server.sockets().at(0).port, {.ssl = client_context()});
    EXPECT_THROW(co_await asyncio::wait_for(reader.readline(), 50ms), nogil::TimeoutError);
    writer.write("after\n");  // the stream stays usable
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "after\n");
    writer.close();
    co_await writer.wait_closed();
}
TEST(SslStreams, CancelledReadLeavesTheStreamUsable) { run_bounded(cancel_mid_read()); }

// --- close_notify -----------------------------------------------------------------------------

asyncio::Coroutine<> server_reports_eof(asyncio::StreamReader reader, asyncio::StreamWriter writer,
                                        asyncio::Future<std::string> seen) {
    std::string all = co_await reader.read();  // until the client's close_notify
    seen.set_result(all);
    writer.close();
    co_await writer.wait_closed();
}
asyncio::Coroutine<> close_notify_both_ways() {
    asyncio::Future<std::string> seen;
    auto handler = [seen](asyncio::StreamReader r, asyncio::StreamWriter w) { return server_reports_eof(r, w, seen); };
    auto server = co_await asyncio::start_server(handler, "127.0.0.1", 0, {.ssl = server_context()});
    auto [reader, writer] =
        co_await asyncio::open_connection("localhost", server.sockets().at(0).port, {.ssl = client_context()});
    writer.write("bye");
    writer.close();  // close_notify after the queued bytes
    co_await writer.wait_closed();
    EXPECT_EQ(co_await seen, "bye") << "the server read everything, then EOF";
    EXPECT_EQ(co_await reader.read(), "");
}
// Pins the transport/layer protocol step 4 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, CloseSendsCloseNotifyAndThePeerSeesEof) { run_bounded(close_notify_both_ways()); }

/// A TLS peer on a thread that completes the handshake with blocking OpenSSL calls, then
/// never reads again (so never answers close_notify) until released - or, `hang_up`, closes
/// its socket at once without close_notify.
struct DeafPeer {
    bool hang_up = false;
    int listener = -1;
    int port = 0;
    std::latch release{1};
    std::thread thread;
    explicit DeafPeer(bool hang_up_at_once = false) : hang_up(hang_up_at_once) {
        listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listener, 1);
        socklen_t len = sizeof a;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        thread = std::thread([this, ctx = server_context()] {
            const int fd = ::accept(listener, nullptr, nullptr);
            SSL* s = SSL_new(ctx.native_handle());
            SSL_set_fd(s, fd);
            const bool ok = SSL_accept(s) == 1;
            if (!hang_up) release.wait();
            SSL_free(s);
            ::close(fd);
            EXPECT_TRUE(ok);
        });
    }
    ~DeafPeer() {
        release.count_down();
        thread.join();
        ::close(listener);
    }
};

asyncio::Coroutine<> shutdown_timeout(int port) {
    auto [reader, writer] =
        co_await asyncio::open_connection("localhost", port, {.ssl = client_context(), .ssl_shutdown_timeout = 200ms});
    writer.close();
    co_await writer.wait_closed();  // returns once the timeout aborted the connection
    EXPECT_TRUE(std::holds_alternative<std::monostate>(writer.get_extra_info("socket"))) << "the fd is closed";
}
// Pins the transport/layer protocol step 4 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, ShutdownTimeoutEndsAWaitForAPeerThatNeverAnswers) {
    DeafPeer peer;
    run_bounded(shutdown_timeout(peer.port));
}

asyncio::Coroutine<> eof_without_close_notify(int port) {
    auto [reader, writer] = co_await asyncio::open_connection("localhost", port, {.ssl = client_context()});
    EXPECT_EQ(co_await reader.read(), "") << "a TCP close without close_notify is EOF, as in Python's streams";
    writer.close();
    co_await writer.wait_closed();
}
// Pins the transport/layer protocol step 2 (nogil/asyncio/detail/transport_layer.hpp).
TEST(SslStreams, PeerClosingWithoutCloseNotifyIsEof) {
    DeafPeer peer(true);
    run_bounded(eof_without_close_notify(peer.port));
}

// --- start_tls (STARTTLS) ---------------------------------------------------------------------

asyncio::Coroutine<> starttls_server(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    EXPECT_EQ(co_await reader.readline(), "STARTTLS\n");
    writer.write("OK\n");
    co_await writer.start_tls(server_context());
    EXPECT_TRUE(ssl::ssl_object(writer).has_value());
    EXPECT_TRUE(ssl::ssl_object(writer)->server_side());
    co_await echo_lines(reader, writer);
}
asyncio::Coroutine<> starttls() {
    auto server = co_await asyncio::start_server(starttls_server, "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.sockets().at(0).port);
    EXPECT_FALSE(ssl::ssl_object(writer).has_value());
    writer.write("STARTTLS\n");
    EXPECT_EQ(co_await reader.readline(), "OK\n");
    co_await writer.start_tls(client_context(), {.server_hostname = "localhost"});
    EXPECT_EQ(ssl::ssl_object(writer)->version(), "TLSv1.3");
    writer.write("secret\n");
    EXPECT_EQ(co_await reader.readline(), "secret\n");
    writer.close();
    co_await writer.wait_closed();
    EXPECT_THROW(co_await writer.start_tls(true), std::invalid_argument) << "start_tls needs an SSLContext";
}
TEST(SslStreams, StartTlsUpgradesAPlainConnection) { run_bounded(starttls()); }

// --- unix sockets -----------------------------------------------------------------------------

asyncio::Coroutine<> unix_tls() {
    const std::string path = nogil_test::certs_dir() + "/tls.sock";
    auto server = co_await asyncio::start_unix_server(echo_lines, path, {.ssl = server_context()});
    auto [reader, writer] =
        co_await asyncio::open_unix_connection(path, {.ssl = client_context(), .server_hostname = "localhost"});
    writer.write("unix\n");
    EXPECT_EQ(co_await reader.readline(), "unix\n");
    writer.close();
    co_await writer.wait_closed();
}
TEST(SslStreams, UnixSockets) { run_bounded(unix_tls()); }

}  // namespace
