// Lock, Event, Condition, Semaphore, BoundedSemaphore: CPython's test_asyncio/test_locks.py
// behaviours (FIFO order, the cancellation races), plus a randomized cancellation stress test.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/locks.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

asyncio::Coroutine<> lock_append(asyncio::Lock* lock, std::vector<int>* out, int tag) {
    {
        bool ok = co_await lock->acquire();
        EXPECT_TRUE(ok);
    }
    out->push_back(tag);
}

TEST(AsyncioLock, AcquireReleaseAndMessages) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        EXPECT_FALSE(lock.locked());
        {
        bool ok = co_await lock.acquire();
        EXPECT_TRUE(ok);
    }
        EXPECT_TRUE(lock.locked());
        lock.release();
        EXPECT_FALSE(lock.locked());
        try {
            lock.release();
            ADD_FAILURE();
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "Lock is not acquired.");
        }
    }());
}

TEST(AsyncioLock, WaitersAcquireInFifoOrderOneReleaseAtATime) {  // test_acquire
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        std::vector<int> result;
        co_await lock.acquire();
        auto t1 = asyncio::create_task(lock_append(&lock, &result, 1));
        auto t2 = asyncio::create_task(lock_append(&lock, &result, 2));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(result.empty());
        lock.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        auto t3 = asyncio::create_task(lock_append(&lock, &result, 3));
        lock.release();  // t3 starts first but must queue behind t2
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2}));
        lock.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
        lock.release();
    }());
}

TEST(AsyncioLock, CancelledWaiterLeavesNoTrace) {  // test_acquire_cancel
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        co_await lock.acquire();
        auto t = asyncio::create_task([](asyncio::Lock* l) -> asyncio::Coroutine<> { co_await l->acquire(); }(&lock));
        co_await asyncio::sleep(0);
        EXPECT_EQ(lock.waiters(), 1u);
        t.cancel();
        EXPECT_EQ(lock.waiters(), 0u);
        EXPECT_THROW(co_await t, asyncio::CancelledError);
        EXPECT_TRUE(lock.locked());
        lock.release();
        EXPECT_FALSE(lock.locked());
    }());
}

asyncio::Coroutine<> lockit(asyncio::Lock* lock, asyncio::Future<> blocker) {
    co_await lock->acquire();
    auto guard = asyncio::Guard<asyncio::Lock>(*lock);
    co_await blocker;
}
asyncio::Coroutine<> lockit(asyncio::Lock* lock) {
    auto guard = co_await lock->scoped();
    co_return;
}

TEST(AsyncioLock, CancelRace) {  // test_cancel_race
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        asyncio::Future<> fa;
        auto ta = asyncio::create_task(lockit(&lock, fa));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(lock.locked());
        auto tb = asyncio::create_task(lockit(&lock));
        co_await asyncio::sleep(0);
        EXPECT_EQ(lock.waiters(), 1u);
        auto tc = asyncio::create_task(lockit(&lock));
        co_await asyncio::sleep(0);
        EXPECT_EQ(lock.waiters(), 2u);
        fa.set_result();
        tb.cancel();
        co_await asyncio::sleep(0);
        EXPECT_FALSE(lock.locked());  // ta released; tc is woken but has not run yet
        EXPECT_TRUE(ta.done());
        EXPECT_TRUE(tb.cancelled());
        co_await tc;
        EXPECT_FALSE(lock.locked());
    }());
}

TEST(AsyncioLock, CancelReleaseRaceTakesOnlyOneLock) {  // test_cancel_release_race
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        int lock_count = 0;
        co_await lock.acquire();
        auto lockit2 = [](asyncio::Lock* l, int* count) -> asyncio::Coroutine<> {
            co_await l->acquire();
            ++*count;
        };
        auto t1 = asyncio::create_task(lockit2(&lock, &lock_count));
        auto t2 = asyncio::create_task(lockit2(&lock, &lock_count));
        auto t3 = asyncio::create_task(lockit2(&lock, &lock_count));
        co_await asyncio::sleep(0);
        asyncio::get_running_loop().call_soon([&] {
            t1.cancel();
            lock.release();
        });
        EXPECT_THROW(co_await t1, asyncio::CancelledError);
        co_await asyncio::sleep(0);
        EXPECT_EQ(lock_count, 1);
        EXPECT_TRUE(t1.cancelled() && t2.done());
        t3.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t3.cancelled());
    }());
}

