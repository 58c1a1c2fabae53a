// MPIPoolExecutor benchmarks, with mpi4py.futures measured in the same run: the program first runs
// bench/python/mpi_anchor.py (same scenarios, same machine, same moment) and reports each figure
// next to the anchor's as a counter ("mpi4py" and "x_faster"). Run it alone (it spawns 2 workers):
//   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
//   OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo nogil_mpi_bench
// TCP only (every message through the network stack, as between hosts): add OMPI_MCA_btl=tcp,self.
// NOGIL_MPI_BENCH_NO_ANCHOR=1 skips the Python run. Spawned workers talk to the master over TCP
// (loopback) even on one host: Open MPI 4.1's shared-memory transport (vader) does not reach
// processes of another job (with OMPI_MCA_btl=vader,self the spawn fails: "unreachable proc").
// Shared memory: the static form, `mpiexec -n 3 nogil_mpi_bench
// --benchmark_filter='Serial|Burst|Map|Idle'` (CpuBound16 and StartUp make executors of other
// sizes: spawned only).
#include <nogil/mpi.hpp>

#include "anchor_json.hpp"
#include "kernels.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace cf = nogil::concurrent::futures;
namespace mpi = nogil::mpi;

namespace {

int trivial(int x) { return x + 1; }
std::uint64_t kernel(std::uint64_t seed) { return nogil_bench::kernel(seed); }
int worker_pid() { return static_cast<int>(::getpid()); }

// The anchor's figures (seconds), read once from the script's JSON line.
std::map<std::string, double>& anchor() {
    static std::map<std::string, double> figures = [] {
        if (std::getenv("NOGIL_MPI_BENCH_NO_ANCHOR")) return std::map<std::string, double>{};
        return nogil_bench::run_anchor("cd " NOGIL_SOURCE_DIR "/bench/python && /usr/bin/python3 mpi_anchor.py --json 2>/dev/null");
    }();
    return figures;
}

void compare(benchmark::State& state, const char* key, double ours_seconds) {
    auto it = anchor().find(key);
    if (it == anchor().end() || ours_seconds <= 0) return;
    state.counters["mpi4py"] = it->second;
    state.counters["x_faster"] = it->second / ours_seconds;
}

// The pool most benchmarks share, shut down at the end of main (NOGIL_MPI_STATS=1 then prints
// how its ranks waited).
std::unique_ptr<mpi::MPIPoolExecutor>& shared_pool() {
    static std::unique_ptr<mpi::MPIPoolExecutor> pool;
    return pool;
}

mpi::MPIPoolExecutor& two_workers() {
    auto& pool = shared_pool();
    if (!pool) {
        pool = std::make_unique<mpi::MPIPoolExecutor>(mpi::MPIPoolOptions{.max_workers = 2});
        pool->bootup();
    }
    return *pool;
}

double cpu_seconds_of(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    std::vector<std::string> fields;
    while (rest >> field) fields.push_back(field);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after "pid (comm)".
    return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// What the master process (every thread) spends per task, as counters: its CPU time and its
// voluntary context switches (each a sleep of one of its threads: a futex wait, a nanosleep). Less
// sensitive to a loaded machine than the time a task takes, so A/B runs compare with them too.
class MasterUsage {
public:
    MasterUsage() : start_(now()) {}
    void report(benchmark::State& state, double tasks) const {
        Sample end = now();
        state.counters["master_cpu_us"] = 1e6 * (end.cpu - start_.cpu) / tasks;
        state.counters["master_sleeps"] = static_cast<double>(end.sleeps - start_.sleeps) / tasks;
    }
    /// The master's CPU time since construction, in seconds.
    double cpu_seconds() const { return now().cpu - start_.cpu; }

private:
    struct Sample {
        double cpu;
        long sleeps;
    };
    static Sample now() {
        rusage u{};
        ::getrusage(RUSAGE_SELF, &u);
        auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
        return {seconds(u.ru_utime) + seconds(u.ru_stime), u.ru_nvcsw};
    }
    Sample start_;
};

// One task submitted and awaited at a time (mpi4py.futures: 444-625 us; target <= 25 us, 60 us TCP only).
void BM_MPI_SerialRoundTrip(benchmark::State& state) {
    auto& pool = two_workers();
    int i = 0;
    MasterUsage usage;
    auto start = std::chrono::steady_clock::now();
    for (auto _ : state) benchmark::DoNotOptimize(pool.submit(trivial, ++i).result());
    usage.report(state, static_cast<double>(state.iterations()));
    double per_task = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
                      static_cast<double>(state.iterations());
    state.counters["per_task"] = per_task;
    compare(state, "serial_round_trip_s", per_task);
}
BENCHMARK(BM_MPI_SerialRoundTrip)->UseRealTime()->Unit(benchmark::kMicrosecond);

// 20,000 trivial tasks submitted at once, then collected (target <= 3 us/task).
void BM_MPI_Burst(benchmark::State& state) {
    auto& pool = two_workers();
    constexpr int n = 20000;
    double seconds = 0;
    MasterUsage usage;
    for (auto _ : state) {
        auto start = std::chrono::steady_clock::now();
        std::vector<cf::Future<int>> fs;
        fs.reserve(n);
        for (int i = 0; i < n; ++i) fs.push_back(pool.submit(trivial, i));
        long sum = 0;
        for (auto& f : fs) sum += f.result();
        benchmark::DoNotOptimize(sum);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    double per_task = seconds / static_cast<double>(state.iterations() * n);
    usage.report(state, static_cast<double>(state.iterations() * n));
    state.counters["per_task"] = per_task;
    compare(state, "burst_per_task_s", per_task);
}
BENCHMARK(BM_MPI_Burst)->UseRealTime()->Unit(benchmark::kMillisecond);

// map(chunksize = 1000) over 200,000 items.
void BM_MPI_MapChunked(benchmark::State& state) {
    auto& pool = two_workers();
    constexpr int n = 200000;
    std::vector<int> items(n);
    std::iota(items.begin(), items.end(), 0);
    double seconds = 0;
    for (auto _ : state) {
        auto start = std::chrono::steady_clock::now();
        long sum = 0;
        for (int r : pool.map(trivial, items, {.chunksize = 1000})) sum += r;
        benchmark::DoNotOptimize(sum);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    double per_item = seconds / static_cast<double>(state.iterations() * n);
    state.counters["per_item"] = per_item;
    compare(state, "map_chunked_per_item_s", per_item);
}
BENCHMARK(BM_MPI_MapChunked)->UseRealTime()->Unit(benchmark::kMillisecond);

// 16 CPU-bound tasks on 1 worker, then on 2: the speedup (target >= 1.8x).
void BM_MPI_CpuBound16(benchmark::State& state) {
    mpi::MPIPoolExecutor one({.max_workers = 1});
    one.bootup();
    auto& two = two_workers();
    std::vector<std::uint64_t> seeds(16);
    std::iota(seeds.begin(), seeds.end(), 1);
    double t1 = 0, t2 = 0, master_cpu_two = 0;
    for (auto _ : state) {
        auto start = std::chrono::steady_clock::now();
        for (auto r : one.map(kernel, seeds)) benchmark::DoNotOptimize(r);
        auto mid = std::chrono::steady_clock::now();
        MasterUsage usage;
        for (auto r : two.map(kernel, seeds)) benchmark::DoNotOptimize(r);
        master_cpu_two += usage.cpu_seconds();
        auto end = std::chrono::steady_clock::now();
        t1 += std::chrono::duration<double>(mid - start).count();
        t2 += std::chrono::duration<double>(end - mid).count();
    }
    // The master's share of one core while both workers compute (its threads take it from them).
    state.counters["master_core_share_two"] = master_cpu_two / t2;
    state.counters["speedup"] = t1 / t2;
    state.counters["one_worker_ms"] = 1e3 * t1 / static_cast<double>(state.iterations());
    state.counters["two_workers_ms"] = 1e3 * t2 / static_cast<double>(state.iterations());
    auto it = anchor().find("kernel16_speedup");
    if (it != anchor().end()) state.counters["mpi4py_speedup"] = it->second;
}
BENCHMARK(BM_MPI_CpuBound16)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

// From the constructor to every worker booted, spawning (mpi4py: 0.39-0.46 s); once, with a
// worker count no other benchmark uses, so that no parked group is reused. "restart_s": the next
// executor of the same size, which takes the parked workers.
void BM_MPI_StartUp(benchmark::State& state) {
    double seconds = 0, restart = 0;
    for (auto _ : state) {
        auto start = std::chrono::steady_clock::now();
        {
            mpi::MPIPoolExecutor pool({.max_workers = 3});
            pool.bootup();
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
        start = std::chrono::steady_clock::now();
        mpi::MPIPoolExecutor again({.max_workers = 3});
        again.bootup();
        restart = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    state.counters["restart_s"] = restart;
    state.counters["startup_s"] = seconds;
    compare(state, "startup_s", seconds);
}
BENCHMARK(BM_MPI_StartUp)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);

// What an idle worker costs: the CPU time both workers use over 2 s with nothing to do, in
// percent of one core (target < 5 %); and the idle master's (its manager thread, this thread asleep).
void BM_MPI_IdleWorkerCpu(benchmark::State& state) {
    auto& pool = two_workers();
    std::vector<int> pids;
    for (int i = 0; i < 2; ++i) pids.push_back(pool.submit(worker_pid).result());
    double percent = 0, master_percent = 0;
    for (auto _ : state) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // past the spin after the last task
        double before = 0, after = 0;
        for (int pid : pids) before += cpu_seconds_of(pid);
        MasterUsage master;
        auto start = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::seconds(2));
        double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (int pid : pids) after += cpu_seconds_of(pid);
        percent = 100.0 * (after - before) / wall / static_cast<double>(pids.size());
        master_percent = 100.0 * master.cpu_seconds() / wall;
    }
    state.counters["idle_cpu_percent_per_worker"] = percent;
    state.counters["master_idle_cpu_percent"] = master_percent;
}
BENCHMARK(BM_MPI_IdleWorkerCpu)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
    mpi::init(argc, argv);  // under mpiexec -n 3: ranks 1 and 2 serve (the static form), rank 0 measures
    benchmark::Initialize(&argc, argv);
    anchor();  // the Python run first, alone on the machine
    benchmark::RunSpecifiedBenchmarks();
    shared_pool().reset();
    benchmark::Shutdown();
    return 0;
}
