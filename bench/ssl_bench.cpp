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
// The servers alone (what bench/echo measures): nogil's client drives, in turn, nogil's server on
// its own thread and Python's (bench/python/ssl_echo_server.py, asyncio and uvloop) in a child
// process, and only the server's CPU time is counted (its thread's clock; the child's
// /proc/PID/task/*/schedstat); the servers take turns, pass after pass, best of 5 each:
//   BM_TlsEchoServerSide       server CPU per echoed message, 100 connections x 1 KiB
//   BM_TlsHandshakeServerSide  server CPU per handshake + close_notify
// with "server_cpu_x_asyncio" / "server_cpu_x_uvloop": Python's server CPU over nogil's, and for
// handshakes "max_server_cpu_x_...": Python's server CPU over the server SSL object's share of
// BM_OpensslHandshakeFloor (its "server_cpu_s").
// "max_cpu_x_asyncio" on the floors: the anchor's CPU time over the floor, the ratio an
// implementation that added nothing to OpenSSL (handshakes) or to plain TCP + OpenSSL (echo:
// reported on BM_OpensslEchoFloor, with BM_PlainEcho's figure added) would reach. Run:
//   build/release/bench/nogil_ssl_bench --benchmark_min_time=2
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <openssl/ssl.h>

#include "anchor_json.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace ssl = nogil::ssl;

namespace {

constexpr int conns = 100;
constexpr std::size_t size = 1024;
constexpr int rounds = 20;

/// The certificates' folder, made on first use and removed at exit.
const std::string& cert_dir() {
    struct Dir {
        std::string path;
        Dir() {
            char tmpl[] = "/tmp/nogil-ssl-bench-XXXXXX";
            if (!::mkdtemp(tmpl)) std::abort();
            path = tmpl;
            if (std::system(("sh " NOGIL_SOURCE_DIR "/tests/ssl/make_certs.sh " + path).c_str()) != 0) std::abort();
        }
        ~Dir() { std::filesystem::remove_all(path); }
    };
    static const Dir dir;
    return dir.path;
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
        join(client, server);
    }
    /// Gives both memory BIOs and their roles ("localhost" checked by the client).
    static void join(SSL* c, SSL* s) {
        for (SSL* x : {c, s}) {
            BIO* in = BIO_new(BIO_s_mem());
            BIO* out = BIO_new(BIO_s_mem());
            BIO_set_mem_eof_return(in, -1);
            BIO_set_mem_eof_return(out, -1);
            SSL_set_bio(x, in, out);
        }
        SSL_set_connect_state(c);
        SSL_set_accept_state(s);
        SSL_set_tlsext_host_name(c, "localhost");
        SSL_set1_host(c, "localhost");
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

/// The server's share of BM_OpensslHandshakeFloor (for BM_TlsHandshakeServerSide's bound): CPU
/// seconds per handshake spent in the server SSL object's calls (SSL_new, the handshake, the
/// shutdown, SSL_free), best of 3 passes of 100.
double server_handshake_floor = 0;
double server_handshake_cpu_alone(const ssl::SSLContext& client_ctx, const ssl::SSLContext& server_ctx) {
    double best = 1e9;
    for (int pass = 0; pass < 3; ++pass) {
        double server = 0;
        for (int i = 0; i < 100; ++i) {
            double c0 = process_cpu_seconds();
            SSL* s = SSL_new(server_ctx.native_handle());
            server += process_cpu_seconds() - c0;
            SSL* c = SSL_new(client_ctx.native_handle());
            MemoryPair::join(c, s);
            for (int step = 0; step < 10 && !(SSL_is_init_finished(c) && SSL_is_init_finished(s)); ++step) {
                SSL_do_handshake(c);
                MemoryPair::move(c, s);
                c0 = process_cpu_seconds();
                SSL_do_handshake(s);
                server += process_cpu_seconds() - c0;
                MemoryPair::move(s, c);
            }
            char byte;
            (void)SSL_read(c, &byte, 1);
            SSL_shutdown(c);
            MemoryPair::move(c, s);
            c0 = process_cpu_seconds();
            (void)SSL_read(s, &byte, 1);
            SSL_shutdown(s);
            SSL_free(s);
            server += process_cpu_seconds() - c0;
            SSL_free(c);
        }
        best = std::min(best, server / 100);
    }
    return best;
}

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
    server_handshake_floor = server_handshake_cpu_alone(client_ctx, server_ctx);
    state.counters["server_cpu_s"] = server_handshake_floor;
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

// --- the servers alone ----------------------------------------------------------------------------

/// CPU seconds used so far by every thread of process `pid` (schedstat: nanoseconds on a CPU).
double cpu_seconds_of(pid_t pid) {
    double total = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "schedstat");
        unsigned long long ns = 0;
        if (in >> ns) total += static_cast<double>(ns) * 1e-9;
    }
    return total;
}

/// Python's TLS echo server (`loop`: "asyncio" or "uvloop") in a child process; port() is 0 if it
/// did not start (uvloop missing). Killed, by its PID, when this is destroyed.
class PythonServer {
public:
    explicit PythonServer(const std::string& loop) {
        int out[2];
        if (::pipe(out) != 0) return;
        const std::string script = NOGIL_SOURCE_DIR "/bench/python/ssl_echo_server.py";
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::close(out[1]);
            ::execl("/usr/bin/python3", "python3", script.c_str(), cert_dir().c_str(), loop.c_str(), nullptr);
            ::_exit(127);
        }
        ::close(out[1]);
        if (FILE* f = ::fdopen(out[0], "r")) {
            if (std::fscanf(f, "%d", &port_) != 1) port_ = 0;
            std::fclose(f);
        } else {
            ::close(out[0]);
        }
    }
    ~PythonServer() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }
    PythonServer(const PythonServer&) = delete;
    PythonServer& operator=(const PythonServer&) = delete;
    int port() const { return port_; }
    double cpu_seconds() const { return cpu_seconds_of(pid_); }

