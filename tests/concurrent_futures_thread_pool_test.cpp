// ThreadPoolExecutor, mirroring CPython's test_concurrent_futures (test_thread_pool, executor,
// shutdown and init suites).
#include <nogil/concurrent/futures.hpp>
#include <nogil/threading/event.hpp>
#include <nogil/threading/thread.hpp>

#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <latch>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

namespace {

int square(int x) { return x * x; }

struct Gate {  // a one-shot event for sequencing tests without sleeping
    std::latch latch{1};
    void open() { latch.count_down(); }
    void wait() { latch.wait(); }
};

// A call that occupies one worker of `pool` until release(); constructed once the call is running.
// Declared after the pool, so the test must release() and shut the pool down before it ends.
struct BusyWorker {
    Gate gate;
    std::latch started{1};
    cf::Future<int> call;  // returns 1
    explicit BusyWorker(cf::ThreadPoolExecutor& pool)
        : call(pool.submit([this] {
              started.count_down();
              gate.wait();
              return 1;
          })) {
        started.wait();
    }
    void release() { gate.open(); }
};

TEST(ThreadPoolExecutor, SubmitReturnsResult) {
    cf::ThreadPoolExecutor pool(2);
    auto f = pool.submit(square, 7);
    EXPECT_EQ(f.result(), 49);
    EXPECT_EQ(pool.submit([](int a, int b) { return a + b; }, 2, 3).result(), 5);
}

TEST(ThreadPoolExecutor, SubmitAnyCallableAndVoid) {
    cf::ThreadPoolExecutor pool(2);
    struct Functor {
        int base;
        int operator()(int x) const { return base + x; }
    };
    EXPECT_EQ(pool.submit(Functor{10}, 5).result(), 15);
    std::atomic<int> hits{0};
    auto v = pool.submit([&] { hits.fetch_add(1); });
    static_assert(std::is_same_v<decltype(v), cf::Future<void>>);
    v.result();
    EXPECT_EQ(hits.load(), 1);
    std::string s = "abc";
    EXPECT_EQ(pool.submit(&std::string::size, &s).result(), 3u) << "member pointers work through std::invoke";
}

TEST(ThreadPoolExecutor, MoveOnlyArgumentsAndResults) {
    cf::ThreadPoolExecutor pool(2);
    auto f = pool.submit([](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 1); }, std::make_unique<int>(41));
    std::unique_ptr<int> r = std::move(f).result();
    EXPECT_EQ(*r, 42);
}

TEST(ThreadPoolExecutor, ExceptionReachesResultWithItsType) {
    cf::ThreadPoolExecutor pool(2);
    auto f = pool.submit([]() -> int { throw std::out_of_range("index 3"); });
    EXPECT_THROW(f.result(), std::out_of_range);
    try {
        std::rethrow_exception(f.exception());
    } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "index 3");
    }
}

TEST(ThreadPoolExecutor, DefaultMaxWorkersIsPythons) {
    cf::ThreadPoolExecutor pool;
    int cpus = static_cast<int>(std::thread::hardware_concurrency());
    EXPECT_EQ(pool.max_workers(), cf::ThreadPoolExecutor::default_max_workers());
    EXPECT_LE(pool.max_workers(), 32);
    EXPECT_LE(pool.max_workers(), cpus + 4);
    EXPECT_EQ(pool.thread_count(), 0u) << "threads start lazily";
}

TEST(ThreadPoolExecutor, BadMaxWorkers) {
    try {
        cf::ThreadPoolExecutor pool(0);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "max_workers must be greater than 0");
    }
    EXPECT_THROW(cf::ThreadPoolExecutor(-1), std::invalid_argument);
    EXPECT_THROW(cf::ThreadPoolExecutor({.max_workers = 0}), std::invalid_argument);
}

TEST(ThreadPoolExecutor, NeverMoreThanMaxWorkersAndAllRun) {
    cf::ThreadPoolExecutor pool(3);
    Gate gate;
    std::atomic<int> concurrent{0}, peak{0};
    std::vector<cf::Future<void>> fs;
    for (int i = 0; i < 12; ++i) {
        fs.push_back(pool.submit([&] {
            int now = concurrent.fetch_add(1) + 1;
            int p = peak.load();
            while (now > p && !peak.compare_exchange_weak(p, now)) {
            }
            gate.wait();
            concurrent.fetch_sub(1);
        }));
    }
    EXPECT_LE(pool.thread_count(), 3u);
    gate.open();
    for (auto& f : fs) f.result();
    EXPECT_LE(peak.load(), 3);
    EXPECT_EQ(pool.thread_count(), 3u);
}

