#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

asyncio::Coroutine<int> slow_value(int v) {
    co_await asyncio::sleep(1ms);
    co_return v;
}

TEST(AsyncioTask, RunsAndGivesItsResultToSeveralAwaiters) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(slow_value(5));
        EXPECT_FALSE(t.done());
        auto a = asyncio::create_task([](asyncio::Task<int> t) -> asyncio::Coroutine<int> { co_return co_await t; }(t));
        auto b = asyncio::create_task([](asyncio::Task<int> t) -> asyncio::Coroutine<int> { co_return co_await t; }(t));
        EXPECT_EQ(co_await a, 5);
        EXPECT_EQ(co_await b, 5);
        EXPECT_TRUE(t.done());
        EXPECT_EQ(t.result(), 5);
        EXPECT_EQ(t.exception(), nullptr);
    }());
}

TEST(AsyncioTask, DefaultNamesAndSetName) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(slow_value(1));
        EXPECT_EQ(t.get_name().rfind("Task-", 0), 0u);
        t.set_name("worker");
        EXPECT_EQ(t.get_name(), "worker");
        auto named = asyncio::create_task(slow_value(2), "named");
        EXPECT_EQ(named.get_name(), "named");
        co_await t;
        co_await named;
    }());
}

TEST(AsyncioTask, ResultOfPendingTaskThrowsInvalidState) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(slow_value(1));
        try {
            (void)t.result();
            ADD_FAILURE();
        } catch (const asyncio::InvalidStateError& e) {
            EXPECT_STREQ(e.what(), "Result is not set.");
        }
        co_await t;
    }());
}

asyncio::Coroutine<> sleeper(bool* reached_end) {
    co_await asyncio::sleep(3600s);
    *reached_end = true;
}

// Pins cancellation protocol step 1 and 2 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, CancelASleepingTaskRemovesTheTimerAndThrowsTheMessage) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        bool end = false;
        auto t = asyncio::create_task(sleeper(&end));
        co_await asyncio::sleep(0);  // let it reach its sleep
        EXPECT_EQ(asyncio::get_running_loop().core().timer_count(), 1u);
        EXPECT_TRUE(t.cancel("stop now"));
        EXPECT_EQ(asyncio::get_running_loop().core().timer_count(), 0u);
        EXPECT_EQ(t.cancelling(), 1u);
        try {
            co_await t;
            ADD_FAILURE();
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "stop now");
        }
        EXPECT_TRUE(t.cancelled());
        EXPECT_FALSE(end);
        EXPECT_FALSE(t.cancel()) << "cancel on a done task returns false";
        EXPECT_THROW(t.result(), asyncio::CancelledError);
        EXPECT_THROW(t.exception(), asyncio::CancelledError);
    }());
}

// Pins cancellation protocol step 3 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, CancelBeforeItStartsRunsNoneOfItsCode) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        bool ran = false;
        auto t = asyncio::create_task([](bool* ran) -> asyncio::Coroutine<> {
            *ran = true;
            co_return;
        }(&ran));
        t.cancel();
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(t.cancelled());
        EXPECT_FALSE(ran);
    }());
}

asyncio::Coroutine<int> swallows_once() {
    try {
        co_await asyncio::sleep(3600s);
    } catch (const asyncio::CancelledError&) {
        // go on
    }
    co_await asyncio::sleep(0);
    co_return 7;
}

// Pins cancellation protocol step 4 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, ATaskMayCatchCancellationAndGoOn) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(swallows_once());
        co_await asyncio::sleep(0);
        t.cancel();
        EXPECT_EQ(co_await t, 7);
        EXPECT_FALSE(t.cancelled());
        EXPECT_EQ(t.cancelling(), 1u);
    }());
}

// Pins cancellation protocol step 5 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, UncancelAtZeroDropsAPendingCancel) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto self = *asyncio::current_task();
        self.cancel();  // not suspended: becomes pending
        EXPECT_EQ(self.cancelling(), 1u);
        EXPECT_EQ(self.uncancel(), 0u);
        co_await asyncio::sleep(0);  // would throw if still pending
        SUCCEED();
    }());
}

