// nogil::threading primitives against their std:: counterparts.
//   Uncontended lock/unlock: Lock, RLock, Semaphore vs std::mutex, std::recursive_mutex.
//   Event ping-pong: two threads hand a turn back and forth (one round trip per iteration),
//   vs the same protocol on std::mutex + std::condition_variable.
#include <nogil/threading/event.hpp>
#include <nogil/threading/lock.hpp>
#include <nogil/threading/rlock.hpp>
#include <nogil/threading/semaphore.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

template <class Mutex>
void BM_UncontendedLockUnlock(benchmark::State& state) {
    Mutex m;
    for (auto _ : state) {
        m.lock();
        benchmark::DoNotOptimize(&m);
        m.unlock();
    }
}
BENCHMARK(BM_UncontendedLockUnlock<nogil::threading::Lock>)->Name("Uncontended/nogil::threading::Lock");
BENCHMARK(BM_UncontendedLockUnlock<std::mutex>)->Name("Uncontended/std::mutex");
BENCHMARK(BM_UncontendedLockUnlock<nogil::threading::RLock>)->Name("Uncontended/nogil::threading::RLock");
BENCHMARK(BM_UncontendedLockUnlock<std::recursive_mutex>)->Name("Uncontended/std::recursive_mutex");
BENCHMARK(BM_UncontendedLockUnlock<nogil::threading::Semaphore>)->Name("Uncontended/nogil::threading::Semaphore");

void BM_AcquireReleasePythonSpelling(benchmark::State& state) {
    nogil::threading::Lock lock;
    for (auto _ : state) {
        lock.acquire();
        benchmark::DoNotOptimize(&lock);
        lock.release();
    }
}
BENCHMARK(BM_AcquireReleasePythonSpelling)->Name("Uncontended/Lock::acquire+release");

// The wait-then-clear half of a turn hand-over, for nogil's Event.
void wait_and_clear(nogil::threading::Event& e) {
    e.wait();
    e.clear();
}

// The same protocol with the textbook std:: tools.
struct StdEvent {
    std::mutex m;
    std::condition_variable cv;
    bool flag = false;
    void set() {
        {
            std::scoped_lock guard(m);
            flag = true;
        }
        cv.notify_all();
    }
    void wait_and_clear() {
        std::unique_lock guard(m);
        cv.wait(guard, [&] { return flag; });
        flag = false;
    }
};
void wait_and_clear(StdEvent& e) { e.wait_and_clear(); }

// One iteration: the partner thread is handed the turn (ping) and hands it back (pong).
template <class Event>
void BM_PingPong(benchmark::State& state) {
    Event ping, pong;
    std::atomic<bool> stop{false};
    std::thread partner([&] {
        for (;;) {
            wait_and_clear(ping);
            if (stop.load(std::memory_order_relaxed)) return;
            pong.set();
        }
    });
    for (auto _ : state) {
        ping.set();
        wait_and_clear(pong);
    }
    stop = true;
    ping.set();
    partner.join();
}
BENCHMARK(BM_PingPong<nogil::threading::Event>)->Name("PingPong/nogil::threading::Event")->UseRealTime();
BENCHMARK(BM_PingPong<StdEvent>)->Name("PingPong/std::mutex+condition_variable")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
