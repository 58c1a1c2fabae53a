// CPython's Lib/test/test_asyncio/test_locks.py (3.13), ported: Lock, Event, Condition,
// Semaphore and BoundedSemaphore (Barrier: tests/asyncio_barrier_test.cpp follows
// BarrierTests).
//
// `async with lock:` is `auto guard = co_await lock.scoped();`. Python's
// test_utils.run_briefly(loop) is `co_await asyncio::sleep(0)` (one loop turn) here.
//
// Not applicable in C++:
//   test_repr (all classes) - no repr.
//   test_lock_doesnt_accept_loop_parameter, test_*_doesnt_accept_loop_parameter - the loop
//     parameter was removed in 3.10; C++ has no such constructor.
//   test_context_manager_no_yield / test_lock_by_with_statement's `with lock` (a TypeError).
//   test_explicit_lock, test_ambiguous_loops - Condition(lock) of another loop: a Lock is not
//     bound to a loop here until used.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using namespace std::chrono_literals;

namespace {

Coroutine<> run_briefly() {
    co_await asyncio::sleep(0);
    co_await asyncio::sleep(0);
}

// test_locks.py: LockTests.test_lock
TEST(LockTests, test_lock) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Lock lock;
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_TRUE(lock.locked());
        lock.release();
        EXPECT_FALSE(lock.locked());
    }());
}

// test_locks.py: LockTests.test_acquire - waiters acquire in FIFO order
TEST(LockTests, test_acquire) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Lock lock;
        std::vector<int> result;
        EXPECT_TRUE(co_await lock.acquire());
        auto c = [&](int n) -> Coroutine<bool> {
            if (co_await lock.acquire()) result.push_back(n);
            co_return true;
        };
        auto t1 = asyncio::create_task(c(1));
        auto t2 = asyncio::create_task(c(2));
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        lock.release();
        co_await run_briefly();
        EXPECT_EQ(result, std::vector{1});
        co_await run_briefly();
        EXPECT_EQ(result, std::vector{1});
        auto t3 = asyncio::create_task(c(3));
        lock.release();
        co_await run_briefly();
        EXPECT_EQ(result, (std::vector{1, 2}));
        lock.release();
        co_await run_briefly();
        EXPECT_EQ(result, (std::vector{1, 2, 3}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
        lock.release();
    }());
}

// test_locks.py: LockTests.test_acquire_cancel
TEST(LockTests, test_acquire_cancel) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Lock lock;
        EXPECT_TRUE(co_await lock.acquire());
        auto task = asyncio::create_task([](asyncio::Lock& l) -> Coroutine<bool> { co_return co_await l.acquire(); }(lock));
        asyncio::get_running_loop().call_soon([task] { task.cancel(); });
        EXPECT_EQ(type_name(co_await outcome(task)), "CancelledError");
        EXPECT_EQ(lock.waiters(), 0u);
        lock.release();
    }());
}

// test_locks.py: LockTests.test_cancel_race - a waiter cancelled just as the lock is released to
// it must not keep the lock or strand the others (Python issue #27585).
TEST(LockTests, test_cancel_race) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Lock lock;
        auto lockit = [&](std::string name, std::vector<std::string>& blocker_log) -> Coroutine<> {
            co_await lock.acquire();
            blocker_log.push_back(name);
            lock.release();
        };
        std::vector<std::string> log;
        EXPECT_TRUE(co_await lock.acquire());  // "fa"
        auto tb = asyncio::create_task(lockit("B", log));
        co_await run_briefly();
        auto tc = asyncio::create_task(lockit("C", log));
        co_await run_briefly();
        EXPECT_EQ(lock.waiters(), 2u);
        lock.release();  // B is woken...
        tb.cancel();     // ...and cancelled before it runs: C must get the lock
        co_await run_briefly();
        co_await run_briefly();
        EXPECT_TRUE(tb.cancelled());
        EXPECT_TRUE(tc.done());
        EXPECT_EQ(log, std::vector<std::string>{"C"});
        EXPECT_FALSE(lock.locked());
    }());
}

