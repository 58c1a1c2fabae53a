// The I/O-bound section's models: operations that each wait on a timer (as a request waits on
// a socket), serially and on each nogil model.
#include "models.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>

#include <thread>

namespace nogil_tool {

namespace asyncio = nogil::asyncio;
namespace cf = nogil::concurrent::futures;

namespace {

std::uint64_t wait_once(std::chrono::duration<double> delay) {
    std::this_thread::sleep_for(delay);
    return 1;
}

std::uint64_t serially(const IoWork& work) {
    std::uint64_t done = 0;
    for (int i = 0; i < work.ops; ++i) done += wait_once(work.delay);
    return done;
}

std::uint64_t on_thread_pool(const IoWork& work) {
    cf::ThreadPoolExecutor executor(work.workers);
    std::vector<cf::Future<std::uint64_t>> futures;
    futures.reserve(static_cast<std::size_t>(work.ops));
    for (int i = 0; i < work.ops; ++i) futures.push_back(executor.submit(wait_once, work.delay));
    std::uint64_t done = 0;
    for (auto& f : futures) done += f.result();
    return done;
}

asyncio::Coroutine<std::uint64_t> wait_once_async(std::chrono::duration<double> delay) {
    co_await asyncio::sleep(delay);
    co_return 1;
}

asyncio::Coroutine<std::uint64_t> gather_waits(IoWork work) {
    std::vector<asyncio::Coroutine<std::uint64_t>> coros;
    for (int i = 0; i < work.ops; ++i) coros.push_back(wait_once_async(work.delay));
    std::vector<std::uint64_t> results = co_await asyncio::gather(std::move(coros));
    std::uint64_t done = 0;
    for (auto r : results) done += r;
    co_return done;
}

// Python: asyncio.run(main()) where main gathers one coroutine per wait: all wait at once.
std::uint64_t on_coroutines(const IoWork& work) { return asyncio::run(gather_waits(work)); }

}  // namespace

std::vector<IoModel> io_models() {
    return {
        {"serial", "serial", false, serially},
        {"ThreadPoolExecutor", "thread", true, on_thread_pool},
        {"asyncio tasks", "coroutine", false, on_coroutines},
    };
}

}  // namespace nogil_tool