// Pins cancellation protocol step 3 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, PendingCancelIsThrownAtTheNextSuspension) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto self = *asyncio::current_task();
        self.cancel("later");
        bool thrown = false;
        try {
            co_await asyncio::sleep(0);
        } catch (const asyncio::CancelledError& e) {
            thrown = true;
            EXPECT_EQ(e.message(), "later");
        }
        EXPECT_TRUE(thrown);
        EXPECT_EQ(self.uncancel(), 0u);
    }());
}

// Pins cancellation protocol step 2 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, CancellingATaskCancelsTheTaskItAwaits) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        bool end = false;
        auto inner = asyncio::create_task(sleeper(&end));
        auto outer = asyncio::create_task([](asyncio::Task<> inner) -> asyncio::Coroutine<> { co_await inner; }(inner));
        co_await asyncio::sleep(0);
        outer.cancel("from outside");
        try {
            co_await outer;
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "from outside");
        }
        EXPECT_TRUE(inner.cancelled());
        EXPECT_TRUE(outer.cancelled());
    }());
}

asyncio::Coroutine<> awaits_task(asyncio::Task<>* other, asyncio::Event* go) {
    co_await go->wait();
    co_await *other;
}

asyncio::Coroutine<> awaits_gathered(asyncio::Task<>* other, asyncio::Event* go) {
    co_await go->wait();
    co_await asyncio::gather(*other);
}

// An await cycle: Python's Task.cancel recurses around it until RecursionError (CPython
// gh-80637); a C++ stack would overflow. The request goes around once and breaks the cycle.
TEST(AsyncioTask, CancelBreaksAnAwaitCycleOfTwoTasks) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event go;
        asyncio::Task<> a, b;
        a = asyncio::create_task(awaits_task(&b, &go));
        b = asyncio::create_task(awaits_task(&a, &go));
        go.set();
        co_await asyncio::sleep(0);  // both are now suspended, each on the other
        EXPECT_TRUE(a.cancel("break"));
        EXPECT_EQ(a.cancelling(), 1u);  // the request came back to a: counted once
        EXPECT_EQ(b.cancelling(), 1u);
        try {
            co_await a;
            ADD_FAILURE() << "a was not cancelled";
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "break");
        }
        EXPECT_THROW(co_await b, asyncio::CancelledError);
        EXPECT_TRUE(a.cancelled());
        EXPECT_TRUE(b.cancelled());
    }());
}

TEST(AsyncioTask, CancelBreaksAnAwaitCycleThroughGatherAtTheTaskCancelled) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event go;
        asyncio::Task<> a, b, c;
        a = asyncio::create_task(awaits_gathered(&b, &go));
        b = asyncio::create_task(awaits_task(&c, &go));
        c = asyncio::create_task(awaits_task(&a, &go));
        go.set();
        co_await asyncio::sleep(0);
        EXPECT_TRUE(b.cancel());
        const std::array<asyncio::Task<>*, 3> abc{&a, &b, &c}, bca{&b, &c, &a};
        for (auto* t : abc) EXPECT_EQ(t->cancelling(), 1u);
        for (auto* t : bca) {  // b first: the cycle was broken there
            EXPECT_THROW(co_await *t, asyncio::CancelledError);
            EXPECT_TRUE(t->cancelled());
        }
    }());
}

// The others of the cycle took the request as any awaited task does: they see the outcome of
// the task where the cycle was broken (AwaitedTaskThatSwallowsTheCancelGivesItsValue).
TEST(AsyncioTask, TheRestOfABrokenAwaitCycleSeesTheOutcomeOfTheTaskCancelled) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event go;
        asyncio::Task<> a, b;
        a = asyncio::create_task([](asyncio::Task<>* b, asyncio::Event* go) -> asyncio::Coroutine<> {
            co_await go->wait();
            try {
                co_await *b;
            } catch (const asyncio::CancelledError&) {
                // swallowed: a ends normally
            }
        }(&b, &go));
        b = asyncio::create_task(awaits_task(&a, &go));
        go.set();
        co_await asyncio::sleep(0);
        a.cancel();
        co_await b;
        EXPECT_FALSE(a.cancelled());
        EXPECT_FALSE(b.cancelled());
        EXPECT_EQ(b.cancelling(), 1u);
    }());
}