// test_locks.py: LockTests.test_cancel_release_race (bpo-27585 variant)
TEST(LockTests, test_cancel_release_race) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Lock lock;
        auto lockit = [&]() -> Coroutine<> {
            co_await lock.acquire();
            lock.release();
        };
        co_await lock.acquire();
        auto t1 = asyncio::create_task(lockit());
        auto t2 = asyncio::create_task(lockit());
        auto t3 = asyncio::create_task(lockit());
        co_await run_briefly();
        // Cancel t1 while it is woken by the release, and t2 while waiting.
        lock.release();
        t1.cancel();
        t2.cancel();
        co_await run_briefly();
        co_await run_briefly();
        EXPECT_TRUE(t1.cancelled());
        EXPECT_TRUE(t2.cancelled());
        EXPECT_TRUE(t3.done() && !t3.cancelled());
        EXPECT_FALSE(lock.locked());
    }());
}

// test_locks.py: LockTests.test_release_not_acquired
TEST(LockTests, test_release_not_acquired) {
    asyncio::Lock lock;
    EXPECT_THROW(lock.release(), std::runtime_error);
}

// test_locks.py: LockTests.test_context_manager
TEST(LockTests, test_context_manager) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Lock lock;
        {
            auto guard = co_await lock.scoped();
            EXPECT_TRUE(lock.locked());
        }
        EXPECT_FALSE(lock.locked());
    }());
}

// test_locks.py: EventTests.test_wait
TEST(EventTests, test_wait) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event ev;
        EXPECT_FALSE(ev.is_set());
        std::vector<int> result;
        auto c = [&](int n) -> Coroutine<bool> {
            if (co_await ev.wait()) result.push_back(n);
            co_return true;
        };
        auto t1 = asyncio::create_task(c(1));
        auto t2 = asyncio::create_task(c(2));
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        auto t3 = asyncio::create_task(c(3));
        ev.set();
        co_await run_briefly();
        // c(3) had not started when set() woke 1 and 2: it finds the flag set and goes first.
        EXPECT_EQ(result, (std::vector{3, 1, 2}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
    }());
}

// test_locks.py: EventTests.test_wait_on_set
TEST(EventTests, test_wait_on_set) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event ev;
        ev.set();
        EXPECT_TRUE(co_await ev.wait());
    }());
}

// test_locks.py: EventTests.test_wait_cancel
TEST(EventTests, test_wait_cancel) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event ev;
        auto wait = asyncio::create_task([](asyncio::Event& e) -> Coroutine<bool> { co_return co_await e.wait(); }(ev));
        asyncio::get_running_loop().call_soon([wait] { wait.cancel(); });
        EXPECT_EQ(type_name(co_await outcome(wait)), "CancelledError");
        EXPECT_EQ(ev.waiters(), 0u);
    }());
}

// test_locks.py: EventTests.test_clear_with_waiters - set() then clear() before the waiters run:
// they are woken anyway.
TEST(EventTests, test_clear_with_waiters) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event ev;
        std::vector<int> result;
        auto c = [&](int n) -> Coroutine<> {
            if (co_await ev.wait()) result.push_back(n);
        };
        auto t = asyncio::create_task(c(1));
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        ev.set();
        ev.clear();
        EXPECT_FALSE(ev.is_set());
        ev.set();
        ev.set();
        EXPECT_EQ(ev.waiters(), 1u);
        co_await run_briefly();
        EXPECT_EQ(result, std::vector{1});
        EXPECT_EQ(ev.waiters(), 0u);
        EXPECT_TRUE(t.done());
    }());
}

// test_locks.py: ConditionTests.test_wait
TEST(ConditionTests, test_wait) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Condition cond;
        std::vector<int> result;
        auto c = [&](int n) -> Coroutine<> {
            co_await cond.acquire();
            if (co_await cond.wait()) result.push_back(n);
            cond.release();
        };
        auto t1 = asyncio::create_task(c(1));
        auto t2 = asyncio::create_task(c(2));
        auto t3 = asyncio::create_task(c(3));
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        EXPECT_FALSE(cond.locked());
        EXPECT_TRUE(co_await cond.acquire());
        cond.notify();
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        EXPECT_TRUE(cond.locked());
        cond.release();
        co_await run_briefly();
        EXPECT_EQ(result, std::vector{1});
        co_await cond.acquire();
        cond.notify(2);
        cond.release();
        co_await run_briefly();
        co_await run_briefly();
        EXPECT_EQ(result, (std::vector{1, 2, 3}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
    }());
}