TEST(ThreadPoolExecutor, IdleThreadIsReused) {
    cf::ThreadPoolExecutor pool(4);
    for (int i = 0; i < 50; ++i) pool.submit(square, i).result();
    EXPECT_EQ(pool.thread_count(), 1u) << "each submit found the idle worker of the call before";
}

TEST(ThreadPoolExecutor, BlockedWorkersMakeNewThreads) {
    cf::ThreadPoolExecutor pool(4);
    Gate gate;
    std::latch all_running(4);
    std::vector<cf::Future<void>> fs;
    for (int i = 0; i < 4; ++i) fs.push_back(pool.submit([&] {
        all_running.count_down();
        gate.wait();
    }));
    all_running.wait();  // would hang if the pool had started fewer than four threads
    EXPECT_EQ(pool.thread_count(), 4u);
    gate.open();
    for (auto& f : fs) f.result();
}

// Each of max_workers calls blocks until all of them run: the pool must start one thread per call.
// The tour's memory probe does this with 200; it once hung because a starting worker that
// looked at the queue while a push was half done announced itself idle, and the next submit
// then reused that "idle" worker (already busy with the half-pushed call) instead of starting
// a thread. Bounded: if a call never gets a thread, the wait times out and opening the gate
// lets the blocked calls finish and the idle workers take the rest. (The window is a few
// instructions wide: this stress did not catch it in 2,000 rounds; the reasoning is at
// offer_idle_token in src/concurrent/futures/thread_pool.cpp.)
TEST(ThreadPoolExecutor, BlockingCallsEachGetAThreadStress) {
    constexpr int kWorkers = 32;
    for (int round = 0; round < 40; ++round) {
        cf::ThreadPoolExecutor pool(kWorkers);
        std::atomic<int> running{0};
        nogil::threading::Event all_running;
        Gate gate;
        std::vector<cf::Future<void>> fs;
        for (int i = 0; i < kWorkers; ++i) fs.push_back(pool.submit([&] {
            if (running.fetch_add(1) + 1 == kWorkers) all_running.set();
            gate.wait();
        }));
        const bool all = all_running.wait(60s);
        gate.open();
        for (auto& f : fs) f.result();
        ASSERT_TRUE(all) << "round " << round << ": only " << running.load() << " of " << kWorkers
                         << " blocking calls were running; the pool had " << pool.thread_count() << " threads";
        EXPECT_EQ(pool.thread_count(), static_cast<std::size_t>(kWorkers));
    }
}

TEST(ThreadPoolExecutor, ThreadNamePrefix) {
    cf::ThreadPoolExecutor pool({.max_workers = 2, .thread_name_prefix = "io"});
    auto name = pool.submit([] {
                        char buf[32] = {};
                        pthread_getname_np(pthread_self(), buf, sizeof buf);
                        return std::string(buf);
                    }).result();
    EXPECT_EQ(name, "io_0");
    EXPECT_EQ(pool.submit([] { return nogil::threading::current_thread().name(); }).result(), "io_0")
        << "workers are threading::Threads, as in Python";
}

TEST(ThreadPoolExecutor, InitializerRunsOncePerThread) {
    std::atomic<int> inits{0};
    thread_local int initialised_here = 0;
    {
        cf::ThreadPoolExecutor pool({.max_workers = 2, .initializer = [&] {
                                         inits.fetch_add(1);
                                         initialised_here = 7;
                                     }});
        EXPECT_EQ(pool.submit([] { return initialised_here; }).result(), 7);
    }
    EXPECT_EQ(inits.load(), 1);
}

// Pins the broken pool of the shutdown protocol (src/concurrent/futures/thread_pool.cpp).
TEST(ThreadPoolExecutor, FailingInitializerBreaksThePool) {
    cf::ThreadPoolExecutor pool({.max_workers = 2, .initializer = [] { throw std::runtime_error("init failed"); }});
    auto f = pool.submit(square, 2);
    EXPECT_THROW(f.result(), cf::BrokenThreadPool);
    try {
        f.result();
    } catch (const cf::BrokenExecutor& e) {
        EXPECT_STREQ(e.what(), "A thread initializer failed, the thread pool is not usable anymore");
    }
    EXPECT_THROW(pool.submit(square, 3), cf::BrokenThreadPool);
}

