// Python's threading module in nogil: workers share a counter under a Lock, meet at a Barrier,
// hand results over with a Condition, and each keeps a thread-local tally.
#include <nogil/threading.hpp>

#include <cstdio>
#include <mutex>
#include <vector>

namespace threading = nogil::threading;

int main() {
    constexpr int workers = 4, increments = 10000;
    threading::Lock lock;
    long counter = 0;
    threading::Barrier barrier(workers, [] { std::puts("all workers reached the barrier"); });
    threading::Condition done;
    int finished = 0;
    threading::local<int> tally;

    std::vector<threading::Thread> threads;
    for (int i = 0; i < workers; ++i) {
        threads.emplace_back(threading::ThreadOptions{.name = "worker-" + std::to_string(i)}, [&] {
            for (int n = 0; n < increments; ++n) {
                std::scoped_lock guard(lock);  // Python: with lock:
                ++counter;
                ++*tally;  // this thread's own tally
            }
            barrier.wait();
            std::scoped_lock guard(done);
            std::printf("%s counted %d\n", threading::current_thread().name().c_str(), *tally);
            ++finished;
            done.notify_all();
        });
    }
    for (auto& t : threads) t.start();
    {
        std::scoped_lock guard(done);
        done.wait_for([&] { return finished == workers; });
    }
    for (auto& t : threads) t.join();

    threading::Event fired;
    threading::Timer timer(std::chrono::milliseconds(10), [&] { fired.set(); });
    timer.start();
    fired.wait();
    timer.join();

    std::printf("counter = %ld (expected %d), tally in main = %d, active threads = %zu\n", counter,
                workers * increments, *tally, threading::active_count());
    return counter == long{workers} * increments ? 0 : 1;
}
