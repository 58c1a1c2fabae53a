// TLS on asyncio streams (nogil::ssl) against Python's asyncio and uvloop with ssl, measured in
// the same run: bench/python/ssl_anchor.py runs the same two scenarios, client and server in one
// event loop as here, with the same certificates (made by tests/ssl/make_certs.sh at start-up):
//   BM_TlsEcho       100 TLS connections (made before timing), each echoing 1 KiB messages;
//                    time per message
//   BM_TlsHandshake  connect + TLS 1.3 handshake (ECDSA P-256) + close_notify, one at a time
// Each reports the anchors' seconds ("python_asyncio", "python_uvloop") and the ratios
// ("x_asyncio", "x_uvloop"; > 1: nogil is faster), wall-clock, and the same ratios of the
// process's CPU time per message / handshake ("cpu_x_asyncio", "cpu_x_uvloop"; client and server
// share one thread on both sides, so CPU time is the fair measure on a loaded machine).
// The floors, to say what ratio is possible at all (docs/ssl.md, "Performance"):
//   BM_OpensslHandshakeFloor  the same handshake + close_notify done by OpenSSL alone, client and
//                             server SSL objects over memory BIOs in one thread: no sockets, no
//                             event loop. Nothing that uses OpenSSL can do a handshake for less.
//   BM_OpensslEchoFloor       OpenSSL's record work of one echoed 1 KiB message (SSL_write,
//                             SSL_read on each side) over memory BIOs, 100 connections in turn.
//   BM_PlainEcho              BM_TlsEcho's shape on nogil's plain TCP streams: the loop and the
//                             kernel's part of a message.
// "max_cpu_x_asyncio" on the floors: the anchor's CPU time over the floor, the ratio an
// implementation that added nothing to OpenSSL (handshakes) or to plain TCP + OpenSSL (echo:
// reported on BM_OpensslEchoFloor, with BM_PlainEcho's figure added) would reach. Run:
//   build/release/bench/nogil_ssl_bench --benchmark_min_time=2
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <unistd.h>

#include <benchmark/benchmark.h>
#include <openssl/ssl.h>

#include "anchor_json.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace ssl = nogil::ssl;

namespace {

constexpr int conns = 100;
constexpr std::size_t size = 1024;
constexpr int rounds = 20;

const std::string& cert_dir() {
    static const std::string dir = [] {
        char tmpl[] = "/tmp/nogil-ssl-bench-XXXXXX";
        if (!::mkdtemp(tmpl)) std::abort();
        const std::string d = tmpl;
        if (std::system(("sh " NOGIL_SOURCE_DIR "/tests/ssl/make_certs.sh " + d).c_str()) != 0) std::abort();
        return d;
    }();
    return dir;
}

/// The anchor's figures (seconds), read once from its JSON line: {"key": number, ...}.
std::map<std::string, double>& anchor() {
    static std::map<std::string, double> figures = [] {
        if (std::getenv("NOGIL_SSL_BENCH_NO_ANCHOR")) return std::map<std::string, double>{};  // profiling nogil alone
        return nogil_bench::run_anchor("/usr/bin/python3 " NOGIL_SOURCE_DIR "/bench/python/ssl_anchor.py " + cert_dir() +
                                       " 2>/dev/null");
    }();
    return figures;
}

/// Wall-clock and process CPU seconds, per message or handshake.
struct Cost {
    double wall = 0, cpu = 0;
};

double process_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void compare(benchmark::State& state, const std::string& what, Cost ours) {
    for (const char* loop : {"asyncio", "uvloop"}) {
        auto wall = anchor().find(std::string(loop) + "_" + what + "_s");
        auto cpu = anchor().find(std::string(loop) + "_" + what + "_cpu_s");
        if (wall == anchor().end() || cpu == anchor().end() || ours.wall <= 0 || ours.cpu <= 0) continue;
        state.counters[std::string("python_") + loop] = wall->second;
        state.counters[std::string("x_") + loop] = wall->second / ours.wall;
        state.counters[std::string("cpu_x_") + loop] = cpu->second / ours.cpu;
    }
}

ssl::SSLContext server_context() {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_SERVER);
    ctx.load_cert_chain(cert_dir() + "/server.pem", cert_dir() + "/server.key");
    return ctx;
}

ssl::SSLContext client_context() {
    return ssl::create_default_context(ssl::Purpose::SERVER_AUTH, cert_dir() + "/ca.pem");
}

asyncio::Coroutine<> echo(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (std::string data; !(data = co_await reader.read(65536)).empty();) {
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const nogil::OSError&) {
    }
    writer.close();
}