// test_locks.py: ConditionTests.test_wait_cancel - a cancelled wait re-acquires the lock first
TEST(ConditionTests, test_wait_cancel) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Condition cond;
        co_await cond.acquire();  // held by this task; wait() only checks that it is locked
        auto wait = asyncio::create_task([](asyncio::Condition& c) -> Coroutine<bool> { co_return co_await c.wait(); }(cond));
        asyncio::get_running_loop().call_soon([wait] { wait.cancel(); });
        EXPECT_EQ(type_name(co_await outcome(wait)), "CancelledError");
        EXPECT_EQ(cond.waiters(), 0u);
        EXPECT_TRUE(cond.locked());  // the cancelled waiter holds the lock again
        cond.release();
    }());
}

// test_locks.py: ConditionTests.test_wait_unacquired
TEST(ConditionTests, test_wait_unacquired) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Condition cond;
        EXPECT_TRUE(as<std::runtime_error>(co_await outcome(cond.wait())));
    }());
}

// test_locks.py: ConditionTests.test_wait_for
TEST(ConditionTests, test_wait_for) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Condition cond;
        bool presult = false;
        std::vector<int> result;
        auto c1 = [&]() -> Coroutine<> {
            co_await cond.acquire();
            if (co_await cond.wait_for([&] { return presult; })) result.push_back(1);
            cond.release();
        };
        auto t = asyncio::create_task(c1());
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await run_briefly();
        EXPECT_TRUE(result.empty());
        presult = true;
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await run_briefly();
        EXPECT_EQ(result, std::vector{1});
        EXPECT_TRUE(t.done());
    }());
}

// test_locks.py: ConditionTests.test_notify_unacquired / test_notify_all_unacquired
TEST(ConditionTests, test_notify_unacquired) {
    asyncio::Condition cond;
    EXPECT_THROW(cond.notify(), std::runtime_error);
    EXPECT_THROW(cond.notify_all(), std::runtime_error);
}

// test_locks.py: ConditionTests.test_cancelled_error_wakeup (gh-112202) - a waiter cancelled after
// being notified passes the notification on: the other waiter wakes.
TEST(ConditionTests, test_cancelled_error_wakeup) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Condition cond;
        int wake = 0;
        auto func = [&]() -> Coroutine<> {
            co_await cond.acquire();
            std::exception_ptr e;
            try {
                co_await cond.wait();
                wake += 1;
            } catch (...) {
                e = std::current_exception();
            }
            cond.release();
            if (e) std::rethrow_exception(e);
        };
        auto task1 = asyncio::create_task(func());
        auto task2 = asyncio::create_task(func());
        co_await run_briefly();
        co_await cond.acquire();
        cond.notify();  // wakes task1...
        task1.cancel();  // ...which is cancelled before it runs
        cond.release();
        co_await run_briefly();
        co_await run_briefly();
        EXPECT_TRUE(task1.cancelled());
        EXPECT_EQ(wake, 1);  // task2 got the notification
        EXPECT_TRUE(task2.done());
    }());
}

// test_locks.py: SemaphoreTests.test_initial_value_zero
TEST(SemaphoreTests, test_initial_value_zero) {
    asyncio::Semaphore sem(0);
    EXPECT_TRUE(sem.locked());
    EXPECT_THROW(asyncio::Semaphore(-1), std::invalid_argument);
}

