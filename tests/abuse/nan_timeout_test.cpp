// Attack: NaN as a timeout. It used to reach a double -> integer conversion (undefined
// behaviour; the asan build checks float-cast-overflow) in cf::Future::result,
// threading::Event::wait and every other timed wait. Each wait now has a defined answer, the
// one CPython gives where it gives one (docs/guarantees.md, "Timeouts"):
//   - "do not wait" where Python tests `timeout > 0` (Condition.wait, Event.wait, and what is
//     built on them: concurrent.futures' result()/exception()/wait(), Executor.map,
//     AsyncResult.get/wait, IMapIterator.next, Timer's interval);
//   - ValueError (std::invalid_argument) where Python converts the timeout (Lock.acquire,
//     Thread.join, Process.join, Connection.poll) and where Python has no answer (Semaphore,
//     Condition.wait_for, Barrier, as_completed spin forever; multiprocessing's SemLock casts NaN
//     to an integer in C; queue.Queue spins, and nogil's queues already refused NaN).
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/queue.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <vector>

namespace {

namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace threading = nogil::threading;
using namespace std::chrono_literals;

const std::chrono::duration<double> kNaN(std::numeric_limits<double>::quiet_NaN());
constexpr auto kBound = std::chrono::seconds(60);

int twice(int x) { return 2 * x; }

// --- "do not wait" -----------------------------------------------------------------------------

TEST(NanTimeout, EventWaitDoesNotWait) {  // threading.Event().wait(float('nan')) -> False
    threading::Event e;
    EXPECT_FALSE(e.wait(kNaN));
    e.set();
    EXPECT_TRUE(e.wait(kNaN));
}

TEST(NanTimeout, ConditionWaitDoesNotWait) {
    threading::Condition c;
    std::lock_guard guard(c);
    EXPECT_FALSE(c.wait(kNaN));
}

TEST(NanTimeout, FutureResultTimesOutAtOnce) {  // Future().result(float('nan')) -> TimeoutError
    cf::Future<int> f;
    EXPECT_THROW(f.result(kNaN), nogil::TimeoutError);
    EXPECT_THROW(f.exception(kNaN), nogil::TimeoutError);
    f.set_result(3);
    EXPECT_EQ(f.result(kNaN), 3);
}

TEST(NanTimeout, ConcurrentWaitReturnsAtOnce) {
    cf::Future<int> pending;
    std::vector<cf::Future<int>> fs{pending};
    auto [done, not_done] = cf::wait(fs, kNaN);
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(not_done.size(), 1u);
}

TEST(NanTimeout, ExecutorMapTimesOutUnlessDone) {
    cf::ThreadPoolExecutor pool(1);
    threading::Event release;
    auto blocker = pool.submit([&release] { release.wait(); });
    std::vector<int> items{1};
    auto results = pool.map([](int x) { return x; }, items, cf::MapOptions{.timeout = kNaN});
    EXPECT_THROW(*results.begin(), nogil::TimeoutError);
    release.set();
}

TEST(NanTimeout, TimerWithNanIntervalFiresAtOnce) {  // Timer.run: finished.wait(nan) -> no wait
    threading::Event fired;
    threading::Timer t(kNaN, [&fired] { fired.set(); });
    t.start();
    EXPECT_TRUE(fired.wait(kBound));
    t.join();
}

TEST(NanTimeout, AsyncResultAndImapDoNotWait) {
    mp::Pool pool(1);
    auto r = pool.apply_async(twice, 21);
    EXPECT_EQ(r.get(kBound), 42);
    EXPECT_EQ(r.get(kNaN), 42);  // ready: no wait needed
    auto it = pool.imap(twice, std::vector<int>{1, 2});
    EXPECT_EQ(it.next(kBound), 2);
    EXPECT_NO_THROW(it.next(kBound));
}

// --- ValueError ----------------------------------------------------------------------------------

TEST(NanTimeout, LockAcquireRaises) {  // Lock().acquire(timeout=nan): ValueError, before blocking's check
    threading::Lock lock;
    EXPECT_THROW(lock.acquire(true, kNaN), std::invalid_argument);
    EXPECT_THROW(lock.acquire(false, kNaN), std::invalid_argument);
    threading::RLock rlock;
    EXPECT_THROW(rlock.acquire(true, kNaN), std::invalid_argument);
    EXPECT_TRUE(lock.acquire(false)) << "nothing was acquired by the refused calls";
    lock.release();
}

TEST(NanTimeout, ThreadJoinRaises) {  // Thread.join(nan): ValueError
    threading::Event go;
    threading::Thread t([&go] { go.wait(); });
    t.start();
    EXPECT_THROW(t.join(kNaN), std::invalid_argument);
    go.set();
    t.join();
}

TEST(NanTimeout, WaitsPythonWouldSpinOnRaise) {
    threading::Semaphore s(0);
    EXPECT_THROW(s.acquire(true, kNaN), std::invalid_argument);
    threading::Condition c;
    {
        std::lock_guard guard(c);
        EXPECT_THROW(c.wait_for([] { return false; }, kNaN), std::invalid_argument);
    }
    threading::Barrier b(2);
    EXPECT_THROW(b.wait(kNaN), std::invalid_argument);
    EXPECT_FALSE(b.broken()) << "a refused wait does not break the barrier";
    EXPECT_THROW(threading::Barrier(2, nullptr, kNaN), std::invalid_argument);
    cf::Future<int> pending;
    EXPECT_THROW(cf::as_completed(std::vector<cf::Future<int>>{pending}, kNaN), std::invalid_argument);
    nogil::queue::Queue<int> q;
    EXPECT_THROW(q.get(kNaN), std::invalid_argument);
}

TEST(NanTimeout, MultiprocessingWaitsRaise) {
    mp::Lock lock;
    EXPECT_THROW(lock.acquire(kNaN), std::invalid_argument);
    mp::Semaphore sem(0);
    EXPECT_THROW(sem.acquire(kNaN), std::invalid_argument);
    mp::Event event;
    EXPECT_THROW(event.wait(kNaN), std::invalid_argument);
    mp::Queue<int> q;
    EXPECT_THROW(q.get(kNaN), std::invalid_argument);
    EXPECT_THROW(q.put(1, kNaN), std::invalid_argument);
    auto [a, b] = mp::Pipe();
    EXPECT_THROW(a.poll(kNaN), std::invalid_argument);
    mp::Process p([] {});
    p.start();
    EXPECT_THROW(p.join(kNaN), std::invalid_argument);
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
}

}  // namespace
