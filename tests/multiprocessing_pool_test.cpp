// Mirrors the core of CPython's _test_multiprocessing.py _TestPool (apply, map, starmap, imap,
// imap_unordered, async timeouts, terminate, maxtasksperchild, initializer), plus worker death.
#include "multiprocessing_test_support.hpp"

#include <algorithm>
#include <csignal>
#include <optional>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

namespace mp = nogil::multiprocessing;
using namespace mp_test;
using namespace std::chrono_literals;

namespace {

long sqr(long x) { return x * x; }
int add(int a, int b) { return a + b; }
std::string greet(const std::string& name, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += "hi " + name + ";";
    return out;
}
int my_pid(int) { return static_cast<int>(::getpid()); }
int wait_then_return(mp::Event event, int value) {
    if (!event.wait(60s)) throw std::runtime_error("event never set");
    return value;
}
void die_hard() { ::kill(::getpid(), SIGKILL); }
int exit_abruptly(int code) { ::_exit(code); }
long throw_on_five(long x) {
    if (x == 5) throw std::out_of_range("five is out of range");
    return x;
}

int initialized_value = 0;
void init_worker(int value) { initialized_value = value; }
int read_initialized() { return initialized_value; }

using PoolTest = StartMethodTest;

TEST_P(PoolTest, ApplyMapStarmap) {
    mp::Pool pool(mp::PoolOptions{.processes = 2, .start_method = GetParam()});
    EXPECT_EQ(pool.apply(sqr, 5L), 25);
    EXPECT_EQ(pool.apply(greet, std::string("bob"), 2), "hi bob;hi bob;");
    EXPECT_EQ(pool.apply([](int a) { return a * 3; }, 7), 21);  // a captureless lambda
    std::vector<long> xs(100);
    for (long i = 0; i < 100; ++i) xs[static_cast<std::size_t>(i)] = i;
    std::vector<long> expected;
    for (long x : xs) expected.push_back(x * x);
    EXPECT_EQ(pool.map(sqr, xs), expected);
    EXPECT_EQ(pool.map(sqr, xs, 7), expected);
    EXPECT_EQ(pool.map(sqr, std::vector<long>{}), std::vector<long>{});
    std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
    EXPECT_EQ(pool.starmap(add, pairs), (std::vector<int>{3, 7, 11}));
    pool.close();
    pool.join();
}

MP_INSTANTIATE_START_METHODS(PoolTest);

class PoolBasics : public ChildrenTest {};

TEST_F(PoolBasics, ImapInOrderAndUnordered) {
    mp::Pool pool(3);
    std::vector<long> xs(50);
    for (long i = 0; i < 50; ++i) xs[static_cast<std::size_t>(i)] = i;
    std::vector<long> in_order;
    for (long r : pool.imap(sqr, xs)) in_order.push_back(r);
    ASSERT_EQ(in_order.size(), 50u);
    for (long i = 0; i < 50; ++i) EXPECT_EQ(in_order[static_cast<std::size_t>(i)], i * i);

    auto it = pool.imap(sqr, xs, 4);
    for (long i = 0; i < 50; ++i) EXPECT_EQ(it.next(kBound), i * i);
    EXPECT_THROW(it.next(), std::out_of_range);  // StopIteration

    std::multiset<long> unordered;
    for (long r : pool.imap_unordered(sqr, xs, 3)) unordered.insert(r);
    std::multiset<long> expected;
    for (long x : xs) expected.insert(x * x);
    EXPECT_EQ(unordered, expected);
}

// Item 0 returns at once; every other item waits for the gate (given to each worker by its
// initializer), which the test opens only after it has read the first result: so results are
// delivered while later tasks are still running.
std::optional<mp::Event> worker_gate;
void keep_gate(mp::Event gate) { worker_gate.emplace(std::move(gate)); }
int gated(int x) {
    if (x != 0 && !worker_gate->wait(60s)) throw std::runtime_error("gate never opened");
    return x;
}

TEST_F(PoolBasics, ImapYieldsTheFirstResultBeforeTheLastTaskFinishes) {
    mp::Event gate;
    mp::Pool pool(mp::PoolOptions{.processes = 2, .initializer = mp::Initializer(keep_gate, gate)});
    auto it = pool.imap(gated, std::vector<int>{0, 1, 2, 3});
    EXPECT_EQ(it.next(kBound), 0);  // items 1..3 cannot finish before the gate opens
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(it.next(30ms), nogil::TimeoutError);  // Python's IMapIterator.next(timeout)
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
    gate.set();
    for (int i = 1; i < 4; ++i) EXPECT_EQ(it.next(kBound), i);
    EXPECT_THROW(it.next(kBound), std::out_of_range);
}

TEST_F(PoolBasics, ImapUnorderedYieldsInCompletionOrder) {
    mp::Event gate;
    mp::Pool pool(mp::PoolOptions{.processes = 2, .initializer = mp::Initializer(keep_gate, gate)});
    auto it = pool.imap_unordered(gated, std::vector<int>{3, 0, 2, 1});  // 3 holds one of the two workers
    EXPECT_EQ(it.next(kBound), 0);  // the only one that can finish before the gate opens
    gate.set();
    std::multiset<int> rest;
    for (int r : it) rest.insert(r);
    EXPECT_EQ(rest, (std::multiset<int>{1, 2, 3}));
}

TEST_F(PoolBasics, ImapConsumesItsInputLazily) {
    mp::Pool pool(2);
    auto it = pool.imap(sqr, std::views::iota(0L));  // endless: taking it all first would never return
    for (long i = 0; i < 20; ++i) EXPECT_EQ(it.next(kBound), i * i);
    pool.terminate();
    pool.join();
}

TEST_F(PoolBasics, ImapKeepsFeedingAfterClose) {
    mp::Pool pool(2);
    std::vector<long> xs(40);
    for (long i = 0; i < 40; ++i) xs[static_cast<std::size_t>(i)] = i;
    auto it = pool.imap(sqr, xs);  // 40 chunks: more than the feeder keeps in flight
    auto unordered = pool.imap_unordered(sqr, std::vector<long>(xs), 3);
    pool.close();  // Python: the tasks of an imap made before close() all run
    pool.join();
    for (long i = 0; i < 40; ++i) EXPECT_EQ(it.next(kBound), i * i);
    EXPECT_THROW(it.next(), std::out_of_range);
    long count = 0;
    for ([[maybe_unused]] long r : unordered) ++count;
    EXPECT_EQ(count, 40);
    EXPECT_THROW(pool.imap(sqr, xs), std::invalid_argument);  // Pool not running
}

TEST_F(PoolBasics, ImapInputThatThrowsFailsItsChunk) {
    mp::Pool pool(2);
    auto throwing = std::views::iota(0L, 10L) | std::views::transform([](long x) {
                        if (x == 4) throw std::domain_error("bad input");
                        return x;
                    });
    auto it = pool.imap(sqr, throwing);
    for (long i = 0; i < 4; ++i) EXPECT_EQ(it.next(kBound), i * i);
    EXPECT_THROW(it.next(kBound), std::domain_error);
    EXPECT_THROW(it.next(kBound), std::out_of_range);  // no chunk after the failure
}

TEST_F(PoolBasics, ImapRaisesAtTheFailingItem) {
    mp::Pool pool(2);
    auto it = pool.imap(throw_on_five, std::vector<long>{0, 1, 2, 3, 4, 5, 6});
    for (long i = 0; i < 5; ++i) EXPECT_EQ(it.next(kBound), i);
    EXPECT_THROW(it.next(kBound), std::out_of_range);
    EXPECT_EQ(it.next(kBound), 6);
}

TEST_F(PoolBasics, AsyncResultTimeoutReadySuccessful) {
    mp::Pool pool(2);
    mp::Event event;
    auto r = pool.apply_async(wait_then_return, event, 42);
    EXPECT_FALSE(r.ready());
    EXPECT_THROW(r.successful(), std::invalid_argument);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(r.get(30ms), nogil::TimeoutError);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
    EXPECT_FALSE(r.wait(1ms));
    event.set();
    EXPECT_EQ(r.get(kBound), 42);
    EXPECT_TRUE(r.ready());
    EXPECT_TRUE(r.successful());
    EXPECT_EQ(r.get(), 42);  // again: results can be read many times
}

TEST_F(PoolBasics, MapAsyncFailsWithTheTasksException) {
    mp::Pool pool(2);
    auto r = pool.map_async(throw_on_five, std::vector<long>{1, 5, 7}, 1);
    r.wait();
    EXPECT_FALSE(r.successful());
    EXPECT_THROW(r.get(), std::out_of_range);
}

// Python's callback= / error_callback=: they run on the pool's manager thread, before the result
// is ready (so get() returning proves they ran), and error_callback gets the task's exception.
TEST_F(PoolBasics, ApplyAsyncCallbacksRunOnTheManagerThreadBeforeReady) {
    mp::Pool pool(2);
    const auto caller = std::this_thread::get_id();
    int value = 0;
    std::thread::id ran_on = caller;
    auto r = pool.apply_async(add, 2, 3, mp::Callbacks{.callback = [&](const int& v) {
                                               value = v;
                                               ran_on = std::this_thread::get_id();
                                           }});
    EXPECT_EQ(r.get(kBound), 5);
    EXPECT_EQ(value, 5);
    EXPECT_NE(ran_on, caller);

    std::string caught;
    bool success_called = false;
    auto failing = pool.apply_async(throw_on_five, 5L,
                                    mp::Callbacks{.callback = [&](const long&) { success_called = true; },
                                                  .error_callback = [&](std::exception_ptr e) {
                                                      try {
                                                          std::rethrow_exception(e);
                                                      } catch (const std::out_of_range& ex) {
                                                          caught = ex.what();
                                                      }
                                                  }});
    failing.wait();
    EXPECT_FALSE(failing.successful());
    EXPECT_FALSE(success_called);
    EXPECT_NE(caught.find("five is out of range"), std::string::npos);

    bool void_called = false;
    auto v = pool.apply_async(init_worker, 3, mp::Callbacks{.callback = [&] { void_called = true; }});
    v.get(kBound);
    EXPECT_TRUE(void_called);
}

TEST_F(PoolBasics, CallbackThatThrowsFailsTheResult) {
    mp::Pool pool(1);
    auto r = pool.apply_async(add, 1, 1, mp::Callbacks{.callback = [](const int&) { throw std::logic_error("cb"); }});
    EXPECT_THROW(r.get(kBound), std::logic_error);
}

TEST_F(PoolBasics, MapAndStarmapAsyncCallbacks) {
    mp::Pool pool(2);
    std::vector<long> got;
    auto r = pool.map_async(sqr, std::vector<long>{1, 2, 3}, mp::Callbacks{.callback = [&](const std::vector<long>& v) { got = v; }});
    EXPECT_EQ(r.get(kBound), (std::vector<long>{1, 4, 9}));
    EXPECT_EQ(got, (std::vector<long>{1, 4, 9}));

    int errors = 0;
    auto bad = pool.map_async(throw_on_five, std::vector<long>{5, 5, 5, 1}, 1,
                              mp::Callbacks{.error_callback = [&](std::exception_ptr) { ++errors; }});
    bad.wait();
    EXPECT_THROW(bad.get(), std::out_of_range);
    pool.close();
    pool.join();  // every chunk has answered: a second error_callback would have run by now
    EXPECT_EQ(errors, 1);  // once, for the first failure, as Python

    mp::Pool other(2);
    std::vector<int> sums;
    auto s = other.starmap_async(add, std::vector<std::pair<int, int>>{{1, 2}, {3, 4}},
                                 mp::Callbacks{.callback = [&](const std::vector<int>& v) { sums = v; }});
    s.get(kBound);
    EXPECT_EQ(sums, (std::vector<int>{3, 7}));
    bool empty_called = false;
    other.map_async(sqr, std::vector<long>{}, mp::Callbacks{.callback = [&](const std::vector<long>&) { empty_called = true; }})
        .get(kBound);
    EXPECT_TRUE(empty_called);
}

// Pins the shutdown protocol's worker death rule (include/nogil/multiprocessing/detail/pool_core.hpp).
TEST_F(PoolBasics, WorkerKilledMidTaskFailsThatTaskOnly) {
    mp::Pool pool(1);
    auto doomed = pool.apply_async(die_hard);
    EXPECT_THROW(doomed.get(kBound), nogil::ProcessError);
    auto exited = pool.apply_async(exit_abruptly, 3);
    try {
        exited.get(kBound);
        ADD_FAILURE() << "expected ProcessError";
    } catch (const nogil::ProcessError& e) {
        EXPECT_NE(std::string(e.what()).find("exit code 3"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.apply(sqr, 9L), 81);  // the pool replaced the worker
}

TEST_F(PoolBasics, MaxTasksPerChildReplacesWorkers) {
    mp::Pool pool(mp::PoolOptions{.processes = 1, .maxtasksperchild = 1});
    std::set<int> pids;
    for (int i = 0; i < 4; ++i) pids.insert(pool.apply(my_pid, i));
    EXPECT_EQ(pids.size(), 4u);
    pool.close();
    pool.join();
}

TEST_F(PoolBasics, InitializerRunsInEachWorker) {
    mp::Pool pool(mp::PoolOptions{.processes = 2, .initializer = mp::Initializer(init_worker, 1234)});
    EXPECT_EQ(pool.apply(read_initialized), 1234);
    EXPECT_EQ(initialized_value, 0);  // not in the parent
}

// Pins the shutdown protocol's broken pool rule (include/nogil/multiprocessing/detail/pool_core.hpp).
TEST_F(PoolBasics, FailingInitializerBreaksThePoolInsteadOfHanging) {
    mp::Pool pool(mp::PoolOptions{.processes = 1, .initializer = mp::Initializer(exit_abruptly, 1)});
    auto r = pool.apply_async(sqr, 2L);
    EXPECT_THROW(r.get(kBound), nogil::ProcessError);
}

// Pins shutdown protocol step 2 (include/nogil/multiprocessing/detail/pool_core.hpp).
TEST_F(PoolBasics, TerminateFailsPendingTasksAndRejectsNewOnes) {
    mp::Pool pool(1);
    mp::Event never;
    auto blocked = pool.apply_async(wait_then_return, never, 1);
    auto queued = pool.apply_async(sqr, 3L);
    pool.terminate();
    pool.join();
    EXPECT_THROW(blocked.get(kBound), nogil::ProcessError);
    EXPECT_THROW(queued.get(kBound), nogil::ProcessError);
    EXPECT_THROW(pool.apply_async(sqr, 1L), std::invalid_argument);
}

// Pins shutdown protocol step 1 (include/nogil/multiprocessing/detail/pool_core.hpp).
TEST_F(PoolBasics, CloseLetsSubmittedTasksFinish) {
    mp::Pool pool(2);
    std::vector<mp::AsyncResult<long>> results;
    for (long i = 0; i < 10; ++i) results.push_back(pool.apply_async(sqr, i));
    pool.close();
    EXPECT_THROW(pool.apply(sqr, 1L), std::invalid_argument);
    pool.join();
    for (long i = 0; i < 10; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)].get(kBound), i * i);
    EXPECT_TRUE(mp::active_children().empty());
}

// Pins shutdown protocol step 3 (include/nogil/multiprocessing/detail/pool_core.hpp).
TEST_F(PoolBasics, JoinBeforeCloseAndBadArguments) {
    EXPECT_THROW(mp::Pool(0), std::invalid_argument);
    EXPECT_THROW(mp::Pool(mp::PoolOptions{.processes = 1, .maxtasksperchild = 0}), std::invalid_argument);
    mp::Pool pool(1);
    EXPECT_THROW(pool.join(), std::invalid_argument);
    EXPECT_THROW(pool.imap(sqr, std::vector<long>{1}, 0), std::invalid_argument);
}

TEST_F(PoolBasics, DestructorTerminatesWorkers) {
    {
        mp::Pool pool(2);
        EXPECT_EQ(pool.apply(sqr, 2L), 4);
        EXPECT_EQ(mp::active_children().size(), 2u);
    }
    EXPECT_TRUE(mp::active_children().empty());
}

}  // namespace