// Protocol step 2 on a cycle: a task that cancelled itself, then suspends on a task awaiting it.
TEST(AsyncioTask, TaskThatCancelledItselfThenClosesAnAwaitCycleSeesItsCancel) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Event go;
        asyncio::Task<> a, b;
        b = asyncio::create_task(awaits_task(&a, &go));  // first: go wakes it first
        a = asyncio::create_task([](asyncio::Task<>* b, asyncio::Event* go) -> asyncio::Coroutine<> {
            co_await go->wait();  // b is suspended on this task by now
            (*asyncio::current_task()).cancel("self");
            co_await *b;
        }(&b, &go));
        go.set();
        try {
            co_await a;
            ADD_FAILURE() << "a was not cancelled";
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "self");
        }
        EXPECT_THROW(co_await b, asyncio::CancelledError);
        EXPECT_EQ(a.cancelling(), 1u);
    }());
}

TEST(AsyncioTask, AwaitedTaskThatSwallowsTheCancelGivesItsValue) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto inner = asyncio::create_task(swallows_once());
        auto outer = asyncio::create_task([](asyncio::Task<int> inner) -> asyncio::Coroutine<int> {
            co_return co_await inner;
        }(inner));
        co_await asyncio::sleep(0);
        outer.cancel();
        EXPECT_EQ(co_await outer, 7);
        EXPECT_EQ(outer.cancelling(), 1u);
    }());
}

// Pins cancellation protocol step 4 (src/asyncio/detail/task_base.cpp).
TEST(AsyncioTask, CancelRequestedAfterTheLastSuspensionCancelsTheTask) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<int> {
            asyncio::current_task()->cancel();
            co_return 5;  // dropped: the task ends cancelled, as in Python
        }());
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
        }
        EXPECT_TRUE(t.cancelled());
    }());
}

struct Oops : std::runtime_error {
    using std::runtime_error::runtime_error;
};

TEST(AsyncioTask, ExceptionReachesTheAwaiterWithItsType) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<int> {
            co_await asyncio::sleep(0);
            throw Oops("bad");
        }());
        EXPECT_THROW(co_await t, Oops);
        EXPECT_NE(t.exception(), nullptr);
        EXPECT_THROW(t.result(), Oops);
        EXPECT_FALSE(t.cancelled());
    }());
}

TEST(AsyncioTask, DoneCallbacksAreScheduledNotRunInline) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<std::string> log;
        auto t = asyncio::create_task(slow_value(1));
        t.add_done_callback([&log](asyncio::Task<> done) {
            EXPECT_TRUE(done.done());
            log.push_back("first");
        });
        auto id = t.add_done_callback([&log](asyncio::Task<>) { log.push_back("removed"); });
        t.add_done_callback([&log](asyncio::Task<>) { log.push_back("third"); });
        EXPECT_EQ(t.remove_done_callback(id), 1u);
        EXPECT_EQ(t.remove_done_callback(id), 0u);
        co_await t;
        // The awaiter was registered last, but callbacks run in order on later loop turns.
        for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0);
        EXPECT_EQ(log, (std::vector<std::string>{"first", "third"}));
        bool late = false;
        t.add_done_callback([&late](asyncio::Task<>) { late = true; });
        EXPECT_FALSE(late) << "a callback on a done task is scheduled, not run inline";
        co_await asyncio::sleep(0);
        EXPECT_TRUE(late);
    }());
}

TEST(AsyncioTask, UnreferencedTaskKeepsRunningUntilDone) {
    int result = 0;
    asyncio::run([](int* out) -> asyncio::Coroutine<> {
        asyncio::create_task([](int* out) -> asyncio::Coroutine<> {
            co_await asyncio::sleep(1ms);
            *out = 99;
        }(out));
        co_await asyncio::sleep(20ms);
    }(&result));
    EXPECT_EQ(result, 99);
}

