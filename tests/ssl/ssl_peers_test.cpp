// nogil's TLS streams against real peers: `openssl s_server` / `openssl s_client`, and Python's
// ssl + asyncio (tests/ssl/peers/) both ways. All on 127.0.0.1; every child is started by the
// test, reaped by it, and ends by itself (the peers exit when the connection closes).
// Arguments and options are built in variables: g++ 12 rejects braced lists in co_await expressions.
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"
#include "ssl_testing.hpp"
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace sp = nogil::asyncio::subprocess;
namespace ssl = nogil::ssl;
using nogil_test::cert;
using nogil_test::client_context;
using nogil_test::server_context;

namespace {

/// Answers one line with "nogil: LINE", then closes (close_notify).
asyncio::Coroutine<> answer_once(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    std::string line = co_await reader.readline();
    writer.write("nogil: " + line);
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

// --- our client, their server -----------------------------------------------------------------

asyncio::Coroutine<> client_against_openssl_s_server() {
    // -rev: s_server answers each line reversed; -naccept 1: it exits after our connection.
    // (arguments and options in variables: g++ 12 rejects braced lists in co_await expressions)
    const std::vector<std::string> server_args{
        "s_server", "-accept",  "127.0.0.1:0", "-cert", cert("server.pem"), "-key", cert("server.key"),
        "-rev",     "-naccept", "1",           "-alpn", "http/1.1"};
    const sp::Options server_options{.stdout = sp::PIPE, .stderr = sp::DEVNULL};
    auto server = co_await asyncio::create_subprocess_exec(NOGIL_OPENSSL, server_args, server_options);
    std::string port;
    for (std::string line; !(line = co_await server.stdout->readline()).empty();) {
        if (line.rfind("ACCEPT ", 0) == 0) {
            port = line.substr(line.rfind(':') + 1);
            break;
        }
    }
    CO_ASSERT_TRUE(!port.empty());
    auto ctx = client_context();
    ctx.set_alpn_protocols({"http/1.1"});
    auto [reader, writer] = co_await asyncio::open_connection("localhost", std::stoi(port), {.ssl = ctx});
    writer.write("hello openssl\n");
    EXPECT_EQ(co_await reader.readline(), "lssnepo olleh\n");
    auto object = ssl::ssl_object(writer);
    EXPECT_EQ(object->version(), "TLSv1.3");
    EXPECT_EQ(object->selected_alpn_protocol(), "http/1.1");
    writer.close();
    co_await writer.wait_closed();
    co_await server.stdout->read();
    EXPECT_EQ(co_await server.wait(), 0);
}
TEST(SslPeers, OurClientAgainstOpensslSServer) { run_bounded(client_against_openssl_s_server()); }

asyncio::Coroutine<> client_against_python_server() {
    // (arguments and options in variables: g++ 12 rejects braced lists in co_await expressions)
    const std::vector<std::string> server_args{std::string(NOGIL_SSL_PEERS) + "/py_server.py", cert("server.pem"),
                                               cert("server.key")};
    const sp::Options server_options{.stdout = sp::PIPE};
    auto server = co_await asyncio::create_subprocess_exec(NOGIL_PYTHON3, server_args, server_options);
    const std::string port = co_await server.stdout->readline();
    CO_ASSERT_TRUE(!port.empty());
    auto [reader, writer] = co_await asyncio::open_connection("localhost", std::stoi(port), {.ssl = client_context()});
    for (int i = 0; i < 3; ++i) {
        writer.write("line " + std::to_string(i) + "\n");
        EXPECT_EQ(co_await reader.readline(), "python: line " + std::to_string(i) + "\n");
    }
    writer.close();  // close_notify; Python's server sees EOF, closes and exits
    co_await writer.wait_closed();
    EXPECT_EQ(co_await server.wait(), 0);
}
TEST(SslPeers, OurClientAgainstPythonAsyncioServer) { run_bounded(client_against_python_server()); }

// --- their client, our server -----------------------------------------------------------------

asyncio::Coroutine<> openssl_s_client_against_server() {
    auto sctx = server_context();
    sctx.set_alpn_protocols({"http/1.1"});
    auto server = co_await asyncio::start_server(answer_once, "127.0.0.1", 0, {.ssl = sctx});
    const std::string port = std::to_string(server.sockets().at(0).port);
    // -verify_return_error: s_client fails unless our certificate verifies against the CA for
    // "localhost"; it exits when our server closes the connection.
    // (arguments and options in variables: g++ 12 rejects braced lists in co_await expressions)
    const std::vector<std::string> client_args{
        "s_client",  "-connect", "127.0.0.1:" + port, "-servername",          "localhost", "-verify_hostname",
        "localhost", "-CAfile",  cert("ca.pem"),      "-verify_return_error", "-alpn",     "http/1.1",
        "-quiet"};
    const sp::Options client_options{.stdin = sp::PIPE, .stdout = sp::PIPE, .stderr = sp::DEVNULL};
    auto client = co_await asyncio::create_subprocess_exec(NOGIL_OPENSSL, client_args, client_options);
    client.stdin->write("hello s_client\n");
    EXPECT_EQ(co_await client.stdout->read(), "nogil: hello s_client\n");
    client.stdin->close();
    EXPECT_EQ(co_await client.wait(), 0);
}
TEST(SslPeers, OpensslSClientAgainstOurServer) { run_bounded(openssl_s_client_against_server()); }

asyncio::Coroutine<> python_client_against_server() {
    auto server = co_await asyncio::start_server(answer_once, "127.0.0.1", 0, {.ssl = server_context()});
    // (arguments and options in variables: g++ 12 rejects braced lists in co_await expressions)
    const std::vector<std::string> client_args{std::string(NOGIL_SSL_PEERS) + "/py_client.py",
                                               std::to_string(server.sockets().at(0).port), cert("ca.pem"),
                                               "hello python"};
    const sp::Options client_options{.stdout = sp::PIPE};
    auto client = co_await asyncio::create_subprocess_exec(NOGIL_PYTHON3, client_args, client_options);
    auto [out, err] = co_await client.communicate();
    EXPECT_EQ(out, "nogil: hello python\nTLSv1.3\n");
    EXPECT_EQ(co_await client.wait(), 0);
}
TEST(SslPeers, PythonAsyncioClientAgainstOurServer) { run_bounded(python_client_against_server()); }

}  // namespace