TEST(AsyncioLock, WakeUpGivenToACancelledWaiterPassesOn) {  // test_finished_waiter_cancelled, + after release
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        co_await lock.acquire();
        auto tb = asyncio::create_task(lockit(&lock));
        co_await asyncio::sleep(0);
        auto tc = asyncio::create_task(lockit(&lock));
        co_await asyncio::sleep(0);
        lock.release();  // tb is handed the lock...
        tb.cancel();     // ...and cancelled before it runs: tc must get it
        co_await tc;
        EXPECT_TRUE(tb.cancelled());
        EXPECT_FALSE(lock.locked());
        EXPECT_EQ(lock.waiters(), 0u);
    }());
}

TEST(AsyncioLock, ScopedGuardReleasesOnExitAndOnException) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        {
            auto guard = co_await lock.scoped();
            EXPECT_TRUE(lock.locked());
            EXPECT_TRUE(guard.owns());
        }
        EXPECT_FALSE(lock.locked());
        try {
            auto guard = co_await lock.scoped();
            throw std::logic_error("boom");
        } catch (const std::logic_error&) {
        }
        EXPECT_FALSE(lock.locked());
        auto guard = co_await lock.scoped();
        guard.release();
        EXPECT_FALSE(lock.locked());
    }());
}

TEST(AsyncioLock, AcquireUnderWaitForTimesOut) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        co_await lock.acquire();
        EXPECT_THROW(co_await asyncio::wait_for(lock.acquire(), 1ms), asyncio::TimeoutError);
        EXPECT_EQ(lock.waiters(), 0u);
        lock.release();
        {
        bool ok = co_await asyncio::wait_for(lock.acquire(), 1s);
        EXPECT_TRUE(ok);
    }
        lock.release();
    }());
}

TEST(AsyncioLock, AcquireOutsideATaskThrows) {
    asyncio::Lock lock;
    lock.acquire().await_ready();  // takes the fast path
    EXPECT_TRUE(lock.locked());
    auto aw = lock.acquire();
    EXPECT_FALSE(aw.await_ready());
    EXPECT_THROW(aw.await_suspend(std::noop_coroutine()), std::runtime_error);
}

asyncio::Coroutine<> hand_over_then_stop(asyncio::Lock* lock, asyncio::EventLoop* loop) {
    co_await lock->acquire();
    co_await asyncio::sleep(0);  // lockit() is now waiting
    loop->stop();                // the loop stops after this turn...
    lock->release();             // ...so the waiter handed the lock never runs
}

TEST(AsyncioLock, WaiterHandedTheLockButDestroyedAtLoopCloseLeavesItFree) {
    asyncio::Lock lock;  // outlives the loop
    {
        asyncio::EventLoop loop;
        auto main_task = loop.create_task(hand_over_then_stop(&lock, &loop));
        auto waiter = loop.create_task(lockit(&lock));
        loop.run_forever();
        EXPECT_TRUE(main_task.done());
        EXPECT_FALSE(waiter.done());
        EXPECT_EQ(lock.waiters(), 1u);  // woken, not yet run
        loop.close();                   // destroys the waiter's frame: the grant is passed on
    }
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(lock.waiters(), 0u);
}

// ------------------------------------------------------------------------------------- Event

asyncio::Coroutine<> event_append(asyncio::Event* ev, std::vector<int>* out, int tag) {
    bool ok = co_await ev->wait();
    if (ok) out->push_back(tag);
}

TEST(AsyncioEvent, SetWakesAllWaitersNewcomerFirst) {  // test_wait
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event ev;
        EXPECT_FALSE(ev.is_set());
        std::vector<int> result;
        auto t1 = asyncio::create_task(event_append(&ev, &result, 1));
        auto t2 = asyncio::create_task(event_append(&ev, &result, 2));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(result.empty());
        auto t3 = asyncio::create_task(event_append(&ev, &result, 3));
        ev.set();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{3, 1, 2}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
        {
        bool ok = co_await ev.wait();
        EXPECT_TRUE(ok);
    }  // test_wait_on_set
    }());
}

