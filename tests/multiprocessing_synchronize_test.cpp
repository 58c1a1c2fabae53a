// Mirrors the core of CPython's _test_multiprocessing.py _TestLock, _TestSemaphore,
// _TestCondition, _TestEvent and _TestBarrier: the primitives shared between processes.
#include "multiprocessing_test_support.hpp"

#include <set>
#include <thread>

namespace mp = nogil::multiprocessing;
using namespace mp_test;
using namespace std::chrono_literals;

namespace {

void increment_many(mp::Lock lock, mp::Value<long> counter, int times) {
    for (int i = 0; i < times; ++i) {
        std::scoped_lock guard(lock);
        long v = counter.get_obj();  // a racy read-modify-write unless the lock excludes
        counter.get_obj() = v + 1;
    }
}

void try_lock_in_child(mp::Connection conn, mp::Lock lock, mp::RLock rlock) {
    conn.send(std::make_pair(lock.acquire(false), rlock.acquire(false)));
}

void release_semaphore_after_signal(mp::Connection conn, mp::Semaphore sem) {
    (void)conn.recv<int>();
    sem.release();
}

void set_event(mp::Event event) { event.set(); }

void wait_on_condition(mp::Connection conn, mp::Condition cond, mp::Value<int> flag) {
    std::scoped_lock lock(cond);
    conn.send(std::string("waiting"));  // sent while holding the lock: the parent cannot notify yet
    bool ok = cond.wait_for([&] { return flag.get_obj() == 1; }, 60s);
    conn.send(ok);
}

void barrier_party(mp::Connection conn, mp::Barrier barrier) { conn.send(barrier.wait(60s)); }

void barrier_expect_broken(mp::Connection conn, mp::Barrier barrier) {
    try {
        barrier.wait(60s);
        conn.send(std::string("passed"));
    } catch (const nogil::BrokenBarrierError&) {
        conn.send(std::string("broken"));
    }
}

using SynchronizeTest = StartMethodTest;

TEST_P(SynchronizeTest, LockExcludesAcrossProcesses) {
    mp::Lock lock;
    mp::Value<long> counter(0);
    constexpr int kChildren = 3, kTimes = 2000;
    std::vector<mp::Process> procs;
    for (int i = 0; i < kChildren; ++i) procs.emplace_back(increment_many, lock, counter, kTimes, options());
    for (auto& p : procs) p.start();
    increment_many(lock, counter, kTimes);
    for (auto& p : procs) {
        p.join(kBound);
        EXPECT_EQ(p.exitcode(), 0);
    }
    EXPECT_EQ(counter.value(), (kChildren + 1) * kTimes);
}

TEST_P(SynchronizeTest, HeldLocksAreHeldInTheChild) {
    mp::Lock lock;
    mp::RLock rlock;
    ASSERT_TRUE(lock.acquire());
    ASSERT_TRUE(rlock.acquire());
    auto [conn, child] = mp::Pipe();
    mp::Process p(try_lock_in_child, child, lock, rlock, options());
    p.start();
    ASSERT_TRUE(conn.poll(kBound));
    auto [got_lock, got_rlock] = conn.recv<std::pair<bool, bool>>();
    EXPECT_FALSE(got_lock);
    EXPECT_FALSE(got_rlock);
    p.join(kBound);
    lock.release();
    rlock.release();
    mp::Process q(try_lock_in_child, child, lock, rlock, options());
    q.start();
    ASSERT_TRUE(conn.poll(kBound));
    auto [now_lock, now_rlock] = conn.recv<std::pair<bool, bool>>();
    EXPECT_TRUE(now_lock);  // the child exits holding them: fine for this test
    EXPECT_TRUE(now_rlock);
    q.join(kBound);
}

TEST_P(SynchronizeTest, SemaphoreReleasedByChild) {
    mp::Semaphore sem(0);
    auto [conn, child] = mp::Pipe();
    mp::Process p(release_semaphore_after_signal, child, sem, options());
    p.start();
    EXPECT_FALSE(sem.acquire(false));
    conn.send(1);
    EXPECT_TRUE(sem.acquire(kBound));
    p.join(kBound);
}

TEST_P(SynchronizeTest, EventSetByChild) {
    mp::Event event;
    EXPECT_FALSE(event.is_set());
    mp::Process p(set_event, event, options());
    p.start();
    EXPECT_TRUE(event.wait(kBound));
    EXPECT_TRUE(event.is_set());
    p.join(kBound);
}

TEST_P(SynchronizeTest, ConditionNotifyWakesChild) {
    mp::Condition cond;
    mp::Value<int> flag(0);
    auto [conn, child] = mp::Pipe();
    mp::Process p(wait_on_condition, child, cond, flag, options());
    p.start();
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_EQ(conn.recv<std::string>(), "waiting");
    {
        std::scoped_lock lock(cond);  // acquired only once the child is inside wait()
        flag.get_obj() = 1;
        cond.notify();
    }
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_TRUE(conn.recv<bool>());
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(SynchronizeTest, BarrierAcrossProcesses) {
    constexpr int kParties = 4;
    mp::Barrier barrier(kParties);
    auto [conn, child] = mp::Pipe();
    std::vector<mp::Process> procs;
    for (int i = 0; i < kParties - 1; ++i) procs.emplace_back(barrier_party, child, barrier, options());
    for (auto& p : procs) p.start();
    std::set<int> indices{barrier.wait(kBound)};
    for (int i = 0; i < kParties - 1; ++i) {
        ASSERT_TRUE(conn.poll(kBound));
        indices.insert(conn.recv<int>());
    }
    EXPECT_EQ(indices, (std::set<int>{0, 1, 2, 3}));
    for (auto& p : procs) p.join(kBound);
}

TEST_P(SynchronizeTest, BarrierAbortBreaksWaitingChild) {
    mp::Barrier barrier(2);
    auto [conn, child] = mp::Pipe();
    mp::Process p(barrier_expect_broken, child, barrier, options());
    p.start();
    // Abort only once the child is waiting (n_waiting is shared state).
    auto deadline = std::chrono::steady_clock::now() + kBound;
    while (barrier.n_waiting() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_EQ(barrier.n_waiting(), 1);
    barrier.abort();
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_EQ(conn.recv<std::string>(), "broken");
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(barrier.wait(), nogil::BrokenBarrierError);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
    p.join(kBound);
}

MP_INSTANTIATE_START_METHODS(SynchronizeTest);

TEST(Lock, AcquireReleaseAndErrors) {
    mp::Lock lock;
    EXPECT_TRUE(lock.acquire());
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_FALSE(lock.try_lock());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(lock.acquire(30ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
    lock.release();
    EXPECT_THROW(lock.release(), std::invalid_argument);
    EXPECT_TRUE(lock.acquire(false));
    mp::Lock same = lock;  // a copy is the same lock
    EXPECT_FALSE(same.acquire(false));
    same.release();
}

// _multiprocessing.SemLock.acquire treats a negative timeout as zero (one try), where
// threading.Lock.acquire raises ValueError: the multiprocessing rule holds for every SemLock.
TEST(Lock, NegativeTimeoutTriesOnce) {
    mp::Lock lock;
    EXPECT_TRUE(lock.acquire(-1s));
    EXPECT_FALSE(lock.acquire(-1s));
    lock.release();
    mp::RLock rlock;
    EXPECT_TRUE(rlock.acquire(-1s));
    EXPECT_TRUE(rlock.acquire(-1s));  // recursion
    rlock.release();
    rlock.release();
    mp::Semaphore sem(1);
    EXPECT_TRUE(sem.acquire(-1s));
    EXPECT_FALSE(sem.acquire(-1s));
    sem.release();
}

TEST(Lock, ThreadsOfOneProcessExclude) {
    mp::Lock lock;
    long counter = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 5000; ++i) {
                std::scoped_lock guard(lock);
                ++counter;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(counter, 20000);
}

TEST(RLock, RecursionAndOwnership) {
    mp::RLock rlock;
    EXPECT_TRUE(rlock.acquire());
    EXPECT_TRUE(rlock.acquire());
    bool other_thread_got_it = true;
    bool other_thread_release_threw = false;
    std::thread([&] {
        other_thread_got_it = rlock.acquire(false);
        try {
            rlock.release();
        } catch (const std::runtime_error&) {
            other_thread_release_threw = true;
        }
    }).join();
    EXPECT_FALSE(other_thread_got_it);
    EXPECT_TRUE(other_thread_release_threw);
    rlock.release();
    rlock.release();
    EXPECT_THROW(rlock.release(), std::runtime_error);
}

TEST(Semaphore, CountsAndBounds) {
    mp::Semaphore sem(2);
    EXPECT_EQ(sem.get_value(), 2);
    EXPECT_TRUE(sem.acquire());
    EXPECT_TRUE(sem.acquire(false));
    EXPECT_FALSE(sem.acquire(false));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(sem.acquire(20ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    sem.release(2);
    EXPECT_EQ(sem.get_value(), 2);
    EXPECT_THROW(mp::Semaphore(-1), std::invalid_argument);
    mp::BoundedSemaphore bounded(1);
    EXPECT_THROW(bounded.release(), std::invalid_argument);
    EXPECT_TRUE(bounded.acquire());
    bounded.release();
    EXPECT_EQ(bounded.get_value(), 1);
}

TEST(Event, WaitTimesOutThenSucceeds) {
    mp::Event event;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(event.wait(20ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    event.set();
    EXPECT_TRUE(event.wait(0ms));
    EXPECT_TRUE(event.wait());
    event.clear();
    EXPECT_FALSE(event.is_set());
}

TEST(Condition, WaitRequiresLockAndTimesOut) {
    mp::Condition cond;
    EXPECT_THROW(cond.wait(1ms), std::runtime_error);
    EXPECT_THROW(cond.notify(), std::runtime_error);
    std::scoped_lock lock(cond);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(cond.wait(20ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    cond.notify_all();  // nobody waiting: no effect, no hang
}

TEST(Condition, NotifyAllWakesEveryThread) {
    mp::Condition cond;
    int ready = 0, go = 0, woken = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&] {
            std::scoped_lock lock(cond);
            ++ready;
            cond.notify_all();
            if (cond.wait_for([&] { return go == 1; }, 60s)) ++woken;
        });
    {
        std::scoped_lock lock(cond);
        ASSERT_TRUE(cond.wait_for([&] { return ready == 3; }, 60s));
        go = 1;
        cond.notify_all();
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(woken, 3);
}

TEST(Barrier, TimeoutBreaksItAndResetRepairs) {
    mp::Barrier barrier(2);
    EXPECT_EQ(barrier.parties(), 2);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(barrier.wait(20ms), nogil::BrokenBarrierError);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_TRUE(barrier.broken());
    barrier.reset();
    std::thread other([&] { barrier.wait(60s); });
    barrier.wait(60s);
    other.join();
    EXPECT_THROW(mp::Barrier(0), std::invalid_argument);
}

}  // namespace
