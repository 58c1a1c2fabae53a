// The CPU-bound section's models: the same kernel calls, serially and on each nogil model.
#include "models.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/threading.hpp>
#ifdef NOGIL_TOUR_HAS_MPI
#include <nogil/mpi.hpp>
#endif

#include <tuple>

namespace nogil_tool {

namespace asyncio = nogil::asyncio;
namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace threading = nogil::threading;

std::uint64_t kernel(std::uint64_t task, std::int64_t steps) {
    std::uint64_t x = task * 0x9E3779B97F4A7C15ULL + 1;
    for (std::int64_t i = 0; i < steps; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

namespace {

// The tasks first, first + stride, ... of the workload: one worker's share when n split it.
std::uint64_t kernel_share(int first, int stride, int tasks, std::int64_t steps) {
    std::uint64_t sum = 0;
    for (int t = first; t < tasks; t += stride) sum += kernel(static_cast<std::uint64_t>(t), steps);
    return sum;
}

// Python: n threading.Thread objects, each summing its share into its own slot; join all.
std::uint64_t on_threads(const CpuWork& work, int workers) {
    std::vector<std::uint64_t> partial(static_cast<std::size_t>(workers));
    std::vector<threading::Thread> threads;
    for (int k = 0; k < workers; ++k) {
        threads.emplace_back([&partial, &work, k, workers] {
            partial[static_cast<std::size_t>(k)] = kernel_share(k, workers, work.tasks, work.steps);
        });
        threads.back().start();
    }
    for (auto& t : threads) t.join();
    std::uint64_t sum = 0;
    for (auto p : partial) sum += p;
    return sum;
}

// One submit per kernel call, then every result: the executors' model (threads or processes).
template <class Executor>
std::uint64_t submit_each(Executor& executor, const CpuWork& work) {
    std::vector<cf::Future<std::uint64_t>> futures;
    futures.reserve(static_cast<std::size_t>(work.tasks));
    for (int t = 0; t < work.tasks; ++t) futures.push_back(executor.submit(kernel, static_cast<std::uint64_t>(t), work.steps));
    std::uint64_t sum = 0;
    for (auto& f : futures) sum += f.result();
    return sum;
}

// Python: with ThreadPoolExecutor(n) as ex: sum(f.result() for f in [ex.submit(kernel, t, steps) ...])
std::uint64_t on_thread_pool(const CpuWork& work, int workers) {
    cf::ThreadPoolExecutor executor(workers);
    return submit_each(executor, work);
}

// A child process's share, sent back through a queue (a plain function: it crosses the boundary by name).
void process_share(mp::SimpleQueue<std::uint64_t> results, int first, int stride, int tasks, std::int64_t steps) {
    results.put(kernel_share(first, stride, tasks, steps));
}

// Python: n multiprocessing.Process objects, each putting its share on a SimpleQueue.
std::uint64_t on_processes(const CpuWork& work, int workers) {
    mp::SimpleQueue<std::uint64_t> results;
    std::vector<mp::Process> processes;
    for (int k = 0; k < workers; ++k) {
        processes.emplace_back(process_share, results, k, workers, work.tasks, work.steps);
        processes.back().start();
    }
    std::uint64_t sum = 0;
    for (int k = 0; k < workers; ++k) sum += results.get();
    for (auto& p : processes) p.join();
    return sum;
}

// Python: with multiprocessing.Pool(n) as pool: sum(pool.starmap(kernel, [(t, steps) ...]))
std::uint64_t on_process_pool(const CpuWork& work, int workers) {
    mp::Pool pool(workers);
    std::vector<std::tuple<std::uint64_t, std::int64_t>> calls;
    for (int t = 0; t < work.tasks; ++t) calls.emplace_back(static_cast<std::uint64_t>(t), work.steps);
    std::uint64_t sum = 0;
    for (std::uint64_t r : pool.starmap(kernel, calls)) sum += r;
    return sum;
}

// Python: with ProcessPoolExecutor(n) as ex: sum(f.result() for f in [ex.submit(kernel, t, steps) ...])
std::uint64_t on_process_pool_executor(const CpuWork& work, int workers) {
    cf::ProcessPoolExecutor executor(workers);
    return submit_each(executor, work);
}

#ifdef NOGIL_TOUR_HAS_MPI
// Many machines, simulated on this one: Python's mpi4py.futures.MPIPoolExecutor(n), the workers
// spawned ranks of an MPI job (Open MPI pinned to loopback: models.hpp, pin_open_mpi_to_loopback).
std::uint64_t on_mpi_pool_executor(const CpuWork& work, int workers) {
    pin_open_mpi_to_loopback();
    nogil::mpi::MPIPoolExecutor executor(workers);
    return submit_each(executor, work);
}
#endif

asyncio::Coroutine<std::uint64_t> kernel_task(std::uint64_t task, std::int64_t steps) { co_return kernel(task, steps); }

asyncio::Coroutine<std::uint64_t> gather_kernels(CpuWork work) {
    std::vector<asyncio::Coroutine<std::uint64_t>> coros;
    for (int t = 0; t < work.tasks; ++t) coros.push_back(kernel_task(static_cast<std::uint64_t>(t), work.steps));
    std::vector<std::uint64_t> results = co_await asyncio::gather(std::move(coros));
    std::uint64_t sum = 0;
    for (auto r : results) sum += r;
    co_return sum;
}

// Python: asyncio.run(main()) where main gathers one coroutine per kernel call: one thread.
std::uint64_t on_coroutines(const CpuWork& work, int) { return asyncio::run(gather_kernels(work)); }

}  // namespace

std::uint64_t serial_checksum(const CpuWork& work) { return kernel_share(0, 1, work.tasks, work.steps); }

std::vector<CpuModel> cpu_models() {
    return {
        {"serial", "serial", false, [](const CpuWork& work, int) { return serial_checksum(work); }},
        {"threading.Thread", "thread", true, on_threads},
        {"ThreadPoolExecutor", "thread", true, on_thread_pool},
        {"multiprocessing.Process", "process", true, on_processes},
        {"multiprocessing.Pool", "process", true, on_process_pool},
        {"ProcessPoolExecutor", "process", true, on_process_pool_executor},
#ifdef NOGIL_TOUR_HAS_MPI
        {"MPIPoolExecutor (many machines: local ranks)", "process", true, on_mpi_pool_executor},
#endif
        {"asyncio tasks (1 thread)", "coroutine", false, on_coroutines},
    };
}

}  // namespace nogil_tool
