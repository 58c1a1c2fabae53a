// CPython's Lib/test/test_asyncio/test_eager_task_factory.py (3.13), ported: the loop's task
// factory set to asyncio::eager_task_factory (Python's create_eager_task_factory(Task)), and the
// task-counting suites.
//
// Not applicable in C++ (or not in this port):
//   test_current_task, test_all_tasks_with_eager_completion, test_all_tasks_with_blocking - task
//     introspection (current_task/all_tasks) belongs to issue 18's work on the task registry.
//   test_staggered_race_with_eager_tasks* - asyncio.staggered is not part of nogil.
//   test_issue105987 (_asyncio._swap_current_task), test_issue122332 (task.get_coro()) - CPython
//     internals and the coroutine object.
//   The C/Python Task variants: nogil has one Task, each case runs once.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

/// EagerTaskFactoryLoopTests.setUp + run_coro: a loop whose task factory is the eager one.
template <class T>
T run_eager(Coroutine<T> coro) {
    asyncio::EventLoop loop;
    loop.set_task_factory(asyncio::eager_task_factory);
    struct Close {
        asyncio::EventLoop& loop;
        ~Close() { loop.close(); }
    } close{loop};
    return loop.run_until_complete(std::move(coro));
}

Coroutine<> noop() { co_return; }

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_eager_task_factory_set (and, as in
// Python, a task created before the loop runs is not started eagerly)
TEST(EagerTaskFactoryLoopTests, test_eager_task_factory_set) {
    asyncio::EventLoop loop;
    loop.set_task_factory(asyncio::eager_task_factory);
    EXPECT_TRUE(loop.get_task_factory());
    auto before = loop.create_task(noop());
    EXPECT_FALSE(before.done());
    loop.run_until_complete([]() -> Coroutine<> {
        auto t = asyncio::create_task(noop());
        EXPECT_TRUE(t.done());  // eager: done inside create_task
        co_await t;
    }());
    EXPECT_TRUE(before.done());
    loop.close();
}

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_await_future_during_eager_step
TEST(EagerTaskFactoryLoopTests, test_await_future_during_eager_step) {
    auto set_result = [](asyncio::Future<std::string> fut, std::string val) -> Coroutine<> {
        fut.set_result(val);
        co_return;
    };
    auto run = [](decltype(set_result) set_result) -> Coroutine<std::string> {
        auto fut = asyncio::get_running_loop().create_future<std::string>();
        auto t = asyncio::create_task(set_result(fut, "my message"));
        EXPECT_TRUE(t.done());  // the eager step completed the task
        co_return co_await fut;
    };
    EXPECT_EQ(run_eager(run(set_result)), "my message");
}

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_eager_completion
TEST(EagerTaskFactoryLoopTests, test_eager_completion) {
    auto run = []() -> Coroutine<std::string> {
        auto t = asyncio::create_task([]() -> Coroutine<std::string> { co_return "hello"; }());
        EXPECT_TRUE(t.done());
        co_return co_await t;
    };
    EXPECT_EQ(run_eager(run()), "hello");
}

Coroutine<std::string> finished_after_blocking() {
    co_await asyncio::sleep(1ms);
    co_return "finished after blocking";
}

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_block_after_eager_step
TEST(EagerTaskFactoryLoopTests, test_block_after_eager_step) {
    auto run = []() -> Coroutine<std::string> {
        auto t = asyncio::create_task(finished_after_blocking());
        EXPECT_FALSE(t.done());
        auto result = co_await t;
        EXPECT_TRUE(t.done());
        co_return result;
    };
    EXPECT_EQ(run_eager(run()), "finished after blocking");
}

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_cancellation_after_eager_completion
TEST(EagerTaskFactoryLoopTests, test_cancellation_after_eager_completion) {
    auto run = []() -> Coroutine<std::string> {
        auto t = asyncio::create_task([]() -> Coroutine<std::string> { co_return "finished without blocking"; }());
        t.cancel();
        auto result = co_await t;
        EXPECT_FALSE(t.cancelled());  // a finished task cannot be cancelled
        co_return result;
    };
    EXPECT_EQ(run_eager(run()), "finished without blocking");
}

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_cancellation_after_eager_step_blocks
TEST(EagerTaskFactoryLoopTests, test_cancellation_after_eager_step_blocks) {
    auto run = []() -> Coroutine<> {
        auto t = asyncio::create_task(finished_after_blocking());
        t.cancel("cancellation message");
        EXPECT_GT(t.cancelling(), 0u);
        co_await t;
    };
    try {
        run_eager(run());
        ADD_FAILURE() << "no CancelledError";
    } catch (const nogil::CancelledError& e) {
        EXPECT_EQ(e.message(), "cancellation message");
    }
}

// test_eager_task_factory.py: EagerTaskFactoryLoopTests.test_context_vars
TEST(EagerTaskFactoryLoopTests, test_context_vars) {
    nogil::contextvars::ContextVar<int> cv("cv", 0);
    bool first_step_ran = false, second_step_ran = false;
    auto coro = [](nogil::contextvars::ContextVar<int> cv, bool* first, bool* second) -> Coroutine<> {
        EXPECT_EQ(cv.get(), 1);
        cv.set(2);
        EXPECT_EQ(cv.get(), 2);
        *first = true;
        co_await asyncio::sleep(1ms);
        EXPECT_EQ(cv.get(), 2);
        cv.set(3);
        EXPECT_EQ(cv.get(), 3);
        *second = true;
    };
    auto run = [](nogil::contextvars::ContextVar<int> cv, bool* first, bool* second, decltype(coro) coro) -> Coroutine<> {
        cv.set(1);
        auto t = asyncio::create_task(coro(cv, first, second));
        EXPECT_TRUE(*first);
        EXPECT_FALSE(*second);
        EXPECT_EQ(cv.get(), 1);
        co_await t;
        EXPECT_TRUE(*second);
        EXPECT_EQ(cv.get(), 1);
    };
    run_eager(run(cv, &first_step_ran, &second_step_ran, coro));
}

// --- BaseTaskCountingTests: a factory counts the tasks not started eagerly ----------------

Coroutine<int> awaitable_chain(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await awaitable_chain(depth - 1);
}

Coroutine<> recursive_taskgroups(int width, int depth) {
    if (depth == 0) co_return;
    auto body = [width, depth](asyncio::TaskGroup& tg) -> Coroutine<> {
        for (int i = 0; i < width; ++i) tg.create_task(recursive_taskgroups(width, depth - 1));
        co_return;
    };
    co_await asyncio::TaskGroup::run(body);
}

Coroutine<> recursive_gather(int width, int depth) {
    if (depth == 0) co_return;
    std::vector<Coroutine<>> children;
    for (int i = 0; i < width; ++i) children.push_back(recursive_gather(width, depth - 1));
    co_await asyncio::gather(std::move(children));
}

/// Python's AsyncTaskCounter: the loop's factory counts tasks created without eager_start;
/// `eager` makes it the eager factory (which sets eager_start before counting).
struct TaskCounter {
    int task_count = 0;
    TaskCounter(asyncio::EventLoop& loop, bool eager) {
        loop.set_task_factory([this, eager](asyncio::EventLoop&, const asyncio::TaskMaker& make, asyncio::TaskOptions options) {
            if (eager) options.eager_start = true;
            if (!options.eager_start) ++task_count;
            return make(options);
        });
    }
};

/// One counting case: runs `coro` on a loop with the counter, returns the count.
template <class T>
int count_tasks(bool eager, Coroutine<T> coro) {
    asyncio::EventLoop loop;
    TaskCounter counter(loop, eager);
    loop.run_until_complete(std::move(coro));
    loop.close();
    return counter.task_count;
}

// test_eager_task_factory.py: BaseTaskCountingTests.test_awaitables_chain (NonEagerTests, EagerTests)
TEST(BaseTaskCountingTests, test_awaitables_chain) {
    EXPECT_EQ(count_tasks(false, awaitable_chain(100)), 1);
    EXPECT_EQ(count_tasks(true, awaitable_chain(100)), 0);
}

// test_eager_task_factory.py: BaseTaskCountingTests.test_recursive_taskgroups
TEST(BaseTaskCountingTests, test_recursive_taskgroups) {
    EXPECT_EQ(count_tasks(false, recursive_taskgroups(5, 4)), 781);  // 1 + 5 + 5^2 + 5^3 + 5^4
    EXPECT_EQ(count_tasks(true, recursive_taskgroups(5, 4)), 0);
}

// test_eager_task_factory.py: BaseTaskCountingTests.test_recursive_gather
TEST(BaseTaskCountingTests, test_recursive_gather) {
    EXPECT_EQ(count_tasks(false, recursive_gather(5, 4)), 781);
    EXPECT_EQ(count_tasks(true, recursive_gather(5, 4)), 0);
}

}  // namespace
