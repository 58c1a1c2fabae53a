#pragma once
// The models the tour compares, one small table per section. A model is a name and a function
// that runs the section's workload with one nogil concurrency model and returns what it computed
// (so every model's result can be checked against the serial one). Adding a model is one entry
// in one of these tables; a section's table lists only what nogil has.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nogil_tool {

/// The CPU-bound workload: `tasks` calls of the kernel, each `steps` long.
struct CpuWork {
    int tasks = 0;
    std::int64_t steps = 0;
};

/// The CPU kernel: `steps` rounds of xorshift64 from a seed derived from `task`. A dependent
/// chain of shifts and xors: no closed form, no vectorization, the same in every model and in
/// the Python script (which masks to 64 bits).
[[gnu::noinline]] std::uint64_t kernel(std::uint64_t task, std::int64_t steps);

/// The checksum of a run: the sum (mod 2^64) of every kernel call's result.
std::uint64_t serial_checksum(const CpuWork& work);

/// What carries a model's work: "serial", "thread", "process" or "coroutine".
using Kind = std::string;

struct CpuModel {
    std::string name;
    Kind kind;
    /// Whether the model takes a number of workers (run for each n); otherwise run once, n = 1.
    bool parallel = true;
    /// Runs the whole workload with `workers` workers; returns the checksum.
    std::function<std::uint64_t(const CpuWork& work, int workers)> run;
};
/// Serial first: it is the baseline of every speedup.
std::vector<CpuModel> cpu_models();

/// The I/O-bound workload: `ops` operations that each wait `delay` (a timer), with at most
/// `workers` waiting at once where the model has workers.
struct IoWork {
    int ops = 0;
    std::chrono::duration<double> delay{};
    int workers = 0;
};

struct IoModel {
    std::string name;
    Kind kind;
    /// Whether `workers` bounds how many wait at once (a pool); else all ops wait at once.
    bool uses_workers = false;
    /// Runs the operations; returns how many completed.
    std::function<std::uint64_t(const IoWork& work)> run;
};
std::vector<IoModel> io_models();

/// Memory per in-flight wait: `n` units blocked at once. Runs in a fresh process (`nogil
/// _probe-memory`), so memory freed by earlier runs cannot be reused and hide the cost.
struct MemoryModel {
    std::string name;
    /// "thread" (n = --memory-threads) or "coroutine" (n = --memory-tasks).
    Kind kind;
    /// Starts `n` units, waits until all are blocked, returns the growth of the resident set in
    /// bytes, then releases them.
    std::function<std::int64_t(int n)> run;
};
std::vector<MemoryModel> memory_models();

/// The cost of one unit: started and finished (or sent and answered) `units` times.
struct CostModel {
    std::string name;
    Kind kind;
    /// Runs `units` units and returns the seconds they took, setup (a pool, a loop) excluded.
    /// Throws std::runtime_error if a unit did not do its work.
    std::function<double(int units)> run;
    /// Units per figure: --cost-process-units when each unit starts a process (slow), else
    /// --cost-units (threads, tasks, round trips through a pool started once).
    bool starts_processes = false;
};
std::vector<CostModel> cost_models();

/// Before the first MPIPoolExecutor: Open MPI's settings for this machine where the environment
/// does not give them (TCP and its out-of-band channel on loopback only, running as root allowed,
/// oversubscription), so the "many machines" rows run on local ranks and talk over loopback.
void pin_open_mpi_to_loopback();

}  // namespace nogil_tool
