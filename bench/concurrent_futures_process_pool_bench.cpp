// ProcessPoolExecutor benchmarks. Compare in one run (same machine, same load):
//   nogil_concurrent_futures_process_pool_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   python3 bench/python/process_pool_anchor.py
// The anchor runs the same scenarios with CPython's ProcessPoolExecutor (2 workers, fork).
// Figures: the "per_task" / "per_item" counters are seconds per task or item (shown as us/ns).
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>

#include "kernels.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace cf = nogil::concurrent::futures;

namespace {

int trivial(int x) { return x + 1; }

// map's per-item work, and the CPU-bound task of the speedup figure (as concurrent_futures_bench).
using nogil_bench::kernel;
using nogil_bench::small_kernel;

cf::ProcessPoolOptions two_workers() { return cf::ProcessPoolOptions{.max_workers = 2}; }

void per_task(benchmark::State& state, double tasks_per_iteration) {
    state.counters["per_task"] = benchmark::Counter(static_cast<double>(state.iterations()) * tasks_per_iteration,
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One task submitted and awaited at a time (Python anchor: 310 us).
void BM_ProcessPool_SerialRoundTrip(benchmark::State& state) {
    cf::ProcessPoolExecutor pool(two_workers());
    pool.submit(trivial, 0).result();  // workers started
    int i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(pool.submit(trivial, ++i).result());
    per_task(state, 1);
}
BENCHMARK(BM_ProcessPool_SerialRoundTrip)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The same loop, each round trip timed: on a 2-core machine shared with other work the times are
// bimodal (a fast mode when a core is free for the pool's threads, a slow one when the caller's
// spin in result() holds the only free core), which a mean hides. Counters: p10 / p50 / p90.
void BM_ProcessPool_SerialRoundTripPercentiles(benchmark::State& state) {
    cf::ProcessPoolExecutor pool(two_workers());
    pool.submit(trivial, 0).result();
    std::vector<double> seconds;
    int i = 0;
    for (auto _ : state) {
        auto start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(pool.submit(trivial, ++i).result());
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    auto at = [&](double q) { return seconds[static_cast<std::size_t>(q * static_cast<double>(seconds.size() - 1))]; };
    if (!seconds.empty()) {
        state.counters["p10"] = at(0.1);
        state.counters["p50"] = at(0.5);
        state.counters["p90"] = at(0.9);
    }
}
BENCHMARK(BM_ProcessPool_SerialRoundTripPercentiles)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The same with an argument of state.range(0) bytes coming back as its length: 4 KiB travels in
// the shared ring, 1 MiB (above a quarter of the ring) on the socket behind a ring marker.
std::size_t byte_count(std::string s) { return s.size(); }
void BM_ProcessPool_SerialRoundTripBytes(benchmark::State& state) {
    cf::ProcessPoolExecutor pool(two_workers());
    pool.submit(trivial, 0).result();
    const std::string arg(static_cast<std::size_t>(state.range(0)), 'x');
    for (auto _ : state) benchmark::DoNotOptimize(pool.submit(byte_count, arg).result());
    per_task(state, 1);
}
BENCHMARK(BM_ProcessPool_SerialRoundTripBytes)->Arg(4096)->Arg(1 << 20)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The floor under any pipe-based round trip on this machine: one byte to a child process and
// back through two pipes, blocking reads (what the kernel's wake-ups cost, with no pool at all).
void BM_RawPipePingPong(benchmark::State& state) {
    int to_child[2], to_parent[2];
    if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) {
        state.SkipWithError("pipe() failed");
        return;
    }
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(to_child[1]);  // so that the parent's close is an end of file here
        ::close(to_parent[0]);
        char c;
        while (::read(to_child[0], &c, 1) == 1 && ::write(to_parent[1], &c, 1) == 1) {
        }
        ::_exit(0);
    }
    char c = 'x';
    for (auto _ : state) {
        if (::write(to_child[1], &c, 1) != 1 || ::read(to_parent[0], &c, 1) != 1) state.SkipWithError("pipe I/O failed");
    }
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);  // the child sees EOF
    ::waitpid(child, nullptr, 0);
    per_task(state, 1);
}
BENCHMARK(BM_RawPipePingPong)->UseRealTime()->Unit(benchmark::kMicrosecond);

// 20,000 tasks submitted at once, then every result collected (Python anchor: 119 us per task).
void BM_ProcessPool_Burst20k(benchmark::State& state) {
    constexpr int n = 20'000;
    cf::ProcessPoolExecutor pool(two_workers());
    pool.submit(trivial, 0).result();
    std::vector<cf::Future<int>> fs;
    fs.reserve(n);
    for (auto _ : state) {
        fs.clear();
        for (int i = 0; i < n; ++i) fs.push_back(pool.submit(trivial, i));
        long sum = 0;
        for (auto& f : fs) sum += f.result();
        benchmark::DoNotOptimize(sum);
    }
    per_task(state, n);
}
BENCHMARK(BM_ProcessPool_Burst20k)->UseRealTime()->Unit(benchmark::kMillisecond);

constexpr int kMapItems = 100'000;

std::vector<std::uint64_t> map_items() {
    std::vector<std::uint64_t> items(kMapItems);
    std::iota(items.begin(), items.end(), 1);
    return items;
}

// map(trivial, 100,000 items, chunksize=1000) (Python anchor: 1.0 us per item).
void BM_ProcessPool_MapTrivialChunk1000(benchmark::State& state) {
    cf::ProcessPoolExecutor pool(two_workers());
    pool.submit(trivial, 0).result();
    std::vector<int> items(kMapItems);
    std::iota(items.begin(), items.end(), 0);
    for (auto _ : state) {
        long sum = 0;
        for (int r : pool.map(trivial, items, cf::MapOptions{.chunksize = 1000})) sum += r;
        benchmark::DoNotOptimize(sum);
    }
    per_task(state, kMapItems);
}
BENCHMARK(BM_ProcessPool_MapTrivialChunk1000)->UseRealTime()->Unit(benchmark::kMillisecond);

// map(small_kernel, 100,000 items, chunksize=1000) on 2 workers...
void BM_ProcessPool_MapKernelChunk1000(benchmark::State& state) {
    cf::ProcessPoolExecutor pool(two_workers());
    pool.submit(trivial, 0).result();
    auto items = map_items();
    for (auto _ : state) {
        std::uint64_t acc = 0;
        for (auto r : pool.map(small_kernel, items, cf::MapOptions{.chunksize = 1000})) acc ^= r;
        benchmark::DoNotOptimize(acc);
    }
    per_task(state, kMapItems);
}
BENCHMARK(BM_ProcessPool_MapKernelChunk1000)->UseRealTime()->Unit(benchmark::kMillisecond);

// ...against the same loop run in this process (the "within 2x" baseline).
void BM_InProcess_LoopKernel(benchmark::State& state) {
    auto items = map_items();
    for (auto _ : state) {
        std::vector<std::uint64_t> out;
        out.reserve(items.size());
        for (auto x : items) out.push_back(small_kernel(x));
        std::uint64_t acc = 0;
        for (auto r : out) acc ^= r;
        benchmark::DoNotOptimize(acc);
    }
    per_task(state, kMapItems);
}
BENCHMARK(BM_InProcess_LoopKernel)->UseRealTime()->Unit(benchmark::kMillisecond);

// 16 CPU-bound kernel calls on 1 and on 2 worker processes: the speedup figure.
void BM_ProcessPool_Kernel16(benchmark::State& state) {
    cf::ProcessPoolExecutor pool(cf::ProcessPoolOptions{.max_workers = static_cast<int>(state.range(0))});
    pool.submit(trivial, 0).result();
    for (auto _ : state) {
        std::vector<cf::Future<std::uint64_t>> fs;
        for (std::uint64_t i = 0; i < 16; ++i) fs.push_back(pool.submit(kernel, i));
        std::uint64_t acc = 0;
        for (auto& f : fs) acc ^= f.result();
        benchmark::DoNotOptimize(acc);
    }
}
BENCHMARK(BM_ProcessPool_Kernel16)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// Worker start-up per start method: a 1-worker pool made, one trivial task, shut down.
void BM_ProcessPool_StartUp(benchmark::State& state, const char* method) {
    cf::ProcessPoolExecutor(cf::ProcessPoolOptions{.max_workers = 1, .start_method = method})
        .submit(trivial, 0)
        .result();  // the fork server (if any) is running before timing
    for (auto _ : state) {
        cf::ProcessPoolExecutor pool(cf::ProcessPoolOptions{.max_workers = 1, .start_method = method});
        benchmark::DoNotOptimize(pool.submit(trivial, 1).result());
    }
}
BENCHMARK_CAPTURE(BM_ProcessPool_StartUp, fork, "fork")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ProcessPool_StartUp, spawn, "spawn")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ProcessPool_StartUp, forkserver, "forkserver")->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
