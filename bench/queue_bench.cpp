// One producer thread -> one consumer thread throughput of nogil::queue (items/s), the shape of
// Python's classic producer/consumer. Reference: CPython 3.11's queue.Queue needs about 1 us per
// put/get pair. With oneTBB installed, tbb::concurrent_bounded_queue is measured as a baseline.
//
//   cmake --preset release && cmake --build --preset release -j2 --target nogil_queue_bench
//   ./build/release/bench/nogil_queue_bench
#include <nogil/queue.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>

#if NOGIL_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

namespace {

namespace q = nogil::queue;

// The consumer is the benchmark thread (one get() per iteration); a producer thread puts exactly
// as many items as the run will take. Wall-clock time, since two threads work.
template <class Queue, class Put, class Get>
void producer_to_consumer(benchmark::State& state, Queue& queue, Put put, Get get) {
    const auto items = static_cast<std::int64_t>(state.max_iterations);
    std::thread producer([&] {
        for (std::int64_t i = 0; i < items; ++i) put(queue, static_cast<int>(i));
    });
    for (auto _ : state) benchmark::DoNotOptimize(get(queue));
    producer.join();
    state.SetItemsProcessed(state.iterations());
}

constexpr auto put_item = [](auto& queue, int item) { queue.put(item); };
constexpr auto get_item = [](auto& queue) { return queue.get(); };

void BM_Queue(benchmark::State& state) {
    q::Queue<int> queue(state.range(0));
    producer_to_consumer(state, queue, put_item, get_item);
}
BENCHMARK(BM_Queue)->ArgName("maxsize")->Arg(0)->Arg(1024)->UseRealTime();

void BM_LifoQueue(benchmark::State& state) {
    q::LifoQueue<int> queue(state.range(0));
    producer_to_consumer(state, queue, put_item, get_item);
}
BENCHMARK(BM_LifoQueue)->ArgName("maxsize")->Arg(1024)->UseRealTime();

void BM_PriorityQueue(benchmark::State& state) {
    q::PriorityQueue<int> queue(state.range(0));
    producer_to_consumer(state, queue, put_item, get_item);
}
BENCHMARK(BM_PriorityQueue)->ArgName("maxsize")->Arg(1024)->UseRealTime();

void BM_SimpleQueue(benchmark::State& state) {
    q::SimpleQueue<int> queue;
    producer_to_consumer(state, queue, put_item, get_item);
}
BENCHMARK(BM_SimpleQueue)->UseRealTime();

#if NOGIL_HAVE_TBB
void BM_TbbConcurrentBoundedQueue(benchmark::State& state) {
    tbb::concurrent_bounded_queue<int> queue;
    if (state.range(0) > 0) queue.set_capacity(state.range(0));
    producer_to_consumer(
        state, queue, [](auto& tbbq, int item) { tbbq.push(item); },
        [](auto& tbbq) {
            int item = 0;
            tbbq.pop(item);
            return item;
        });
}
BENCHMARK(BM_TbbConcurrentBoundedQueue)->ArgName("maxsize")->Arg(0)->Arg(1024)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
