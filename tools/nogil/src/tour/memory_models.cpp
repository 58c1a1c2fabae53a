// Memory per in-flight wait: how much the resident set grows while n units are blocked at once.
#include "measure.hpp"
#include "models.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/threading.hpp>

#include <latch>

namespace nogil_tool {

namespace asyncio = nogil::asyncio;
namespace cf = nogil::concurrent::futures;
namespace threading = nogil::threading;

namespace {

// n pool workers, each blocked in a call that waits on one threading.Event (the pool starts a thread for a
// call whenever no started thread is idle, so n blocked calls hold n threads).
std::int64_t thread_pool_workers(int n) {
    cf::ThreadPoolExecutor executor(n);
    std::vector<cf::Future<void>> futures;
    futures.reserve(static_cast<std::size_t>(n));
    std::latch started(n);
    threading::Event gate;
    const std::int64_t before = resident_bytes();
    for (int i = 0; i < n; ++i) {
        futures.push_back(executor.submit([&started, &gate] {
            started.count_down();
            gate.wait();
        }));
    }
    started.wait();
    const std::int64_t during = resident_bytes();
    gate.set();
    for (auto& f : futures) f.result();
    return during - before;
}

// n threading.Thread objects, each blocked on one threading.Event.
std::int64_t threads(int n) {
    threading::Event gate;
    std::latch started(n);
    std::vector<threading::Thread> all;
    all.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        all.emplace_back([&started, &gate] {
            started.count_down();
            gate.wait();
        });
    }
    const std::int64_t before = resident_bytes();
    for (auto& t : all) t.start();
    started.wait();
    const std::int64_t during = resident_bytes();
    gate.set();
    for (auto& t : all) t.join();
    return during - before;
}

asyncio::Coroutine<> blocked_task(asyncio::Future<> gate, int* started) {
    ++*started;
    co_await gate;
}

asyncio::Coroutine<std::int64_t> blocked_tasks(int n) {
    asyncio::Future<> gate;
    int started = 0;
    std::vector<asyncio::Task<>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    const std::int64_t before = resident_bytes();
    for (int i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(blocked_task(gate, &started)));
    while (started < n) co_await asyncio::sleep(0);
    const std::int64_t during = resident_bytes();
    gate.set_result();
    for (auto& t : tasks) co_await t;
    co_return during - before;
}

// n asyncio tasks, each awaiting one asyncio.Future (asyncio.Event's role), on one thread.
std::int64_t coroutine_tasks(int n) { return asyncio::run(blocked_tasks(n)); }

}  // namespace

std::vector<MemoryModel> memory_models() {
    return {
        {"threading.Thread", "thread", threads},
        {"ThreadPoolExecutor worker", "thread", thread_pool_workers},
        {"asyncio task", "coroutine", coroutine_tasks},
    };
}

}  // namespace nogil_tool
