// TLS on asyncio streams (nogil::ssl) against Python's asyncio and uvloop with ssl, measured in
// the same run: bench/python/ssl_anchor.py runs the same two scenarios, client and server in one
// event loop as here, with the same certificates (made by tests/ssl/make_certs.sh at start-up):
//   BM_TlsEcho       100 TLS connections (made before timing), each echoing 1 KiB messages;
//                    time per message
//   BM_TlsHandshake  connect + TLS 1.3 handshake (ECDSA P-256) + close_notify, one at a time
// Each reports the anchors' seconds ("python_asyncio", "python_uvloop") and the ratios
// ("x_asyncio", "x_uvloop"; > 1: nogil is faster), wall-clock, and the same ratios of the
// process's CPU time per message / handshake ("cpu_x_asyncio", "cpu_x_uvloop"; client and server
// share one thread on both sides, so CPU time is the fair measure on a loaded machine). Run:
//   build/release/bench/nogil_ssl_bench --benchmark_min_time=2
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <unistd.h>

#include <benchmark/benchmark.h>

#include "anchor_json.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
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

}  // namespace

BENCHMARK_MAIN();