TEST(AsyncioTask, EagerStartRunsUpToTheFirstSuspension) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        int stage = 0;
        auto t = asyncio::create_task(
            [](int* stage) -> asyncio::Coroutine<> {
                *stage = 1;
                co_await asyncio::sleep(0);
                *stage = 2;
            }(&stage),
            {.name = "eager", .eager_start = true});
        EXPECT_EQ(stage, 1);
        co_await t;
        EXPECT_EQ(stage, 2);
        auto finished = asyncio::create_task([]() -> asyncio::Coroutine<int> { co_return 3; }(), {.eager_start = true});
        EXPECT_TRUE(finished.done());
        EXPECT_EQ(finished.result(), 3);
    }());
}

TEST(AsyncioTask, CurrentTaskAndAllTasks) {
    EXPECT_THROW(asyncio::current_task(), std::runtime_error);  // no running loop, as Python
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto me = asyncio::current_task();
        EXPECT_TRUE(me.has_value());
        auto t = asyncio::create_task(slow_value(1));
        auto all = asyncio::all_tasks();
        EXPECT_EQ(all.size(), 2u);
        EXPECT_TRUE(all[0] == *me);
        EXPECT_TRUE(all[1] == t);
        co_await t;
        EXPECT_EQ(asyncio::all_tasks().size(), 1u);
    }());
}

TEST(AsyncioTask, AwaitingItselfThrows) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto me = *asyncio::current_task();
        EXPECT_THROW(co_await me, std::runtime_error);
    }());
}

TEST(AsyncioTask, CreateTaskWithoutARunningLoopThrows) {
    EXPECT_THROW(asyncio::create_task(slow_value(1)), std::runtime_error);
}

TEST(AsyncioTask, LoopCreateTaskBeforeRunning) {
    asyncio::EventLoop loop;
    auto t = loop.create_task(slow_value(4), "pre");
    EXPECT_EQ(loop.run_until_complete(t), 4);
    EXPECT_EQ(t.get_name(), "pre");
}

// A task awaited by another keeps that awaiter's registration in one word until its extras
// (name, cancel message, exception, more callbacks) are allocated; each of these must keep it.
TEST(AsyncioTask, AwaiterSurvivesTheAwaitedTasksExtras) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto relay = [](asyncio::Task<int> t) -> asyncio::Coroutine<int> { co_return co_await t; };
        // A name set while awaited, then a value.
        auto named = asyncio::create_task(slow_value(7));
        auto a = asyncio::create_task(relay(named));
        co_await asyncio::sleep(0);
        named.set_name("renamed");
        EXPECT_EQ(co_await a, 7);
        EXPECT_EQ(named.get_name(), "renamed");
        // An exception while awaited (no extras before it).
        auto failing = asyncio::create_task([]() -> asyncio::Coroutine<int> {
            co_await asyncio::sleep(1ms);
            throw std::logic_error("bad");
        }());
        auto b = asyncio::create_task(relay(failing));
        co_await asyncio::sleep(0);
        EXPECT_THROW(co_await b, std::logic_error);
        // A cancel message while awaited.
        bool reached_end = false;
        auto sleeping = asyncio::create_task([](bool* reached_end) -> asyncio::Coroutine<int> {
            co_await asyncio::sleep(3600s);
            *reached_end = true;
            co_return 0;
        }(&reached_end));
        auto c = asyncio::create_task(relay(sleeping));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(sleeping.cancel("stop"));
        try {
            co_await c;
            ADD_FAILURE() << "the awaiter should see the cancellation";
        } catch (const asyncio::CancelledError& e) {
            EXPECT_EQ(e.message(), "stop");
        }
        EXPECT_TRUE(sleeping.cancelled());
        EXPECT_FALSE(reached_end);
    }());
}

TEST(AsyncioTask, DefaultNamesCountUpAndAllTasksSeesEveryPendingOne) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Future<int> gate;
        auto first = asyncio::create_task(slow_value(1));
        auto second = asyncio::create_task([](asyncio::Future<int> gate) -> asyncio::Coroutine<int> { co_return co_await gate; }(gate));
        const std::string n1 = first.get_name(), n2 = second.get_name();
        EXPECT_EQ(n1.rfind("Task-", 0), 0u);
        EXPECT_EQ(n2.rfind("Task-", 0), 0u);
        if (n1.size() > 5 && n2.size() > 5) {
            EXPECT_EQ(std::stoul(n2.substr(5)), std::stoul(n1.substr(5)) + 1);
        }
        std::vector<asyncio::Task<int>> more;
        for (int i = 0; i < 50; ++i) more.push_back(asyncio::create_task(slow_value(i)));
        EXPECT_EQ(asyncio::all_tasks().size(), 53u);  // with this one
        (void)co_await asyncio::gather(more);
        co_await first;
        EXPECT_EQ(asyncio::all_tasks().size(), 2u);  // this one and `second`
        gate.set_result(2);
        EXPECT_EQ(co_await second, 2);
        EXPECT_EQ(asyncio::all_tasks().size(), 1u);
    }());
}

}  // namespace