// Pins shutdown protocol step 1 (src/concurrent/futures/thread_pool.cpp).
TEST(ThreadPoolExecutor, SubmitAfterShutdownThrows) {
    cf::ThreadPoolExecutor pool(2);
    pool.submit(square, 1).result();
    pool.shutdown();
    try {
        pool.submit(square, 2);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
    }
    pool.shutdown();  // idempotent
    pool.shutdown(false, true);
}

// Pins shutdown protocol step 4 (src/concurrent/futures/thread_pool.cpp).
TEST(ThreadPoolExecutor, QueuedWorkStillRunsAfterShutdownWithoutWait) {
    std::atomic<int> ran{0};
    std::vector<cf::Future<void>> fs;
    {
        cf::ThreadPoolExecutor pool(1);
        Gate gate;
        fs.push_back(pool.submit([&] {
            gate.wait();
            ran.fetch_add(1);
        }));
        for (int i = 0; i < 10; ++i) fs.push_back(pool.submit([&] { ran.fetch_add(1); }));
        pool.shutdown(false);
        gate.open();
    }  // the destructor waits
    EXPECT_EQ(ran.load(), 11);
    for (auto& f : fs) EXPECT_FALSE(f.cancelled());
}

// Pins shutdown protocol step 2 (src/concurrent/futures/thread_pool.cpp).
TEST(ThreadPoolExecutor, ShutdownCancelFutures) {
    cf::ThreadPoolExecutor pool(1);
    BusyWorker blocker(pool);
    std::vector<cf::Future<int>> queued;
    for (int i = 0; i < 20; ++i) queued.push_back(pool.submit(square, i));
    pool.shutdown(false, true);
    blocker.release();
    pool.shutdown(true);
    EXPECT_EQ(blocker.call.result(), 1) << "a running call is not cancelled";
    for (auto& f : queued) EXPECT_TRUE(f.cancelled());
}

// Pins shutdown protocol step 3 (src/concurrent/futures/thread_pool.cpp).
TEST(ThreadPoolExecutor, ShutdownWithoutAnyThreadRunsQueuedWork) {
    // A fresh pool: no thread yet; shutdown(wait) must still run what was accepted.
    cf::ThreadPoolExecutor pool(2);
    auto f = pool.submit(square, 9);
    pool.shutdown(true);
    EXPECT_EQ(f.result(), 81);
}

// Pins shutdown protocol step 5 (src/concurrent/futures/thread_pool.cpp).
TEST(ThreadPoolExecutor, DestructorWaitsForAll) {
    std::atomic<int> done{0};
    {
        cf::ThreadPoolExecutor pool(2);
        for (int i = 0; i < 100; ++i) pool.submit([&] { done.fetch_add(1); });
    }
    EXPECT_EQ(done.load(), 100);
}

// Pins shutdown protocol step 5 (src/concurrent/futures/thread_pool.cpp): shutdown(wait) joins
// every worker but the calling one, so a call may shut its own pool down without joining itself.
TEST(ThreadPoolExecutor, ACallMayShutItsOwnPoolDown) {
    cf::ThreadPoolExecutor pool(2);
    auto f = pool.submit([&] {
        pool.shutdown(true);
        return 1;
    });
    EXPECT_EQ(f.result(), 1);
    EXPECT_THROW(pool.submit(square, 2), std::runtime_error);
}

TEST(ThreadPoolExecutor, CancelPendingCallDoesNotRunIt) {
    cf::ThreadPoolExecutor pool(1);
    BusyWorker blocker(pool);
    std::atomic<bool> ran{false};
    auto f = pool.submit([&] { ran = true; });
    EXPECT_TRUE(f.cancel());
    EXPECT_FALSE(blocker.call.cancel()) << "running";
    blocker.release();
    pool.shutdown();
    EXPECT_FALSE(ran.load());
    EXPECT_THROW(f.result(), cf::CancelledError);
}

TEST(ThreadPoolExecutor, CallArgumentsAreReleasedAfterTheCall) {
    cf::ThreadPoolExecutor pool(1);
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    auto f = pool.submit([](std::shared_ptr<int> p) { return *p; }, std::move(token));
    EXPECT_EQ(f.result(), 1);
    pool.shutdown();
    EXPECT_TRUE(watch.expired()) << "the future still lives, the call's arguments do not";
}