asyncio::Coroutine<> echo_rounds(asyncio::StreamPair* pair, int n) {
    const std::string message(size, 'x');
    for (int i = 0; i < n; ++i) {
        pair->writer.write(message);
        co_await pair->reader.readexactly(size);
    }
}

asyncio::Coroutine<> tls_echo(benchmark::State* state) {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    auto server = co_await asyncio::start_server(echo, "127.0.0.1", 0, {.ssl = server_ctx});
    const int port = server.sockets().at(0).port;
    std::vector<asyncio::StreamPair> pairs;
    for (int i = 0; i < conns; ++i)
        pairs.push_back(
            co_await asyncio::open_connection("127.0.0.1", port, {.ssl = client_ctx, .server_hostname = "localhost"}));
    Cost total;
    std::int64_t messages = 0;
    for (auto _ : *state) {
        std::vector<asyncio::Coroutine<>> all;
        for (auto& p : pairs) all.push_back(echo_rounds(&p, rounds));
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = process_cpu_seconds();
        co_await asyncio::gather(std::move(all));
        total.wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        total.cpu += process_cpu_seconds() - c0;
        messages += conns * rounds;
    }
    state->SetItemsProcessed(messages);
    compare(*state, "echo", {total.wall / static_cast<double>(messages), total.cpu / static_cast<double>(messages)});
    for (auto& p : pairs) p.writer.close();
    server.close();
    server.abort_clients();
    co_await server.wait_closed();
}

void BM_TlsEcho(benchmark::State& state) {
    anchor();  // the Python runs first, alone
    asyncio::run(tls_echo(&state));
}
BENCHMARK(BM_TlsEcho)->UseRealTime()->Unit(benchmark::kMicrosecond);

asyncio::Coroutine<> tls_handshakes(benchmark::State* state) {
    auto server_ctx = server_context();
    auto client_ctx = client_context();
    auto server = co_await asyncio::start_server(echo, "127.0.0.1", 0, {.ssl = server_ctx});
    const int port = server.sockets().at(0).port;
    Cost total;
    std::int64_t handshakes = 0;
    for (auto _ : *state) {
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = process_cpu_seconds();
        auto [reader, writer] =
            co_await asyncio::open_connection("127.0.0.1", port, {.ssl = client_ctx, .server_hostname = "localhost"});
        writer.close();
        co_await writer.wait_closed();
        total.wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        total.cpu += process_cpu_seconds() - c0;
        ++handshakes;
    }
    state->SetItemsProcessed(handshakes);
    compare(*state, "handshake",
            {total.wall / static_cast<double>(handshakes), total.cpu / static_cast<double>(handshakes)});
    server.close();
    co_await server.wait_closed();
}

void BM_TlsHandshake(benchmark::State& state) {
    anchor();
    asyncio::run(tls_handshakes(&state));
}
BENCHMARK(BM_TlsHandshake)->UseRealTime()->Unit(benchmark::kMicrosecond);

// --- the floors ---------------------------------------------------------------------------------

/// A client and a server SSL object joined by memory BIOs, configured as nogil's connections
/// are (SNI and the checked name "localhost"); pump() moves what each wrote to the other.
struct MemoryPair {
    SSL* client;
    SSL* server;
    MemoryPair(const ssl::SSLContext& cctx, const ssl::SSLContext& sctx)
        : client(SSL_new(cctx.native_handle())), server(SSL_new(sctx.native_handle())) {
        for (SSL* s : {client, server}) {
            BIO* in = BIO_new(BIO_s_mem());
            BIO* out = BIO_new(BIO_s_mem());
            BIO_set_mem_eof_return(in, -1);
            BIO_set_mem_eof_return(out, -1);
            SSL_set_bio(s, in, out);
        }
        SSL_set_connect_state(client);
        SSL_set_accept_state(server);
        SSL_set_tlsext_host_name(client, "localhost");
        SSL_set1_host(client, "localhost");
    }
    ~MemoryPair() {
        SSL_free(client);
        SSL_free(server);
    }
    MemoryPair(const MemoryPair&) = delete;
    MemoryPair& operator=(const MemoryPair&) = delete;
    static bool move(SSL* from, SSL* to) {
        char* data = nullptr;
        const long n = BIO_get_mem_data(SSL_get_wbio(from), &data);
        if (n <= 0) return false;
        BIO_write(SSL_get_rbio(to), data, static_cast<int>(n));
        (void)BIO_reset(SSL_get_wbio(from));
        return true;
    }
    bool pump() {
        const bool a = move(client, server);
        const bool b = move(server, client);
        return a || b;
    }
    void handshake() {
        for (;;) {
            const int c = SSL_do_handshake(client);
            const int s = SSL_do_handshake(server);
            const bool moved = pump();
            if (c == 1 && s == 1 && !moved) break;
            if (!moved && (c != 1 || s != 1)) std::abort();  // stuck: a configuration error
        }
        char byte;
        (void)SSL_read(client, &byte, 1);  // the server's session tickets (TLS 1.3), as a stream reads them
    }
};