// ----------------------------------------------------------------------------- stress

namespace stress {

asyncio::Coroutine<int> leaf(int v, int hundred_us) {
    co_await asyncio::sleep(std::chrono::microseconds(100 * hundred_us));
    co_return v;
}

asyncio::Coroutine<int> worker(unsigned seed, int* recorded) {
    unsigned state = seed;
    auto next = [&state] { return (state = state * 1103515245u + 12345u) >> 16; };
    int sum = 0;
    for (int step = 0; step < 6; ++step) {
        switch (next() % 5) {
            case 0:
                co_await asyncio::sleep(0);
                sum += 1;
                break;
            case 1: {
                auto [a, b] = co_await asyncio::gather(leaf(2, int(next() % 3)), leaf(3, int(next() % 3)));
                sum += a + b;
                break;
            }
            case 2:
                try {
                    sum += co_await asyncio::wait_for(leaf(7, int(next() % 3)), std::chrono::microseconds(100 * (next() % 3)));
                } catch (const asyncio::TimeoutError&) {
                    sum += 100;
                }
                break;
            case 3:
                sum += co_await asyncio::shield(leaf(11, int(next() % 2)));
                break;
            default: {
                auto cm = asyncio::timeout(std::chrono::microseconds(100 * (next() % 3)));
                try {
                    sum += co_await cm.run(leaf(13, int(next() % 3)));
                } catch (const asyncio::TimeoutError&) {
                    sum += 1000;
                }
            }
        }
    }
    *recorded = sum;
    co_return sum;
}

// --- move-only results -----------------------------------------------------------------------

asyncio::Coroutine<std::unique_ptr<int>> boxed(int v) {
    co_await asyncio::sleep(0);
    co_return std::make_unique<int>(v);
}

TEST(AsyncioTask, MoveOnlyResultIsMovedOutByAwaitingAnRvalue) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(boxed(7));
        std::unique_ptr<int> p = co_await std::move(t);
        EXPECT_TRUE(p && *p == 7);
        std::unique_ptr<int> q = co_await asyncio::create_task(boxed(8));  // a temporary
        EXPECT_TRUE(q && *q == 8);
    }());
}

TEST(AsyncioTask, MoveOnlyResultByReferenceThenMovedOut) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task(boxed(9));
        asyncio::Task<std::unique_ptr<int>> other = t;
        while (!t.done()) co_await asyncio::sleep(0);
        const std::unique_ptr<int>& ref = t.result();
        EXPECT_EQ(*ref, 9);
        std::unique_ptr<int> taken = std::move(other).result();
        EXPECT_EQ(*taken, 9);
        EXPECT_EQ(t.result(), nullptr) << "every handle sees the moved-from value";
    }());
}

TEST(AsyncioTask, AwaitingAnLvalueCopiesACopyableResult) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<std::string> { co_return std::string(100, 'x'); }());
        std::string a = co_await t;
        std::string b = co_await t;
        EXPECT_EQ(a, b);
        EXPECT_EQ(t.result(), a);
    }());
}

TEST(AsyncioTask, RunReturnsAMoveOnlyResult) {
    std::unique_ptr<int> p = asyncio::run(boxed(3));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 3);
}

// --- "Task exception was never retrieved" ------------------------------------------------------