// test_locks.py: SemaphoreTests.test_acquire - FIFO among waiters
TEST(SemaphoreTests, test_acquire) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Semaphore sem(3);
        std::vector<int> result;
        EXPECT_TRUE(co_await sem.acquire());
        EXPECT_TRUE(co_await sem.acquire());
        EXPECT_FALSE(sem.locked());
        auto c = [&](int n) -> Coroutine<> {
            co_await sem.acquire();
            result.push_back(n);
        };
        auto t1 = asyncio::create_task(c(1));
        auto t2 = asyncio::create_task(c(2));
        auto t3 = asyncio::create_task(c(3));
        co_await run_briefly();
        EXPECT_EQ(result, std::vector{1});
        EXPECT_TRUE(sem.locked());
        EXPECT_EQ(sem.waiters(), 2u);
        EXPECT_EQ(sem.value(), 0);
        auto t4 = asyncio::create_task(c(4));
        sem.release();
        sem.release();
        EXPECT_EQ(sem.value(), 0);  // 3.13: each release hands its unit to a waiter at once
        co_await run_briefly();
        EXPECT_EQ(sem.value(), 0);
        EXPECT_EQ(result, (std::vector{1, 2, 3}));
        EXPECT_TRUE(sem.locked());
        EXPECT_EQ(sem.waiters(), 1u);
        sem.release();
        co_await t4;
        EXPECT_EQ(result, (std::vector{1, 2, 3, 4}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
    }());
}

// test_locks.py: SemaphoreTests.test_acquire_cancel
TEST(SemaphoreTests, test_acquire_cancel) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Semaphore sem;
        co_await sem.acquire();
        auto acquire = asyncio::create_task([](asyncio::Semaphore& s) -> Coroutine<bool> { co_return co_await s.acquire(); }(sem));
        asyncio::get_running_loop().call_soon([acquire] { acquire.cancel(); });
        EXPECT_EQ(type_name(co_await outcome(acquire)), "CancelledError");
        EXPECT_EQ(sem.waiters(), 0u);
    }());
}

// test_locks.py: SemaphoreTests.test_acquire_cancel_before_awoken - a unit released to a waiter
// cancelled before it ran goes to the next waiter.
TEST(SemaphoreTests, test_acquire_cancel_before_awoken) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Semaphore sem(0);
        auto acq = [](asyncio::Semaphore& s) -> Coroutine<bool> { co_return co_await s.acquire(); };
        auto t1 = asyncio::create_task(acq(sem));
        auto t2 = asyncio::create_task(acq(sem));
        auto t3 = asyncio::create_task(acq(sem));
        auto t4 = asyncio::create_task(acq(sem));
        co_await run_briefly();
        t1.cancel();
        t2.cancel();
        sem.release();
        co_await run_briefly();
        int num_done = 0;
        for (auto* t : {&t3, &t4}) num_done += t->done() ? 1 : 0;
        EXPECT_EQ(num_done, 1);
        EXPECT_TRUE(t3.done());
        EXPECT_FALSE(t4.done());
        t4.cancel();
        co_await asyncio::sleep(0);
    }());
}

// test_locks.py: SemaphoreTests.test_acquire_hang - cancelling a woken waiter does not hang the
// others.
TEST(SemaphoreTests, test_acquire_hang) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Semaphore sem(0);
        auto acq = [](asyncio::Semaphore& s) -> Coroutine<bool> { co_return co_await s.acquire(); };
        auto t1 = asyncio::create_task(acq(sem));
        auto t2 = asyncio::create_task(acq(sem));
        co_await run_briefly();
        sem.release();
        t1.cancel();
        co_await run_briefly();
        EXPECT_TRUE(t2.done());
    }());
}

// test_locks.py: SemaphoreTests.test_release_not_acquired (BoundedSemaphore)
TEST(SemaphoreTests, test_release_not_acquired) {
    asyncio::BoundedSemaphore sem;
    EXPECT_THROW(sem.release(), std::invalid_argument);
}

// test_locks.py: SemaphoreTests.test_acquire_fifo_order
TEST(SemaphoreTests, test_acquire_fifo_order) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Semaphore sem(1);
        std::vector<std::string> result;
        auto coro = [&](std::string tag) -> Coroutine<> {
            co_await sem.acquire();
            result.push_back(tag + "_1");
            co_await asyncio::sleep(1ms);
            sem.release();
            co_await sem.acquire();
            result.push_back(tag + "_2");
            co_await asyncio::sleep(1ms);
            sem.release();
        };
        auto tg_body = [&](asyncio::TaskGroup& tg) -> Coroutine<> {
            tg.create_task(coro("c1"));
            tg.create_task(coro("c2"));
            tg.create_task(coro("c3"));
            co_return;
        };
        co_await asyncio::TaskGroup::run(tg_body);
        EXPECT_EQ(result, (std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"}));
    }());
}

}  // namespace
