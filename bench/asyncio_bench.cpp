// asyncio benchmarks against Python 3.11 on this machine (bench/python/ would hold the anchors):
//   tasks_gather: 100,000 tasks that each sleep(0) once, created and gathered:
//                 Python 21 us/task and 1,340 B/task of peak memory; target >= 100x faster,
//                 <= 200 B/task.
//   sleep0:       1,000,000 sleep(0) in one task: Python 5.6 us each; target >= 100x faster.
//   sleeping_tasks_rss: 1,000,000 tasks sleeping at once (each sleep(50 ms), so each holds a
//                 timer), created and gathered: target <= 300 MB resident.
// Memory (tasks_gather) is the growth of everything malloc hands out - heap chunks with their
// headers and rounding (mallinfo2().uordblks) plus mmapped blocks (hblkhd: the large vectors
// and the ready queue's ring) - from before the run to the moment every task is suspended in
// its sleep(0), divided by the number of tasks. That is every allocation the scenario makes:
// frame + task state (one block), the ready queue's entry, gather's per-child bookkeeping,
// and the program's own vector of tasks. sleeping_tasks_rss reads VmRSS from /proc/self/status
// at the same moment (growth over the value before, and the absolute figure).
#include <nogil/asyncio.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <malloc.h>
#include <thread>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

std::size_t in_use() {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

// Resident set size in bytes (VmRSS).
std::size_t resident() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    std::size_t kb = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::strtoull(line + 6, nullptr, 10);
    std::fclose(f);
    return kb * 1024;
}

// The loop is one thread: its CPU time is what the code costs, whatever else runs on the machine.
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::size_t peak_bytes = 0;
std::size_t baseline = 0;
bool sampled = false;

asyncio::Coroutine<> sleeper() {
    co_await asyncio::sleep(0);
    if (!sampled) {  // the first task to resume: all are suspended now, the peak
        sampled = true;
        peak_bytes = in_use() - baseline;
    }
}

asyncio::Coroutine<> create_and_gather(int n) {
    std::vector<asyncio::Task<>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(sleeper()));
    co_await asyncio::gather(tasks);
}

void tasks_gather(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    std::size_t bytes = 0;
    double cpu = 0;
    // Bytes: one round on a fresh thread, whose recycling cache is empty, so every frame and task
    // state is a new allocation that malloc counts. (On a warm thread the cache hands the previous
    // round's blocks back and malloc sees almost nothing new.)
    std::thread([&] {
        sampled = false;
        baseline = in_use();
        asyncio::run(create_and_gather(n));
        bytes = peak_bytes;
    }).join();
    // Time: rounds on this thread, warm as in a long-running program.
    for (auto _ : state) {
        sampled = false;
        baseline = in_use();
        double t0 = cpu_seconds();
        asyncio::run(create_and_gather(n));
        cpu += cpu_seconds() - t0;
    }
    state.counters["us_per_task"] = cpu * 1e6 / (static_cast<double>(n) * static_cast<double>(state.iterations()));
    state.counters["bytes_per_task"] = static_cast<double>(bytes) / n;
}
BENCHMARK(tasks_gather)->Arg(100'000)->Unit(benchmark::kMillisecond);

asyncio::Coroutine<> many_sleeps(int n) {
    for (int i = 0; i < n; ++i) co_await asyncio::sleep(0);
}

void sleep0(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    double cpu = 0;
    for (auto _ : state) {
        double t0 = cpu_seconds();
        asyncio::run(many_sleeps(n));
        cpu += cpu_seconds() - t0;
    }
    state.counters["ns_per_sleep0"] = cpu * 1e9 / (static_cast<double>(n) * static_cast<double>(state.iterations()));
}
BENCHMARK(sleep0)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

std::size_t rss_before = 0;
std::size_t rss_peak = 0;
bool rss_sampled = false;

asyncio::Coroutine<> long_sleeper() {
    co_await asyncio::sleep(std::chrono::milliseconds(50));
    if (!rss_sampled) {  // the first timer to fire: every task is asleep (or just woke)
        rss_sampled = true;
        rss_peak = resident();
    }
}

asyncio::Coroutine<> create_and_gather_sleepers(int n) {
    std::vector<asyncio::Task<>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(long_sleeper()));
    co_await asyncio::gather(tasks);
}

void sleeping_tasks_rss(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        malloc_trim(0);  // start from what is really in use
        rss_sampled = false;
        rss_before = resident();
        asyncio::run(create_and_gather_sleepers(n));
    }
    state.counters["rss_growth_MB"] = static_cast<double>(rss_peak - rss_before) / 1e6;
    state.counters["rss_MB"] = static_cast<double>(rss_peak) / 1e6;
}
BENCHMARK(sleeping_tasks_rss)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