TEST(ThreadPoolExecutor, ParallelCpuWork) {
    // Two workers really run at once: each waits until the other has started.
    cf::ThreadPoolExecutor pool(2);
    std::latch both(2);
    auto a = pool.submit([&] { both.arrive_and_wait(); });
    auto b = pool.submit([&] { both.arrive_and_wait(); });
    a.result();
    b.result();
}

TEST(ThreadPoolExecutor, WorkStealingKeepsIdleWorkersBusy) {
    // Many quick calls and one that blocks until all others have finished: if a worker kept a
    // batch to itself behind the blocker, this would deadlock.
    cf::ThreadPoolExecutor pool(2);
    constexpr int n = 2000;
    std::latch others(n);
    std::vector<cf::Future<void>> fs;
    fs.push_back(pool.submit([&] { others.wait(); }));
    for (int i = 0; i < n; ++i) fs.push_back(pool.submit([&] { others.count_down(); }));
    for (auto& f : fs) f.result();
}

// Stress: several threads submit, cancel, wait with timeouts and one shuts the pool down; every
// future ends in exactly one final state and no computed result is lost.
// A caller and its pool's worker held on one CPU: the caller's waits stop spinning there (the
// spin would only hold the CPU the worker needs) and sleep at once. Every result still arrives,
// and a wait with a timeout on a call that cannot finish still times out in that mode.
bool pin_to_cpu0() {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
}
bool restore_cpus(cpu_set_t all) { return pthread_setaffinity_np(pthread_self(), sizeof all, &all) == 0; }

TEST(ThreadPoolExecutor, WaitsWithTheWorkerOnTheSameCpu) {
    cpu_set_t all;
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof all, &all), 0);
    if (!CPU_ISSET(0, &all)) GTEST_SKIP() << "CPU 0 is not available to this test";
    cf::ThreadPoolExecutor pool(1);
    ASSERT_TRUE(pool.submit(pin_to_cpu0).result());
    ASSERT_TRUE(pin_to_cpu0());
    long sum = 0;
    for (int i = 0; i < 3000; ++i) sum += pool.submit(square, i % 100).result();
    long expected = 0;
    for (int i = 0; i < 3000; ++i) expected += (i % 100) * (i % 100);
    EXPECT_EQ(sum, expected);
    Gate gate;
    auto blocked = pool.submit([&gate] { gate.wait(); return 7; });
    EXPECT_THROW(blocked.result(1ms), cf::TimeoutError);
    gate.open();
    EXPECT_EQ(blocked.result(), 7);
    EXPECT_TRUE(pool.submit(restore_cpus, all).result());
    EXPECT_TRUE(restore_cpus(all));
}

TEST(ThreadPoolExecutor, StressSubmitCancelResultShutdown) {
    for (int round = 0; round < 20; ++round) {
        cf::ThreadPoolExecutor pool(3);
        std::mutex m;
        std::vector<cf::Future<int>> all;
        std::atomic<int> executed{0};
        std::latch go(5);
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t) {
            ts.emplace_back([&, t] {
                std::mt19937 rng(static_cast<unsigned>(round * 10 + t));
                go.arrive_and_wait();
                for (int i = 0; i < 300; ++i) {
                    try {
                        auto f = pool.submit([&executed](int x) {
                            executed.fetch_add(1);
                            return x * 2;
                        }, i);
                        if (rng() % 4 == 0) f.cancel();
                        if (rng() % 8 == 0) {
                            try {
                                (void)f.result(std::chrono::microseconds(rng() % 50));
                            } catch (const cf::TimeoutError&) {
                            } catch (const cf::CancelledError&) {
                            }
                        }
                        std::lock_guard g(m);
                        all.push_back(f);
                    } catch (const std::runtime_error&) {
                        // shut down meanwhile
                    }
                }
            });
        }
        ts.emplace_back([&] {
            go.arrive_and_wait();
            std::this_thread::yield();
            pool.shutdown(true, round % 2 == 0);
        });
        for (auto& t : ts) t.join();
        pool.shutdown();
        int finished = 0, cancelled = 0;
        for (auto& f : all) {
            ASSERT_TRUE(f.done());
            if (f.cancelled()) {
                ++cancelled;
            } else {
                ++finished;
                EXPECT_EQ(f.result() % 2, 0);
            }
        }
        EXPECT_EQ(finished + cancelled, static_cast<int>(all.size()));
        EXPECT_EQ(finished, executed.load()) << "every call that ran has its result in its future";
    }
}

}  // namespace
