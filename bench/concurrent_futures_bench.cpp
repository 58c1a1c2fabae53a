// concurrent.futures benchmarks. Compare in one run (same machine, same load):
//   nogil_concurrent_futures_bench --benchmark_min_time=1 --benchmark_repetitions=5
// The Python anchor is bench/python/concurrent_futures_anchor.py (same workloads).
#include <nogil/concurrent/futures.hpp>

#include "kernels.hpp"

#include <benchmark/benchmark.h>

#include <malloc.h>
#include <pthread.h>
#include <sched.h>

#include <cstdint>
#include <thread>
#include <vector>

#ifdef NOGIL_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif

namespace cf = nogil::concurrent::futures;

namespace {

constexpr int kTrivialTasks = 200'000;

int trivial(int x) { return x + 1; }

// Submit 200,000 trivial calls to ThreadPoolExecutor(2), then collect every result (the issue's
// throughput figure; the target is at least BM_TBB_TaskGroup_RunWait in the same run).
void BM_ThreadPool_SubmitCollect(benchmark::State& state) {
    cf::ThreadPoolExecutor pool(2);
    std::vector<cf::Future<int>> fs;
    fs.reserve(kTrivialTasks);
    for (auto _ : state) {
        fs.clear();
        for (int i = 0; i < kTrivialTasks; ++i) fs.push_back(pool.submit(trivial, i));
        long sum = 0;
        for (auto& f : fs) sum += f.result();
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * kTrivialTasks);
}
BENCHMARK(BM_ThreadPool_SubmitCollect)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef NOGIL_HAVE_TBB
// The baseline: oneTBB's task_group in an arena of 2 threads, each call writing its result slot.
void BM_TBB_TaskGroup_RunWait(benchmark::State& state) {
    tbb::task_arena arena(2);
    std::vector<int> results(kTrivialTasks);
    for (auto _ : state) {
        arena.execute([&] {
            tbb::task_group group;
            for (int i = 0; i < kTrivialTasks; ++i) group.run([&results, i] { results[static_cast<std::size_t>(i)] = trivial(i); });
            group.wait();
        });
        long sum = 0;
        for (int r : results) sum += r;
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * kTrivialTasks);
}
BENCHMARK(BM_TBB_TaskGroup_RunWait)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

// A fixed integer kernel (xorshift rounds): pure CPU, no memory traffic.
using nogil_bench::kernel;
constexpr int kKernelTasks = 16;

// 16 kernel calls on n raw std::threads (static split): the ceiling for the pool.
void BM_Kernel16_RawThreads(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        std::vector<std::uint64_t> out(kKernelTasks);
        std::vector<std::thread> ts;
        for (int t = 0; t < n; ++t) {
            ts.emplace_back([&, t] {
                for (int i = t; i < kKernelTasks; i += n) out[static_cast<std::size_t>(i)] = kernel(static_cast<std::uint64_t>(i));
            });
        }
        for (auto& t : ts) t.join();
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_Kernel16_RawThreads)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same 16 calls submitted to ThreadPoolExecutor(n), results collected.
void BM_Kernel16_ThreadPool(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        cf::ThreadPoolExecutor pool(n);
        std::vector<cf::Future<std::uint64_t>> fs;
        for (int i = 0; i < kKernelTasks; ++i) fs.push_back(pool.submit(kernel, static_cast<std::uint64_t>(i)));
        std::uint64_t acc = 0;
        for (auto& f : fs) acc ^= f.result();
        benchmark::DoNotOptimize(acc);
    }
}
BENCHMARK(BM_Kernel16_ThreadPool)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// Heap bytes per pending Future<int> (malloc's view, allocator overhead included). Measured on a
// fresh thread each time: its recycling cache is empty, so every state comes from malloc.
void BM_Future_BytesPerPending(benchmark::State& state) {
    constexpr int n = 100'000;
    double bytes = 0;
    for (auto _ : state) {
        std::thread([&] {
            std::vector<cf::Future<int>> fs;
            fs.reserve(n);
            auto before = mallinfo2().uordblks;
            for (int i = 0; i < n; ++i) fs.emplace_back();
            auto after = mallinfo2().uordblks;
            bytes = static_cast<double>(after - before) / n;
        }).join();
    }
    state.counters["bytes_per_future"] = bytes;
    state.counters["sizeof_state"] = static_cast<double>(sizeof(nogil::concurrent::futures::detail::FutureState<int>));
}
BENCHMARK(BM_Future_BytesPerPending)->Iterations(3)->Unit(benchmark::kMillisecond);

// One call's round trip through the pool: submit, then wait for its result.
void BM_ThreadPool_RoundTrip(benchmark::State& state) {
    cf::ThreadPoolExecutor pool(1);
    int i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(pool.submit(trivial, ++i).result());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThreadPool_RoundTrip)->UseRealTime();

// The same with the caller and the pool's worker held on one CPU (the scheduler now and then
// keeps them there by itself while the other CPU idles, e.g. after a burst of other work): a
// waiter that spins then only holds the CPU the worker needs.
bool pin_to_cpu0() {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
}
bool unpin(cpu_set_t all) { return pthread_setaffinity_np(pthread_self(), sizeof all, &all) == 0; }

void BM_ThreadPool_RoundTripCoLocated(benchmark::State& state) {
    cpu_set_t all;
    if (pthread_getaffinity_np(pthread_self(), sizeof all, &all) != 0 || !CPU_ISSET(0, &all)) {
        state.SkipWithError("CPU 0 is not available to this thread");
        return;
    }
    cf::ThreadPoolExecutor pool(1);
    if (!pool.submit(pin_to_cpu0).result() || !pin_to_cpu0()) {
        state.SkipWithError("cannot pin to CPU 0");
        return;
    }
    int i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(pool.submit(trivial, ++i).result());
    state.SetItemsProcessed(state.iterations());
    pool.submit(unpin, all).result();
    unpin(all);
}
BENCHMARK(BM_ThreadPool_RoundTripCoLocated)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