TEST(AsyncioEvent, ClearWithWaitersStillWakesThem) {  // test_clear_with_waiters
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event ev;
        std::vector<int> result;
        auto t = asyncio::create_task(event_append(&ev, &result, 1));
        co_await asyncio::sleep(0);
        ev.set();
        ev.clear();
        EXPECT_FALSE(ev.is_set());
        ev.set();
        ev.set();
        EXPECT_EQ(ev.waiters(), 1u);
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        EXPECT_EQ(ev.waiters(), 0u);
        EXPECT_TRUE(t.done());
    }());
}

TEST(AsyncioEvent, CancelledWaiterLeaves) {  // test_wait_cancel
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event ev;
        auto t = asyncio::create_task([](asyncio::Event* e) -> asyncio::Coroutine<> { co_await e->wait(); }(&ev));
        asyncio::get_running_loop().call_soon([t] { t.cancel(); });
        EXPECT_THROW(co_await t, asyncio::CancelledError);
        EXPECT_EQ(ev.waiters(), 0u);
    }());
}

// --------------------------------------------------------------------------------- Condition

asyncio::Coroutine<> cond_append(asyncio::Condition* cond, std::vector<int>* out, int tag, bool release) {
    co_await cond->acquire();
    bool ok = co_await cond->wait();
    if (ok) out->push_back(tag);
    if (release) cond->release();
}

TEST(AsyncioCondition, WaitNotifyReacquiresInOrder) {  // test_wait
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        std::vector<int> result;
        auto t1 = asyncio::create_task(cond_append(&cond, &result, 1, false));
        auto t2 = asyncio::create_task(cond_append(&cond, &result, 2, false));
        auto t3 = asyncio::create_task(cond_append(&cond, &result, 3, false));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(result.empty());
        EXPECT_FALSE(cond.locked());
        {
        bool ok = co_await cond.acquire();
        EXPECT_TRUE(ok);
    }
        cond.notify();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(result.empty());
        EXPECT_TRUE(cond.locked());
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        EXPECT_TRUE(cond.locked());
        cond.notify(2);
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2}));
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(cond.locked());
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
        cond.release();
    }());
}

TEST(AsyncioCondition, NotifyNAndNotifyAll) {  // test_notify, test_notify_all
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        std::vector<int> result;
        std::vector<asyncio::Task<>> tasks;
        for (int i = 1; i <= 3; ++i) tasks.push_back(asyncio::create_task(cond_append(&cond, &result, i, true)));
        co_await asyncio::sleep(0);
        co_await cond.acquire();
        cond.notify(1);
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        co_await cond.acquire();
        cond.notify(1);
        cond.notify(2048);
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
        tasks.push_back(asyncio::create_task(cond_append(&cond, &result, 4, true)));
        tasks.push_back(asyncio::create_task(cond_append(&cond, &result, 5, true)));
        co_await asyncio::sleep(0);
        co_await cond.acquire();
        cond.notify_all();
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4, 5}));
    }());
}

TEST(AsyncioCondition, WaitAndNotifyWithoutTheLockThrow) {  // test_wait_unacquired, test_notify_unacquired
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        try {
            co_await cond.wait();
            ADD_FAILURE();
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "cannot wait on un-acquired lock");
        }
        try {
            cond.notify();
            ADD_FAILURE();
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "cannot notify on un-acquired lock");
        }
        EXPECT_THROW(cond.notify_all(), std::runtime_error);
    }());
}