struct Reports {
    std::vector<asyncio::ExceptionContext> contexts;
    void install() {
        asyncio::get_running_loop().set_exception_handler(
            [this](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { contexts.push_back(c); });
    }
    std::size_t count(const std::string& message) const {
        std::size_t n = 0;
        for (auto& c : contexts) n += c.message == message;
        return n;
    }
};

asyncio::Coroutine<int> fails() {
    co_await asyncio::sleep(0);
    throw std::logic_error("boom");
    co_return 0;
}

TEST(AsyncioTask, ExceptionNeverRetrievedIsReportedOnceWhenTheTaskGoes) {
    Reports reports;
    asyncio::run([](Reports* r) -> asyncio::Coroutine<> {
        r->install();
        {
            auto t = asyncio::create_task(fails());
            co_await asyncio::sleep(0);
            co_await asyncio::sleep(0);
            EXPECT_TRUE(t.done());
            EXPECT_EQ(r->count("Task exception was never retrieved"), 0u) << "still referenced";
        }
        EXPECT_EQ(r->count("Task exception was never retrieved"), 1u);
        if (r->contexts.empty()) co_return;
        auto& c = r->contexts.back();
        EXPECT_NE(c.source.find("<Task finished"), std::string::npos) << c.source;
        try {
            std::rethrow_exception(c.exception);
        } catch (const std::logic_error& e) {
            EXPECT_STREQ(e.what(), "boom");
        }
    }(&reports));
    EXPECT_EQ(reports.count("Task exception was never retrieved"), 1u);
}

TEST(AsyncioTask, RetrievedOrCancelledTasksAreNotReported) {
    Reports reports;
    asyncio::run([](Reports* r) -> asyncio::Coroutine<> {
        r->install();
        {
            auto awaited = asyncio::create_task(fails());
            auto by_result = asyncio::create_task(fails());
            auto by_exception = asyncio::create_task(fails());
            auto gathered = asyncio::create_task(fails());
            auto cancelled = asyncio::create_task(fails());
            cancelled.cancel();
            try {
                co_await awaited;
            } catch (const std::logic_error&) {
            }
            auto all = co_await asyncio::gather(asyncio::return_exceptions, gathered);
            EXPECT_NE(std::get<0>(all).index(), 0u);
            EXPECT_THROW(by_result.result(), std::logic_error);
            EXPECT_NE(by_exception.exception(), nullptr);
            EXPECT_TRUE(cancelled.cancelled());
        }
        co_await asyncio::sleep(0);
    }(&reports));
    EXPECT_EQ(reports.count("Task exception was never retrieved"), 0u);
}

}  // namespace stress

TEST(AsyncioTaskStress, RandomCancellationsLoseNothingAndLeaveNothingPending) {
    static constexpr int workers = 200;
    asyncio::run([]() -> asyncio::Coroutine<> {
        std::vector<int> recorded(workers, -1);
        std::vector<asyncio::Task<int>> tasks;
        for (int i = 0; i < workers; ++i) tasks.push_back(asyncio::create_task(stress::worker(unsigned(i) * 7919u + 1, &recorded[i])));
        unsigned state = 12345;
        auto next = [&state] { return (state = state * 1103515245u + 12345u) >> 16; };
        for (int k = 0; k < workers / 2; ++k) {
            co_await asyncio::sleep(std::chrono::microseconds(next() % 200));
            tasks[next() % workers].cancel("stress");
        }
        auto outcomes = co_await asyncio::gather(asyncio::return_exceptions, tasks);
        int cancelled = 0, finished = 0;
        for (int i = 0; i < workers; ++i) {
            if (outcomes[i].index() == 1) {
                EXPECT_TRUE(tasks[i].cancelled()) << i;
                EXPECT_THROW(std::rethrow_exception(std::get<1>(outcomes[i])), asyncio::CancelledError);
                ++cancelled;
            } else {
                EXPECT_EQ(std::get<0>(outcomes[i]), recorded[i]) << "result lost for worker " << i;
                ++finished;
            }
        }
        EXPECT_EQ(cancelled + finished, workers);
        EXPECT_GT(cancelled, 0);
        EXPECT_GT(finished, 0);
        // Shielded leaves may outlive their cancelled worker; let them end, then nothing is left.
        for (int i = 0; i < 10 && asyncio::all_tasks().size() > 1; ++i) co_await asyncio::sleep(1ms);
        EXPECT_EQ(asyncio::all_tasks().size(), 1u) << "only main is left";
    }());
}
