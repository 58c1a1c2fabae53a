// CPython's Lib/test/test_threading.py, ported: its lock and timeout suites (lock_tests.RLockTests,
// EventTests, ConditionTests, SemaphoreTests, BoundedSemaphoreTests, BarrierTests as instantiated
// by test_threading) and the ThreadTests / TimerTests cases about joining and timeouts. The Lock
// suite (lock_tests.LockTests) is in test_thread.cpp. Not applicable, as a group: cases about
// Python internals (sys.settrace/setprofile, gc, _dangling, _shutdown_locks, subinterpreters,
// os.fork inside Python code, interpreter finalisation scripts, repr).
#include "lock_tests.hpp"

#include <nogil/errors.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

namespace threading = nogil::threading;
using namespace std::chrono_literals;
using cpython_lock_tests::bunch;

const auto kTooLong = threading::TIMEOUT_MAX + std::chrono::duration<double>(1);

// ---- RLockTests ---------------------------------------------------------------------------------

// lock_tests.py: RLockTests.test_reacquire
TEST(RLockTests, test_reacquire) {
    threading::RLock lock;
    lock.acquire();
    lock.acquire();
    lock.release();
    lock.acquire();
    lock.release();
    lock.release();
    EXPECT_FALSE(lock.locked());
}

// lock_tests.py: RLockTests.test_release_unacquired
TEST(RLockTests, test_release_unacquired) {
    threading::RLock lock;
    EXPECT_THROW(lock.release(), std::runtime_error);
    lock.acquire();
    lock.acquire();
    lock.release();
    lock.acquire();
    lock.release();
    lock.release();
    EXPECT_THROW(lock.release(), std::runtime_error);
}

// lock_tests.py: RLockTests.test_different_thread
TEST(RLockTests, test_different_thread) {
    threading::RLock lock;
    threading::Event acquired, done;
    std::thread t([&] {
        lock.acquire();
        acquired.set();
        done.wait();
        lock.release();
    });
    acquired.wait();
    EXPECT_THROW(lock.release(), std::runtime_error);
    done.set();
    t.join();
}

// lock_tests.py: BaseLockTests.test_timeout, on an RLock
TEST(RLockTests, test_timeout) {
    threading::RLock lock;
    EXPECT_THROW(lock.acquire(false, 1s), std::invalid_argument);
    EXPECT_THROW(lock.acquire(-100s), std::invalid_argument);
    EXPECT_THROW(lock.acquire(kTooLong), nogil::OverflowError);
    EXPECT_TRUE(lock.acquire(threading::TIMEOUT_MAX));
    lock.release();
}

// lock_tests.py: RLockTests.test__is_owned, test_release_save_unacquired, test_recursion_count —
// not applicable: private methods.

// ---- EventTests ---------------------------------------------------------------------------------

// lock_tests.py: EventTests.test_is_set
TEST(EventTests, test_is_set) {
    threading::Event evt;
    EXPECT_FALSE(evt.is_set());
    evt.set();
    EXPECT_TRUE(evt.is_set());
    evt.set();
    EXPECT_TRUE(evt.is_set());
    evt.clear();
    EXPECT_FALSE(evt.is_set());
    evt.clear();
    EXPECT_FALSE(evt.is_set());
}

// lock_tests.py: EventTests.test_notify (_check_notify: every waiter wakes, with True)
TEST(EventTests, test_notify) {
    threading::Event evt;
    constexpr int N = 5;
    std::atomic<int> woken{0}, ok{0};
    std::thread setter([&] {
        evt.set();
    });
    bunch(N, [&] {
        if (evt.wait()) ok.fetch_add(1);
        woken.fetch_add(1);
    });
    setter.join();
    EXPECT_EQ(woken.load(), N);
    EXPECT_EQ(ok.load(), N);
}

// lock_tests.py: EventTests.test_timeout (without wall-clock assertions), plus TIMEOUT_MAX
TEST(EventTests, test_timeout) {
    threading::Event evt;
    std::atomic<int> falses{0};
    bunch(5, [&] {
        if (!evt.wait(0s)) falses.fetch_add(1);
        if (!evt.wait(10ms)) falses.fetch_add(1);
    });
    EXPECT_EQ(falses.load(), 10);
    evt.set();
    EXPECT_TRUE(evt.wait(0s));
    EXPECT_TRUE(evt.wait(threading::TIMEOUT_MAX));
    EXPECT_THROW(evt.wait(kTooLong), nogil::OverflowError);  // Condition.wait's acquire(timeout)
}