TEST(AsyncioCondition, CancelledWaitStillReacquiresTheLock) {  // test_wait_cancel, test_wait_cancel_contested
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        co_await cond.acquire();
        auto waiter = [](asyncio::Condition* c) -> asyncio::Coroutine<> { co_await c->wait(); };
        auto t = asyncio::create_task(waiter(&cond));
        co_await asyncio::sleep(0);
        EXPECT_FALSE(cond.locked());
        co_await cond.acquire();  // contest the lock, then cancel the notified waiter
        cond.notify();
        asyncio::get_running_loop().call_soon([t] { t.cancel(); });
        asyncio::get_running_loop().call_soon([&cond] { cond.release(); });
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(cond.locked());  // the cancelled waiter left with the lock re-acquired
        cond.release();
    }());
}

TEST(AsyncioCondition, CancelAfterNotifyWhileReacquiring) {  // test_wait_cancel_after_notify
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        bool waited = false;
        auto body = [](asyncio::Condition* c, bool* waited) -> asyncio::Coroutine<> {
            auto guard = co_await c->scoped();
            *waited = true;
            co_await c->wait();
        };
        auto t = asyncio::create_task(body(&cond, &waited));
        co_await asyncio::sleep(0);
        co_await cond.acquire();
        cond.notify();
        co_await asyncio::sleep(0);  // the waiter now waits to re-acquire
        t.cancel();
        co_await asyncio::sleep(0);
        cond.release();
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t.cancelled());
        EXPECT_TRUE(waited);
        EXPECT_FALSE(cond.locked());
    }());
}

TEST(AsyncioCondition, NotificationOfACancelledWaiterPassesOn) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        std::vector<int> result;
        auto body = [](asyncio::Condition* c, std::vector<int>* out, int tag) -> asyncio::Coroutine<> {
            auto guard = co_await c->scoped();
            co_await c->wait();
            out->push_back(tag);
        };
        auto t1 = asyncio::create_task(body(&cond, &result, 1));
        auto t2 = asyncio::create_task(body(&cond, &result, 2));
        co_await asyncio::sleep(0);
        co_await cond.acquire();
        cond.notify(1);  // t1 is notified...
        t1.cancel();     // ...and cancelled before it runs: t2 gets the notification
        cond.release();
        co_await t2;
        EXPECT_EQ(result, (std::vector<int>{2}));
        EXPECT_TRUE(t1.cancelled());
        EXPECT_FALSE(cond.locked());
    }());
}

TEST(AsyncioCondition, WaitForChecksThePredicate) {  // test_wait_for, test_wait_for_unacquired
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        auto answer = [] { return 42; };
        int v = co_await cond.wait_for(answer);  // true at once: no lock needed
        EXPECT_EQ(v, 42);
        auto never = [] { return false; };
        EXPECT_THROW(co_await cond.wait_for(never), std::runtime_error);
        bool presult = false;
        std::vector<int> result;
        auto body = [](asyncio::Condition* c, bool* p, std::vector<int>* out) -> asyncio::Coroutine<> {
            co_await c->acquire();
            auto pred = [p] { return *p; };
            bool ok = co_await c->wait_for(pred);
            if (ok) out->push_back(1);
            c->release();
        };
        auto t = asyncio::create_task(body(&cond, &presult, &result));
        co_await asyncio::sleep(0);
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(result.empty());
        presult = true;
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await t;
        EXPECT_EQ(result, (std::vector<int>{1}));
    }());
}

TEST(AsyncioCondition, ExplicitLockIsShared) {  // test_explicit_lock
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        asyncio::Condition cond(lock);
        {
            auto guard = co_await cond.scoped();
            EXPECT_TRUE(lock.locked());
        }
        EXPECT_FALSE(cond.locked());
        {
            auto guard = co_await lock.scoped();
            EXPECT_TRUE(cond.locked());
        }
    }());
}

TEST(AsyncioCondition, WaitUnderWaitForTimesOutWithTheLockHeld) {  // test_timeout_in_block
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Condition cond;
        auto guard = co_await cond.scoped();
        EXPECT_THROW(co_await asyncio::wait_for(cond.wait(), 1ms), asyncio::TimeoutError);
        EXPECT_TRUE(cond.locked());
    }());
}

// --------------------------------------------------------------------------------- Semaphore

asyncio::Coroutine<> sem_append(asyncio::Semaphore* sem, std::vector<int>* out, int tag) {
    co_await sem->acquire();
    out->push_back(tag);
}

