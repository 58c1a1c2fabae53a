// The CPU-bound section's models: the same kernel calls, serially and on each nogil model.
#include "models.hpp"

#include <nogil/concurrent/futures.hpp>

namespace nogil_tool {

namespace cf = nogil::concurrent::futures;

std::uint64_t kernel(std::uint64_t task, std::int64_t steps) {
    std::uint64_t x = task * 0x9E3779B97F4A7C15ULL + 1;
    for (std::int64_t i = 0; i < steps; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

std::uint64_t serial_checksum(const CpuWork& work) {
    std::uint64_t sum = 0;
    for (int t = 0; t < work.tasks; ++t) sum += kernel(static_cast<std::uint64_t>(t), work.steps);
    return sum;
}

namespace {

// Python: with ThreadPoolExecutor(n) as ex: sum(f.result() for f in [ex.submit(kernel, t, steps) ...])
std::uint64_t on_thread_pool(const CpuWork& work, int workers) {
    cf::ThreadPoolExecutor executor(workers);
    std::vector<cf::Future<std::uint64_t>> futures;
    futures.reserve(static_cast<std::size_t>(work.tasks));
    for (int t = 0; t < work.tasks; ++t) futures.push_back(executor.submit(kernel, static_cast<std::uint64_t>(t), work.steps));
    std::uint64_t sum = 0;
    for (auto& f : futures) sum += f.result();
    return sum;
}

}  // namespace

std::vector<CpuModel> cpu_models() {
    return {
        {"serial", "serial", false, [](const CpuWork& work, int) { return serial_checksum(work); }},
        {"ThreadPoolExecutor", "thread", true, on_thread_pool},
    };
}

}  // namespace nogil_tool