void BM_OpensslHandshakeFloor(benchmark::State& state) {
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    double cpu = 0;
    std::int64_t handshakes = 0;
    for (auto _ : state) {
        const double c0 = process_cpu_seconds();
        {
            MemoryPair pair(client_ctx, server_ctx);
            pair.handshake();
            SSL_shutdown(pair.client);
            pair.pump();
            SSL_shutdown(pair.server);
            pair.pump();
            SSL_shutdown(pair.client);
        }
        cpu += process_cpu_seconds() - c0;
        ++handshakes;
    }
    state.SetItemsProcessed(handshakes);
    const double ours = cpu / static_cast<double>(handshakes);
    for (const char* loop : {"asyncio", "uvloop"})
        if (auto it = anchor().find(std::string(loop) + "_handshake_cpu_s"); it != anchor().end() && ours > 0)
            state.counters[std::string("max_cpu_x_") + loop] = it->second / ours;
}
BENCHMARK(BM_OpensslHandshakeFloor)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// BM_PlainEcho's CPU seconds per message, for BM_OpensslEchoFloor's bound (0 until it ran).
double plain_echo_cpu = 0;

asyncio::Coroutine<> plain_echo(benchmark::State* state) {
    auto server = co_await asyncio::start_server(echo, "127.0.0.1", 0);
    const int port = server.sockets().at(0).port;
    std::vector<asyncio::StreamPair> pairs;
    for (int i = 0; i < conns; ++i) pairs.push_back(co_await asyncio::open_connection("127.0.0.1", port));
    double cpu = 0;
    std::int64_t messages = 0;
    for (auto _ : *state) {
        std::vector<asyncio::Coroutine<>> all;
        for (auto& p : pairs) all.push_back(echo_rounds(&p, rounds));
        const double c0 = process_cpu_seconds();
        co_await asyncio::gather(std::move(all));
        cpu += process_cpu_seconds() - c0;
        messages += conns * rounds;
    }
    state->SetItemsProcessed(messages);
    plain_echo_cpu = cpu / static_cast<double>(messages);
    state->counters["cpu_s"] = plain_echo_cpu;
    for (auto& p : pairs) p.writer.close();
    server.close();
    server.abort_clients();
    co_await server.wait_closed();
}

void BM_PlainEcho(benchmark::State& state) { asyncio::run(plain_echo(&state)); }
BENCHMARK(BM_PlainEcho)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_OpensslEchoFloor(benchmark::State& state) {
    // As many connections as BM_TlsEcho, used in turn: 200 SSL objects' keys and buffers do
    // not stay in the cache as one pair's would.
    const auto server_ctx = server_context();
    const auto client_ctx = client_context();
    std::vector<std::unique_ptr<MemoryPair>> pairs;
    for (int i = 0; i < conns; ++i) {
        pairs.push_back(std::make_unique<MemoryPair>(client_ctx, server_ctx));
        pairs.back()->handshake();
    }
    const std::string message(size, 'x');
    std::string buf(16 * 1024, '\0');
    double cpu = 0;
    std::int64_t messages = 0;
    for (auto _ : state) {
        const double c0 = process_cpu_seconds();
        for (int round = 0; round < rounds; ++round) {
            for (auto& pair : pairs) {
                SSL_write(pair->client, message.data(), static_cast<int>(size));
                pair->pump();
                const int n = SSL_read(pair->server, buf.data(), static_cast<int>(buf.size()));
                SSL_write(pair->server, buf.data(), n);
                pair->pump();
                if (SSL_read(pair->client, buf.data(), static_cast<int>(buf.size())) != static_cast<int>(size))
                    std::abort();
            }
        }
        cpu += process_cpu_seconds() - c0;
        messages += conns * rounds;
    }
    state.SetItemsProcessed(messages);
    const double ours = cpu / static_cast<double>(messages);
    state.counters["cpu_s"] = ours;
    for (const char* loop : {"asyncio", "uvloop"})
        if (auto it = anchor().find(std::string(loop) + "_echo_cpu_s"); it != anchor().end() && plain_echo_cpu > 0)
            state.counters[std::string("max_cpu_x_") + loop] = it->second / (ours + plain_echo_cpu);
}
BENCHMARK(BM_OpensslEchoFloor)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
