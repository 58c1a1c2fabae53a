// CPython's Lib/test/test_thread.py, ported: its LockTests run lock_tests.LockTests (with
// BaseLockTests) on _thread.allocate_lock, which is nogil::threading::Lock. ThreadRunningTests
// and the _thread module functions (start_new_thread, stack_size, _count, interrupt_main,
// TestForkInThread's os.fork + _thread) are not applicable: nogil has no `_thread` layer; its
// Thread is tested in test_threading.cpp.
#include "lock_tests.hpp"

#include <nogil/errors.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

namespace threading = nogil::threading;
using namespace std::chrono_literals;
using cpython_lock_tests::bunch;
using threading::Lock;

// lock_tests.py: BaseLockTests.test_constructor
TEST(LockTests, test_constructor) {
    Lock lock;
    EXPECT_FALSE(lock.locked());
}

// lock_tests.py: BaseLockTests.test_repr, test_locked_repr — not applicable: no repr in C++.

// lock_tests.py: BaseLockTests.test_acquire_destroy
TEST(LockTests, test_acquire_destroy) {
    auto lock = std::make_unique<Lock>();
    lock->acquire();
    lock.reset();
}

// lock_tests.py: BaseLockTests.test_acquire_release
TEST(LockTests, test_acquire_release) {
    Lock lock;
    lock.acquire();
    lock.release();
    EXPECT_FALSE(lock.locked());
}

// lock_tests.py: BaseLockTests.test_try_acquire
TEST(LockTests, test_try_acquire) {
    Lock lock;
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

// lock_tests.py: BaseLockTests.test_try_acquire_contended
TEST(LockTests, test_try_acquire_contended) {
    Lock lock;
    lock.acquire();
    bool result = true;
    std::thread([&] { result = lock.acquire(false); }).join();
    EXPECT_FALSE(result);
    lock.release();
}

// lock_tests.py: BaseLockTests.test_acquire_contended
TEST(LockTests, test_acquire_contended) {
    Lock lock;
    lock.acquire();
    constexpr int N = 5;
    std::atomic<int> started{0}, finished{0};
    std::thread releaser([&] {
        while (started.load() < N) std::this_thread::yield();
        EXPECT_EQ(finished.load(), 0);  // every thread is blocked on the lock
        lock.release();
    });
    bunch(N, [&] {
        started.fetch_add(1);
        lock.acquire();
        lock.release();
        finished.fetch_add(1);
    });
    releaser.join();
    EXPECT_EQ(finished.load(), N);
}

// lock_tests.py: BaseLockTests.test_with (Python's `with lock:` is std::scoped_lock)
TEST(LockTests, test_with) {
    Lock lock;
    {
        std::scoped_lock guard(lock);
        EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
    try {
        std::scoped_lock guard(lock);
        throw std::runtime_error("inside with");
    } catch (const std::runtime_error&) {
    }
    EXPECT_FALSE(lock.locked());  // released on the exception too
}

// lock_tests.py: BaseLockTests.test_thread_leak — not applicable: it counts Python thread objects.

// lock_tests.py: BaseLockTests.test_timeout (without its wall-clock assertions)
TEST(LockTests, test_timeout) {
    Lock lock;
    // Can't set timeout if not blocking
    EXPECT_THROW(lock.acquire(false, 1s), std::invalid_argument);
    // Invalid timeout values
    EXPECT_THROW(lock.acquire(-100s), std::invalid_argument);
    EXPECT_THROW(lock.acquire(std::chrono::duration<double>(1e100)), nogil::OverflowError);
    EXPECT_THROW(lock.acquire(threading::TIMEOUT_MAX + std::chrono::duration<double>(1)), nogil::OverflowError);
    // TIMEOUT_MAX is ok
    EXPECT_TRUE(lock.acquire(threading::TIMEOUT_MAX));
    lock.release();
    EXPECT_TRUE(lock.acquire(5s));
    bool result = true;
    std::thread([&] { result = lock.acquire(500ms); }).join();
    EXPECT_FALSE(result);
    lock.release();
}

// test_threading.py: threading.TIMEOUT_MAX is _thread.TIMEOUT_MAX: the value of CPython on Linux.
TEST(LockTests, TIMEOUT_MAX_value) { EXPECT_EQ(threading::TIMEOUT_MAX.count(), 9223372036.0); }

// lock_tests.py: BaseLockTests.test_weakref_exists, test_weakref_deleted — not applicable: no
// weak references to a lock object.

// lock_tests.py: LockTests.test_reacquire (a Lock is not reentrant: a second acquire blocks until
// another thread releases it)
TEST(LockTests, test_reacquire) {
    Lock lock;
    std::atomic<int> phase{0};
    std::thread t([&] {
        lock.acquire();
        phase = 1;
        lock.acquire();  // blocks until the main thread releases it
        lock.release();
        phase = 2;
    });
    while (phase.load() != 1) std::this_thread::yield();
    EXPECT_EQ(phase.load(), 1);
    lock.release();
    t.join();
    EXPECT_EQ(phase.load(), 2);
}

// lock_tests.py: LockTests.test_different_thread (a Lock can be released by another thread)
TEST(LockTests, test_different_thread) {
    Lock lock;
    std::thread([&] { lock.acquire(); }).join();
    lock.release();
    EXPECT_FALSE(lock.locked());
}

// lock_tests.py: LockTests.test_state_after_timeout
TEST(LockTests, test_state_after_timeout) {
    // Issue #11618: check that lock is in a proper state after a (non-zero) timeout.
    Lock lock;
    lock.acquire();
    EXPECT_FALSE(lock.acquire(10ms));
    lock.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

// lock_tests.py: LockTests.test_release_unacquired (3.13: RuntimeError on releasing an unlocked lock)
TEST(LockTests, test_release_unacquired) {
    Lock lock;
    EXPECT_THROW(lock.release(), std::runtime_error);
}

// lock_tests.py: LockTests.test_at_fork_reinit — not applicable: _at_fork_reinit is private.

}  // namespace