private:
    pid_t pid_ = -1;
    int port_ = 0;
};

/// nogil's TLS echo server on its own thread and event loop; cpu_seconds() reads that thread's clock.
class NogilServer {
public:
    NogilServer() : thread_([this] { asyncio::run(serve()); }) { ready_.wait(); }
    ~NogilServer() {
        loop_->call_soon_threadsafe([this] { stop_->set(); });
        thread_.join();
    }
    NogilServer(const NogilServer&) = delete;
    NogilServer& operator=(const NogilServer&) = delete;
    int port() const { return port_; }
    double cpu_seconds() const {
        timespec ts{};
        ::clock_gettime(clock_, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }

private:
    asyncio::Coroutine<> serve() {
        auto ctx = server_context();
        auto server = co_await asyncio::start_server(echo, "127.0.0.1", 0, {.ssl = ctx});
        asyncio::Event stop;
        port_ = server.sockets().at(0).port;
        loop_ = &asyncio::get_running_loop();
        stop_ = &stop;
        ::pthread_getcpuclockid(::pthread_self(), &clock_);
        ready_.count_down();
        co_await stop.wait();
        server.close();
        server.abort_clients();
        co_await server.wait_closed();
    }

    std::latch ready_{1};
    int port_ = 0;
    clockid_t clock_{};
    asyncio::EventLoop* loop_ = nullptr;
    asyncio::Event* stop_ = nullptr;
    std::thread thread_;  // last: starts once the members above exist
};

/// A server under test, as nogil's client sees it, and its best CPU seconds per unit so far.
struct Target {
    std::string name;
    int port;
    std::function<double()> cpu_seconds;
    double best = 1e9;
    std::vector<asyncio::StreamPair> pairs;  // the echo's connections
};

/// One pass of the echo on `t`'s connections (BM_TlsEcho's rounds), or of 100 handshakes +
/// close_notify one at a time; the server's CPU seconds per message / handshake.
asyncio::Coroutine<double> server_pass(Target* t, bool echo_scenario, const ssl::SSLContext* client_ctx) {
    const double c0 = t->cpu_seconds();
    if (echo_scenario) {
        std::vector<asyncio::Coroutine<>> all;
        for (auto& p : t->pairs) all.push_back(echo_rounds(&p, rounds));
        co_await asyncio::gather(std::move(all));
        co_return (t->cpu_seconds() - c0) / (conns * rounds);
    }
    constexpr int handshakes = 100;
    for (int i = 0; i < handshakes; ++i) {
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", t->port,
                                                                  {.ssl = *client_ctx, .server_hostname = "localhost"});
        writer.close();
        co_await writer.wait_closed();
    }
    co_return (t->cpu_seconds() - c0) / handshakes;
}

/// nogil's client drives every target in turn, pass after pass (so that the load of the machine
/// drifts over all of them alike); each keeps its best pass. The first pass is a warm-up.
asyncio::Coroutine<> drive_servers(std::vector<Target>* targets, bool echo_scenario) {
    const auto client_ctx = client_context();
    if (echo_scenario)
        for (auto& t : *targets)
            for (int i = 0; i < conns; ++i)
                t.pairs.push_back(co_await asyncio::open_connection(
                    "127.0.0.1", t.port, {.ssl = client_ctx, .server_hostname = "localhost"}));
    for (int pass = 0; pass < 6; ++pass)
        for (auto& t : *targets) {
            const double cost = co_await server_pass(&t, echo_scenario, &client_ctx);
            if (pass > 0) t.best = std::min(t.best, cost);
        }
    for (auto& t : *targets) {
        for (auto& p : t.pairs) p.writer.close();
        for (auto& p : t.pairs) co_await p.writer.wait_closed();
        t.pairs.clear();
    }
}

/// nogil's server and Python's (asyncio, uvloop) measured together; counters per message / handshake.
void server_side(benchmark::State& state, bool echo_scenario) {
    for (auto _ : state) {
        NogilServer nogil;
        PythonServer python_asyncio("asyncio");
        PythonServer python_uvloop("uvloop");
        std::vector<Target> targets;
        targets.push_back({"nogil", nogil.port(), [&nogil] { return nogil.cpu_seconds(); }});
        for (const PythonServer* py : {&python_asyncio, &python_uvloop})
            if (py->port() != 0)
                targets.push_back({py == &python_asyncio ? "asyncio" : "uvloop", py->port(),
                                   [py] { return py->cpu_seconds(); }});
        asyncio::run(drive_servers(&targets, echo_scenario));
        const double ours = targets[0].best;
        state.counters["server_cpu_s"] = ours;
        for (std::size_t i = 1; i < targets.size(); ++i) {
            const std::string& loop = targets[i].name;
            state.counters["python_" + loop + "_server_cpu_s"] = targets[i].best;
            state.counters["server_cpu_x_" + loop] = targets[i].best / ours;
            if (!echo_scenario && server_handshake_floor > 0)
                state.counters["max_server_cpu_x_" + loop] = targets[i].best / server_handshake_floor;
        }
    }
}

void BM_TlsEchoServerSide(benchmark::State& state) { server_side(state, true); }
BENCHMARK(BM_TlsEchoServerSide)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_TlsHandshakeServerSide(benchmark::State& state) { server_side(state, false); }
BENCHMARK(BM_TlsHandshakeServerSide)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
