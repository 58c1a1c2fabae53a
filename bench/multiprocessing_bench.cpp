// multiprocessing costs: one trivial task through Pool.apply (serial round trip), starting and
// joining a process per start method, and a Pipe round trip to a child.
#include <nogil/multiprocessing.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace mp = nogil::multiprocessing;

namespace {

int identity(int x) { return x; }
void nothing() {}

void echo(mp::Connection conn) {
    for (;;) {
        int v = conn.recv<int>();
        if (v < 0) return;
        conn.send(v);
    }
}

void BM_PoolApplyRoundTrip(benchmark::State& state) {
    mp::Pool pool(1);
    pool.apply(identity, 0);  // the worker is up
    int i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(pool.apply(identity, ++i));
}
BENCHMARK(BM_PoolApplyRoundTrip)->UseRealTime();

void BM_ProcessStartJoin(benchmark::State& state, const char* method) {
    for (auto _ : state) {
        mp::Process p(nothing, mp::ProcessOptions{.start_method = method});
        p.start();
        p.join();
        if (p.exitcode() != 0) state.SkipWithError("child failed");
    }
}
BENCHMARK_CAPTURE(BM_ProcessStartJoin, fork, "fork")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ProcessStartJoin, spawn, "spawn")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ProcessStartJoin, forkserver, "forkserver")->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_PipeRoundTrip(benchmark::State& state) {
    auto [conn, child] = mp::Pipe();
    mp::Process p(echo, child);
    p.start();
    int i = 0;
    for (auto _ : state) {
        conn.send(++i);
        benchmark::DoNotOptimize(conn.recv<int>());
    }
    conn.send(-1);
    p.join();
}
BENCHMARK(BM_PipeRoundTrip)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