TEST(AsyncioSemaphore, ValueAndMessages) {
    EXPECT_TRUE(asyncio::Semaphore(0).locked());  // test_initial_value_zero
    try {
        asyncio::Semaphore s(-1);
        ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "Semaphore initial value must be >= 0");
    }
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::BoundedSemaphore sem;
        try {
            sem.release();
            ADD_FAILURE();
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "BoundedSemaphore released too many times");
        }
        {
            auto guard = co_await sem.scoped();
            EXPECT_TRUE(sem.locked());
        }
        EXPECT_FALSE(sem.locked());
        EXPECT_EQ(sem.value(), 1);
        asyncio::Semaphore& base = sem;  // the bound holds through the base class too
        EXPECT_THROW(base.release(), std::invalid_argument);
        EXPECT_EQ(sem.value(), 1);
    }());
}

TEST(AsyncioSemaphore, WokenWaitersOwnTheirUnitsNewcomersQueue) {  // test_acquire
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Semaphore sem(3);
        std::vector<int> result;
        {
        bool ok = co_await sem.acquire();
        EXPECT_TRUE(ok);
    }
        {
        bool ok = co_await sem.acquire();
        EXPECT_TRUE(ok);
    }
        EXPECT_FALSE(sem.locked());
        auto t1 = asyncio::create_task(sem_append(&sem, &result, 1));
        auto t2 = asyncio::create_task(sem_append(&sem, &result, 2));
        auto t3 = asyncio::create_task(sem_append(&sem, &result, 3));
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1}));
        EXPECT_TRUE(sem.locked());
        EXPECT_EQ(sem.waiters(), 2u);
        EXPECT_EQ(sem.value(), 0);
        auto t4 = asyncio::create_task(sem_append(&sem, &result, 4));
        sem.release();
        sem.release();
        EXPECT_EQ(sem.value(), 0);
        co_await asyncio::sleep(0);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(sem.locked());
        EXPECT_EQ(sem.waiters(), 1u);
        EXPECT_FALSE(t4.done());
        sem.release();
        co_await t4;
    }());
}

TEST(AsyncioSemaphore, CancelBeforeAwoken) {  // test_acquire_cancel_before_awoken, test_acquire_hang
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Semaphore sem(0);
        auto acq = [](asyncio::Semaphore* s) -> asyncio::Coroutine<> { co_await s->acquire(); };
        auto t1 = asyncio::create_task(acq(&sem));
        auto t2 = asyncio::create_task(acq(&sem));
        auto t3 = asyncio::create_task(acq(&sem));
        auto t4 = asyncio::create_task(acq(&sem));
        co_await asyncio::sleep(0);
        t1.cancel();
        t2.cancel();
        sem.release();
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t3.done());
        EXPECT_FALSE(t4.done());
        EXPECT_TRUE(sem.locked());
        t4.cancel();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t4.cancelled());
    }());
}

TEST(AsyncioSemaphore, UnitOfAWaiterCancelledAfterWakeUpComesBack) {  // test_acquire_no_hang
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Semaphore sem(1);
        co_await sem.acquire();
        auto t2 = asyncio::create_task([](asyncio::Semaphore* s) -> asyncio::Coroutine<> {
            auto guard = co_await s->scoped();
            ADD_FAILURE() << "must not get the unit";
        }(&sem));
        co_await asyncio::sleep(0);
        sem.release();  // the unit goes to t2...
        t2.cancel();    // ...which is cancelled before it runs
        EXPECT_THROW(co_await t2, asyncio::CancelledError);
        EXPECT_FALSE(sem.locked());
        EXPECT_EQ(sem.value(), 1);
        {
        bool ok = co_await asyncio::wait_for(sem.acquire(), 1s);
        EXPECT_TRUE(ok);
    }
    }());
}

asyncio::Coroutine<> fifo_coro(asyncio::Semaphore* sem, std::vector<std::string>* result, std::string tag) {
    co_await sem->acquire();
    result->push_back(tag + "_1");
    co_await asyncio::sleep(1ms);
    sem->release();
    co_await sem->acquire();
    result->push_back(tag + "_2");
    co_await asyncio::sleep(1ms);
    sem->release();
}