// lock_tests.py: EventTests.test_set_and_clear
TEST(EventTests, test_set_and_clear) {
    threading::Event evt;
    std::atomic<int> trues{0};
    std::thread t([&] {
        evt.set();
        evt.clear();
    });
    t.join();
    evt.set();
    bunch(5, [&] {
        if (evt.wait()) trues.fetch_add(1);
    });
    EXPECT_EQ(trues.load(), 5);
}

// lock_tests.py: EventTests.test_reset_internal_locks — not applicable: private.

// ---- ConditionTests -----------------------------------------------------------------------------

// lock_tests.py: ConditionTests.test_acquire
TEST(ConditionTests, test_acquire) {
    threading::Condition cond;
    cond.acquire();
    cond.release();
    threading::Lock lock;
    threading::Condition cond2(lock);
    cond2.acquire();
    EXPECT_FALSE(lock.acquire(false));
    cond2.release();
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

// lock_tests.py: ConditionTests.test_unacquired_wait
TEST(ConditionTests, test_unacquired_wait) {
    threading::Condition cond;
    EXPECT_THROW(cond.wait(), std::runtime_error);
}

// lock_tests.py: ConditionTests.test_unacquired_notify
TEST(ConditionTests, test_unacquired_notify) {
    threading::Condition cond;
    EXPECT_THROW(cond.notify(), std::runtime_error);
}

// lock_tests.py: ConditionTests.test_notify (_check_notify: notify(1), notify(3), notify_all())
TEST(ConditionTests, test_notify) {
    threading::Condition cond;
    constexpr int N = 5;
    std::atomic<int> ready{0}, woken{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < N; ++i)
        threads.emplace_back([&] {
            std::scoped_lock guard(cond);
            ready.fetch_add(1);  // under the lock: the notifier sees it only once this thread waits
            EXPECT_TRUE(cond.wait());
            woken.fetch_add(1);
        });
    while (ready.load() < N) std::this_thread::yield();
    auto notify = [&](std::size_t n, int expect_woken) {
        {
            std::scoped_lock guard(cond);  // every counted waiter is inside wait() now
            cond.notify(n);
        }
        while (woken.load() < expect_woken) std::this_thread::yield();
        EXPECT_EQ(woken.load(), expect_woken);
    };
    notify(1, 1);
    notify(3, 4);
    {
        std::scoped_lock guard(cond);
        cond.notify_all();
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(woken.load(), N);
}

// lock_tests.py: ConditionTests.test_timeout (without wall-clock assertions), plus TIMEOUT_MAX
TEST(ConditionTests, test_timeout) {
    threading::Condition cond;
    std::atomic<int> falses{0};
    bunch(5, [&] {
        std::scoped_lock guard(cond);
        if (!cond.wait(10ms)) falses.fetch_add(1);
    });
    EXPECT_EQ(falses.load(), 5);
    std::scoped_lock guard(cond);
    EXPECT_THROW(cond.wait(kTooLong), nogil::OverflowError);
}

// lock_tests.py: ConditionTests.test_waitfor
TEST(ConditionTests, test_waitfor) {
    threading::Condition cond;
    int state = 0;
    std::thread t([&] {
        std::scoped_lock guard(cond);
        bool result = cond.wait_for([&] { return state == 4; });
        EXPECT_TRUE(result);
        EXPECT_EQ(state, 4);
    });
    for (int i = 0; i < 4; ++i) {
        std::scoped_lock guard(cond);
        state += 1;
        cond.notify();
    }
    t.join();
}

// lock_tests.py: ConditionTests.test_waitfor_timeout
TEST(ConditionTests, test_waitfor_timeout) {
    threading::Condition cond;
    int state = 0;
    bool success = true;
    std::thread t([&] {
        std::scoped_lock guard(cond);
        success = cond.wait_for([&] { return state == 4; }, 10ms);
    });
    t.join();
    EXPECT_FALSE(success);
}

// ---- SemaphoreTests / BoundedSemaphoreTests -----------------------------------------------------

// lock_tests.py: BaseSemaphoreTests.test_constructor
TEST(SemaphoreTests, test_constructor) {
    EXPECT_THROW(threading::Semaphore(-1), std::invalid_argument);
    threading::Semaphore s1(1), s2(0);
    threading::BoundedSemaphore b1(1), b2(0);
}

// lock_tests.py: BaseSemaphoreTests.test_acquire
TEST(SemaphoreTests, test_acquire) {
    threading::Semaphore sem(1);
    sem.acquire();
    sem.release();
    threading::Semaphore sem2(2);
    sem2.acquire();
    sem2.acquire();
    sem2.release();
    sem2.release();
}

// lock_tests.py: BaseSemaphoreTests.test_try_acquire_contended
TEST(SemaphoreTests, test_try_acquire_contended) {
    threading::Semaphore sem(4);
    sem.acquire();
    std::vector<bool> results;
    std::mutex m;
    bunch(5, [&] {
        bool a = sem.acquire(false), b = sem.acquire(false);
        std::scoped_lock guard(m);
        results.push_back(a);
        results.push_back(b);
    });
    EXPECT_EQ(std::count(results.begin(), results.end(), true), 3);
}

// lock_tests.py: BaseSemaphoreTests.test_acquire_timeout, plus TIMEOUT_MAX
TEST(SemaphoreTests, test_acquire_timeout) {
    threading::Semaphore sem(2);
    EXPECT_THROW(sem.acquire(false, 0.1s), std::invalid_argument);
    EXPECT_TRUE(sem.acquire(500ms));
    EXPECT_TRUE(sem.acquire(500ms));
    EXPECT_FALSE(sem.acquire(10ms));
    sem.release();
    EXPECT_TRUE(sem.acquire(threading::TIMEOUT_MAX));
    EXPECT_THROW(sem.acquire(kTooLong), nogil::OverflowError);
}

// lock_tests.py: BaseSemaphoreTests.test_default_value
TEST(SemaphoreTests, test_default_value) {
    threading::Semaphore sem;
    EXPECT_TRUE(sem.acquire(false));
    EXPECT_FALSE(sem.acquire(false));
    sem.release();
}

// lock_tests.py: BaseSemaphoreTests.test_with
TEST(SemaphoreTests, test_with) {
    threading::Semaphore sem(2);
    {
        std::scoped_lock guard(sem);
        EXPECT_TRUE(sem.acquire(false));
        sem.release();
    }
    EXPECT_TRUE(sem.acquire(false));
    EXPECT_TRUE(sem.acquire(false));
}

// lock_tests.py: SemaphoreTests.test_release_unacquired (an unbounded semaphore can go up)
TEST(SemaphoreTests, test_release_unacquired) {
    threading::Semaphore sem(1);
    sem.release();
    sem.acquire();
    sem.acquire();
    sem.release();
}

// lock_tests.py: BoundedSemaphoreTests.test_release_unacquired
TEST(BoundedSemaphoreTests, test_release_unacquired) {
    threading::BoundedSemaphore sem(1);
    EXPECT_THROW(sem.release(), std::invalid_argument);
    sem.acquire();
    sem.release();
    EXPECT_THROW(sem.release(), std::invalid_argument);
}

// ---- BarrierTests -------------------------------------------------------------------------------

// lock_tests.py: BarrierTests.test_barrier (several rounds)
TEST(BarrierTests, test_barrier) {
    constexpr int N = 5;
    threading::Barrier barrier(N);
    std::atomic<int> passed{0};
    bunch(N, [&] {
        for (int round = 0; round < 3; ++round) {
            barrier.wait();
            passed.fetch_add(1);
        }
    });
    EXPECT_EQ(passed.load(), 3 * N);
    EXPECT_EQ(barrier.n_waiting(), 0u);
    EXPECT_FALSE(barrier.broken());
}

// lock_tests.py: BarrierTests.test_wait_return
TEST(BarrierTests, test_wait_return) {
    constexpr int N = 5;
    threading::Barrier barrier(N);
    std::atomic<int> zeros{0};
    bunch(N, [&] {
        if (barrier.wait() == 0) zeros.fetch_add(1);
    });
    EXPECT_EQ(zeros.load(), 1);
}

// lock_tests.py: BarrierTests.test_abort
TEST(BarrierTests, test_abort) {
    constexpr int N = 5;
    threading::Barrier barrier(N);
    std::atomic<int> results1{0}, results2{0};
    bunch(N, [&] {
        try {
            if (barrier.wait() == N / 2) throw std::runtime_error("abort");
            barrier.wait();
            results1.fetch_add(1);
        } catch (const threading::BrokenBarrierError&) {
            results2.fetch_add(1);
        } catch (const std::runtime_error&) {
            barrier.abort();
        }
    });
    EXPECT_EQ(results1.load(), 0);
    EXPECT_EQ(results2.load(), N - 1);
    EXPECT_TRUE(barrier.broken());
}

// lock_tests.py: BarrierTests.test_timeout, plus TIMEOUT_MAX
TEST(BarrierTests, test_timeout) {
    threading::Barrier barrier(2);
    EXPECT_THROW(barrier.wait(10ms), threading::BrokenBarrierError);
    EXPECT_TRUE(barrier.broken());
    barrier.reset();
    EXPECT_THROW(barrier.wait(kTooLong), nogil::OverflowError);
}

// ---- ThreadTests / TimerTests -------------------------------------------------------------------

// test_threading.py: ThreadTests.test_various_ops (names, idents, join)
TEST(ThreadTests, test_various_ops) {
    constexpr int NUMTASKS = 10;
    threading::Semaphore sema(3);
    std::atomic<int> running{0}, max_running{0};
    std::vector<threading::Thread> threads;
    for (int i = 0; i < NUMTASKS; ++i) {
        threads.emplace_back(threading::ThreadOptions{.name = "<thread " + std::to_string(i) + ">"}, [&] {
            std::scoped_lock guard(sema);
            int now = running.fetch_add(1) + 1;
            int seen = max_running.load();
            while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
            }
            running.fetch_sub(1);
        });
        EXPECT_FALSE(threads.back().ident());
        threads.back().start();
    }
    for (auto& t : threads) {
        EXPECT_TRUE(t.ident());
        t.join();
        EXPECT_FALSE(t.is_alive());
    }
    EXPECT_LE(max_running.load(), 3);
    EXPECT_EQ(running.load(), 0);
}

// test_threading.py: ThreadTests.test_join_timeout-like cases of ThreadJoinOnShutdown — join with
// a timeout returns while the thread runs; TIMEOUT_MAX bounds it.
TEST(ThreadTests, test_join_with_timeout) {
    threading::Event stop;
    threading::Thread t([&] { stop.wait(); });
    t.start();
    EXPECT_FALSE(t.join(10ms));
    EXPECT_TRUE(t.is_alive());
    EXPECT_THROW(t.join(kTooLong), nogil::OverflowError);
    stop.set();
    EXPECT_TRUE(t.join(threading::TIMEOUT_MAX));
    EXPECT_FALSE(t.is_alive());
}

// test_threading.py: ThreadTests.test_daemon_param
TEST(ThreadTests, test_daemon_param) {
    threading::Thread t([] {});
    EXPECT_FALSE(t.daemon());
    threading::Thread d(threading::ThreadOptions{.daemon = true}, [] {});
    EXPECT_TRUE(d.daemon());
}

// test_threading.py: ThreadTests.test_start_twice / ThreadingExceptionTests.test_start_thread_again
TEST(ThreadTests, test_start_thread_again) {
    threading::Thread t([] {});
    t.start();
    EXPECT_THROW(t.start(), std::runtime_error);
    t.join();
}

// test_threading.py: ThreadingExceptionTests.test_joining_current_thread
TEST(ThreadTests, test_joining_current_thread) {
    EXPECT_THROW(threading::current_thread().join(), std::runtime_error);
}

// test_threading.py: ThreadingExceptionTests.test_joining_inactive_thread
TEST(ThreadTests, test_joining_inactive_thread) {
    threading::Thread t([] {});
    EXPECT_THROW(t.join(), std::runtime_error);
}

// test_threading.py: ThreadingExceptionTests.test_daemonize_active_thread
TEST(ThreadTests, test_daemonize_active_thread) {
    threading::Event stop;
    threading::Thread t([&] { stop.wait(); });
    t.start();
    EXPECT_THROW(t.set_daemon(true), std::runtime_error);
    stop.set();
    t.join();
}

// test_threading.py: TimerTests.test_init_immutable_default_args / test_timer — a timer cancelled
// before its interval does not run.
TEST(TimerTests, test_cancel) {
    std::atomic<bool> called{false};
    threading::Timer t(std::chrono::hours(1), [&] { called = true; });
    t.start();
    t.cancel();
    t.join();
    EXPECT_FALSE(called.load());
}

}  // namespace
