// multiprocessing costs: one trivial task through Pool.apply (serial round trip), a burst of
// 1,000 apply_async, a map of 1,000 chunks, starting and
// joining a process per start method, a Pipe round trip to a child, and a manager dict's
// setitem + getitem, reported next to CPython's Manager().dict() measured in the same run
// (bench/python/multiprocessing_anchor.py; NOGIL_BENCH_NO_ANCHOR=1 skips Python).
//   cmake --preset release -DNOGIL_BUILD_BENCH=ON && cmake --build --preset release --target nogil_multiprocessing_bench
//   build/release/bench/nogil_multiprocessing_bench --benchmark_filter=Manager
#include <nogil/multiprocessing.hpp>

#include "anchor_json.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

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

// 1,000 apply_async calls submitted at once, then collected: the submit path and the manager's
// dispatch and answer paths, without a round trip's wait between calls.
void BM_PoolApplyAsyncBurst(benchmark::State& state) {
    mp::Pool pool(2);
    pool.apply(identity, 0);
    std::vector<mp::AsyncResult<int>> results;
    results.reserve(1000);
    for (auto _ : state) {
        for (int i = 0; i < 1000; ++i) results.push_back(pool.apply_async(identity, i));
        for (auto& r : results) benchmark::DoNotOptimize(r.get());
        results.clear();
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_PoolApplyAsyncBurst)->UseRealTime()->Unit(benchmark::kMillisecond);

// map of 10,000 items in chunks of 10: 1,000 chunks, each a task.
void BM_PoolMapChunks(benchmark::State& state) {
    mp::Pool pool(2);
    pool.apply(identity, 0);
    std::vector<int> items(10000);
    for (int i = 0; i < 10000; ++i) items[static_cast<std::size_t>(i)] = i;
    for (auto _ : state) benchmark::DoNotOptimize(pool.map(identity, items, 10));
}
BENCHMARK(BM_PoolMapChunks)->UseRealTime()->Unit(benchmark::kMillisecond);

// Runs in the worker: blocks until the pool is terminated (its end of the pipe stays open).
int block_on(mp::Connection conn) { return conn.recv<int>(); }

// The submit path alone: the pool's one worker is stuck in a call, so every call submitted waits
// in the pool (no dispatch, no answer): apply_async's, and map_async's ten chunks of one item
// (each with its chunk's label). terminate() fails them all at the end.
void BM_PoolSubmitQueued(benchmark::State& state, bool map) {
    auto [ours, theirs] = mp::Pipe();
    mp::Pool pool(1);
    pool.apply(identity, 0);
    auto stuck = pool.apply_async(block_on, theirs);
    std::vector<int> ten{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    std::vector<mp::AsyncResult<int>> calls;
    std::vector<mp::AsyncResult<std::vector<int>>> maps;
    for (auto _ : state) {
        if (map)
            maps.push_back(pool.map_async(identity, ten, 1));
        else
            calls.push_back(pool.apply_async(identity, 1));
    }
    state.SetItemsProcessed(state.iterations() * (map ? 10 : 1));
    pool.terminate();
    pool.join();
}
BENCHMARK_CAPTURE(BM_PoolSubmitQueued, apply_async, false)->Iterations(50000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PoolSubmitQueued, map_async_10_chunks, true)->Iterations(10000)->Unit(benchmark::kMicrosecond);

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

const std::map<std::string, double>& anchor() {
    static const auto figures =
        std::getenv("NOGIL_BENCH_NO_ANCHOR")
            ? std::map<std::string, double>{}
            : nogil_bench::run_anchor("cd " NOGIL_SOURCE_DIR "/bench/python && /usr/bin/python3 multiprocessing_anchor.py --json 2>/dev/null");
    return figures;
}

// One d[1] = i and one d[1] on a manager dict: two round trips to the server process. Counters:
// Python's time for the same pair ("python_us") and how many times faster we are ("x_faster").
void BM_ManagerDictSetGet(benchmark::State& state) {
    const auto& python = anchor();  // before the manager: the anchor runs alone
    auto manager = mp::Manager();
    auto d = manager.dict<int, int>();
    d.setitem(0, 0);  // this thread's connection is up
    int i = 0;
    for (auto _ : state) {
        d.setitem(1, ++i);
        benchmark::DoNotOptimize(d.getitem(1));
    }
    if (auto it = python.find("manager_dict_set_get"); it != python.end()) {
        state.counters["python_us"] = it->second * 1e6;
        state.counters["x_faster"] =
            benchmark::Counter(it->second * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    }
}
BENCHMARK(BM_ManagerDictSetGet)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
