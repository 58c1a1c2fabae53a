// libFuzzer target: the server side of a TLS connection (nogil::ssl's SSLProtocol on an
// FdTransport) fed garbage and truncated records through a real socketpair, the peer's end then
// closed.
//
// Input layout: [mode] payload...
//   mode % 3 == 0: the payload alone (garbage instead of a ClientHello);
//   mode % 3 == 1: a genuine ClientHello, then the payload (garbage records after a valid start);
//   mode % 3 == 2: a genuine ClientHello cut after (payload[0] * 256 + payload[1]) % its size
//                  bytes, then the rest of the payload (a truncated record).
// Invariants checked (a violation aborts, which libFuzzer reports):
//   - the connection always ends: the handshake fails (never succeeds without a real client),
//     the reader sees the error or EOF, wait_closed() returns;
//   - no fd is left open after each input (the transport's fd closed exactly once);
//   - nothing leaks, no memory error (ASan/UBSan/LeakSanitizer).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>
#include <nogil/ssl.hpp>

#include "asyncio/detail/tls_start.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace asyncio = nogil::asyncio;
namespace ssl = nogil::ssl;

namespace {

std::optional<ssl::SSLContext> server_ctx;
std::string hello;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

/// A server context with a self-signed certificate made in memory.
void make_server_context() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    server_ctx.emplace(ssl::PROTOCOL_TLS_SERVER);
    check(SSL_CTX_use_certificate(server_ctx->native_handle(), cert) == 1, "certificate");
    check(SSL_CTX_use_PrivateKey(server_ctx->native_handle(), key) == 1, "key");
    X509_free(cert);
    EVP_PKEY_free(key);
}

/// A genuine ClientHello from an OpenSSL client on memory BIOs.
std::string make_client_hello() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* s = SSL_new(ctx);
    SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(s);
    SSL_set_tlsext_host_name(s, "localhost");
    SSL_do_handshake(s);
    char* data = nullptr;
    const long n = BIO_get_mem_data(SSL_get_wbio(s), &data);
    std::string out(data, static_cast<std::size_t>(n));
    SSL_free(s);
    SSL_CTX_free(ctx);
    return out;
}

asyncio::Coroutine<> serve_one(std::string input) {
    int sv[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    auto pair = asyncio::connect_fd(sv[0]);
    asyncio::detail::FdTransport& t = pair.writer.transport();
    t.set_server_side(true);
    const auto params = asyncio::detail::make_tls_params(true, "", std::chrono::seconds(5), std::chrono::seconds(1));
    asyncio::Future<> handshake = asyncio::detail::attach_layer(t, *server_ctx->tls_factory(), params);
    // The peer: everything at once (inputs are small; the socket buffer takes them), then EOF.
    for (std::size_t off = 0; off < input.size();) {
        const ssize_t n = ::write(sv[1], input.data() + off, input.size() - off);
        check(n > 0, "write to the socketpair");
        off += static_cast<std::size_t>(n);
    }
    ::shutdown(sv[1], SHUT_WR);
    bool handshake_done = false;
    try {
        co_await asyncio::detail::wait_handshake(asyncio::detail::Ref<asyncio::detail::FdTransport>(&t), handshake);
        handshake_done = true;
        co_await pair.reader.read();
    } catch (const std::exception&) {  // SSLError, ConnectionResetError...
    }
    check(!handshake_done, "a handshake succeeded without a client");
    pair.writer.close();
    try {
        co_await pair.writer.wait_closed();
    } catch (const std::exception&) {
    }
    ::close(sv[1]);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    make_server_context();
    hello = make_client_hello();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string input;
    switch (data[0] % 3) {
        case 0: input = payload; break;
        case 1: input = hello + payload; break;
        case 2: {
            const std::size_t cut = payload.size() >= 2
                                        ? (static_cast<std::uint8_t>(payload[0]) * 256u + static_cast<std::uint8_t>(payload[1])) % hello.size()
                                        : hello.size() / 2;
            input = hello.substr(0, cut) + payload.substr(payload.size() >= 2 ? 2 : 0);
            break;
        }
    }
    const std::size_t fds = open_fds();
    asyncio::run(serve_one(std::move(input)));
    check(open_fds() == fds, "an fd was left open");
    return 0;
}