TEST(AsyncioSemaphore, FifoOrder) {  // test_acquire_fifo_order, _2, _3
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Semaphore sem(1);
        std::vector<std::string> result;
        auto t1 = asyncio::create_task(fifo_coro(&sem, &result, "c1"));
        auto t2 = asyncio::create_task(fifo_coro(&sem, &result, "c2"));
        auto t3 = asyncio::create_task(fifo_coro(&sem, &result, "c3"));
        co_await asyncio::gather(t1, t2, t3);
        EXPECT_EQ(result, (std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"}));
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Semaphore sem(1);
        std::vector<int> result;
        auto c2 = [](asyncio::Semaphore* s, std::vector<int>* out) -> asyncio::Coroutine<> {
            co_await s->acquire();
            out->push_back(2);
            s->release();
            co_await s->acquire();
            out->push_back(4);
        };
        auto t1 = asyncio::create_task(sem_append(&sem, &result, 1));
        auto t2 = asyncio::create_task(c2(&sem, &result));
        auto t3 = asyncio::create_task(sem_append(&sem, &result, 3));
        co_await asyncio::sleep(0);
        sem.release();
        sem.release();
        co_await asyncio::gather(t1, t2, t3);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4}));
    }());
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Semaphore sem(0);
        std::vector<int> result;
        auto t1 = asyncio::create_task(sem_append(&sem, &result, 1));
        auto t2 = asyncio::create_task(sem_append(&sem, &result, 2));
        auto t3 = asyncio::create_task(sem_append(&sem, &result, 3));
        co_await asyncio::sleep(0);
        t1.cancel();
        co_await asyncio::sleep(0);
        sem.release();
        sem.release();
        co_await asyncio::gather(asyncio::return_exceptions, t1, t2, t3);
        EXPECT_EQ(result, (std::vector<int>{2, 3}));
    }());
}

// ------------------------------------------------------------------------------------ stress

// Workers take a lock / a semaphore unit and check exclusion; a chaos task cancels random
// workers at random points. Afterwards the lock is free, every unit is back, no task pends.
asyncio::Coroutine<> lock_worker(asyncio::Lock* lock, asyncio::Semaphore* sem, int* inside, int* inside_sem, int* done) {
    for (int i = 0; i < 50; ++i) {
        {
            auto guard = co_await lock->scoped();
            EXPECT_EQ(++*inside, 1);
            co_await asyncio::sleep(0);
            --*inside;
        }
        {
            auto guard = co_await sem->scoped();
            EXPECT_LE(++*inside_sem, 3);
            co_await asyncio::sleep(0);
            --*inside_sem;
        }
    }
    ++*done;
}

TEST(AsyncioLocksStress, RandomCancellationsLoseNothing) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Lock lock;
        asyncio::Semaphore sem(3);
        int inside = 0, inside_sem = 0, done = 0;
        std::mt19937 rng(12345);
        std::vector<asyncio::Task<>> tasks;
        for (int i = 0; i < 40; ++i) tasks.push_back(asyncio::create_task(lock_worker(&lock, &sem, &inside, &inside_sem, &done)));
        for (int round = 0; round < 400; ++round) {
            auto& victim = tasks[rng() % tasks.size()];
            if (rng() % 3 == 0) victim.cancel();
            if (rng() % 2 == 0) co_await asyncio::sleep(0);
        }
        co_await asyncio::gather(asyncio::return_exceptions, std::vector<asyncio::Task<>>(tasks));
        int cancelled = 0;
        for (auto& t : tasks) cancelled += t.cancelled() ? 1 : 0;
        EXPECT_EQ(cancelled + done, 40);
        EXPECT_GT(cancelled, 0);
        EXPECT_FALSE(lock.locked());
        EXPECT_EQ(lock.waiters(), 0u);
        EXPECT_EQ(sem.value(), 3);
        EXPECT_EQ(sem.waiters(), 0u);
        EXPECT_EQ(asyncio::all_tasks().size(), 1u);  // only this one
    }());
}

}  // namespace
