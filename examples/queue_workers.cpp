// Python's queue-of-work pattern: worker threads take jobs from a Queue, mark each one done, and
// the main thread waits with join(); shutdown() then stops the workers (Python 3.13).
#include <nogil/queue.hpp>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

int main() {
    nogil::queue::Queue<int> jobs(16);  // bounded: producers wait when workers fall behind
    std::atomic<long> total{0};

    std::vector<std::jthread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&] {
            try {
                for (;;) {
                    int n = jobs.get();  // throws ShutDown once the queue is shut down and empty
                    total += static_cast<long>(n) * n;
                    jobs.task_done();
                }
            } catch (const nogil::queue::ShutDown&) {
            }
        });
    }

    for (int n = 1; n <= 1000; ++n) jobs.put(n);
    jobs.join();      // every job has been taken and marked done
    jobs.shutdown();  // wake the idle workers: their get() throws ShutDown
    workers.clear();  // join the threads

    std::printf("sum of squares 1..1000 = %ld\n", total.load());
    return total == 333'833'500L ? 0 : 1;
}
