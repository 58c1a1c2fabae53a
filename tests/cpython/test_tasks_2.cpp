// CPython's Lib/test/test_asyncio/test_tasks.py (3.13), ported: the second half (the first is
// test_tasks.cpp; the module is too large for one file). BaseTaskTests' remaining cases,
// BaseCurrentLoopTests, GatherTestsBase (run for futures and for coroutines, as CPython's
// FutureGatherTests and CoroutineGatherTests do), FutureGatherTests' and CoroutineGatherTests'
// own cases, RunCoroutineThreadsafeTests and SleepTests. CPython runs BaseTaskTests against the
// C and the Python Task; nogil has one Task, so each case runs once.
//
// Not applicable in C++ (besides those listed in test_tasks.cpp):
//   test_generic_alias, test_task_cancel_message_getter, test_task_cancel_message_setter (the
//   private _cancel_message), test_task_del_collect, test_exception_chaining_after_await,
//   test_exception_chaining_after_await_with_context_cycle (implicit __context__: a C++
//   exception carries only what std::throw_with_nested puts in it),
//   test_task_source_traceback, test_subclasses_ctask_cfuture, CTask_Future_Tests.test_foobar,
//   test_refleaks_in_task___init__, test_del__log_destroy_pending_segfault - Python's object
//     model (GenericAlias, gc, tracebacks, subclassing Task/Future, refcounts).
//   test_ensure_future_future, test_ensure_future_task, test_ensure_future_awaitable,
//   test_ensure_future_task_awaitable, test_ensure_future_neither, test_ensure_future_error_msg -
//     nogil has no public ensure_future: a Task or Future is awaited as it is, a coroutine
//     becomes a task with create_task (test_ensure_future_coroutine is ported as create_task);
//     the "different loop" ValueError is FutureGatherTests.test_constructor_heterogenous_futures.
//   test_task_set_methods, SetMethodsTest.test_set_result_causes_invalid_state,
//   SetMethodsTest.test_set_exception_causes_invalid_state -
//     a Task has no set_result/set_exception: the compiler rejects the call.
//   test_iscoroutinefunction, GenericTaskTests.test_future_subclass and
//     test_asyncio_module_compiled - Python introspection (in C++ a Task and a Future are two
//     handle types, both awaitable wherever Python takes a Future).
//   test_sleep_cancel, test_error_in_call_soon, test_issue46672 - monkeypatching of
//     loop.call_later / loop.call_soon / call_exception_handler.
//   test_as_completed_invalid_args, test_wait_invalid_args (a future or a coroutine instead of a
//     collection) - TypeErrors the compiler prevents; wait([])'s ValueError is test_wait_errors.
//   test_shield_coroutine_use_global_loop,
//   FutureGatherTests.test_constructor_empty_sequence_use_global_loop,
//   CoroutineGatherTests.test_constructor_use_global_loop - nogil has no
//     set_event_loop (no global loop): without a running loop these throw, as the _without_loop
//     cases check.
//   BaseCurrentLoopTests.test_current_task_no_running_loop - current_task(loop=) has no C++
//     parameter (the running loop's task is the thread's).
//   BaseTaskIntrospectionTests (10 cases: test__register_task_1, test__register_task_2,
//   test__register_task_3, test__enter_task, test__enter_task_failure, test__leave_task,
//   test__leave_task_failure1, test__leave_task_failure2, test__unregister_task,
//   test__unregister_task_not_registered) - CPython's private functions (nogil has no
//     _register_task/_enter_task/_leave_task: its tasks register and enter themselves).
//   GatherTestsBase.test_env_var_debug - PYTHONASYNCIODEBUG.
//   CompatibilityTests - empty in 3.13 (its generator-based coroutine cases were removed).
#include "test_tasks_helpers.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <ranges>
#include <sstream>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

/// Python's GatherTestsBase._run_loop inside a running loop: a few turns, so that every
/// callback made ready by what the test did has run.
Coroutine<> run_ready_callbacks() {
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0);
}
Coroutine<std::string> notmuch() { co_return "ok"; }
Coroutine<int> forty_two() { co_return 42; }
Coroutine<std::string> value_when(asyncio::Future<> f, std::string x) {
    co_await f;
    co_return x;
}

// test_tasks.py: BaseTaskTests.test_task_awaits_on_itself
TEST(BaseTaskTests, test_task_awaits_on_itself) {
    asyncio::EventLoop loop;
    Task<> task;
    auto test = [&]() -> Coroutine<> { co_await task; };
    task = loop.create_task(test());
    auto guard = loop.call_later(30s, [&loop] { loop.stop(); });  // fails instead of hanging
    try {
        loop.run_until_complete(task);
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("Task cannot await on itself"), std::string::npos) << e.what();
    }
    guard.cancel();
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_task_class
TEST(BaseTaskTests, test_task_class) {
    asyncio::EventLoop loop;
    auto t = loop.create_task(notmuch());
    loop.run_until_complete(t);
    EXPECT_TRUE(t.done());
    EXPECT_EQ(t.result(), "ok");
    EXPECT_EQ(&t.get_loop(), &loop);

    asyncio::EventLoop loop2;
    auto t2 = loop2.create_task(notmuch());
    EXPECT_EQ(&t2.get_loop(), &loop2);
    loop2.run_until_complete(t2);
    loop2.close();
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_ensure_future_coroutine - C++'s ensure_future(coro) is
// create_task: no running loop is an error, inside a task the task is on the running loop.
TEST(BaseTaskTests, test_ensure_future_coroutine) {
    asyncio::EventLoop loop;
    try {
        (void)asyncio::create_task(notmuch());
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
    auto test = []() -> Coroutine<Task<std::string>> { co_return asyncio::create_task(notmuch()); };
    auto t = loop.run_until_complete(test());
    EXPECT_EQ(&t.get_loop(), &loop);
    loop.run_until_complete(t);
    EXPECT_TRUE(t.done());
    EXPECT_EQ(t.result(), "ok");
    loop.close();
}

Task<> stack_task;
Coroutine<> stack_bar() {
    // get_stack(): the chain, outermost first - Python's f[0] is the task's coroutine, foo.
    auto f = stack_task.get_stack();
    CO_ASSERT_TRUE(!f.empty());
    EXPECT_NE(f[0].function.find("stack_foo"), std::string::npos) << f[0].function;
    std::ostringstream file;
    stack_task.print_stack(file);
    EXPECT_NE(file.str().find("stack_foo"), std::string::npos) << file.str();
    co_return;
}
Coroutine<> stack_foo() { co_await stack_bar(); }

// test_tasks.py: BaseTaskTests.test_get_stack - nogil's get_stack(limit) keeps the innermost
// frames of the whole await chain (Python's: the task's own coroutine and its callers), so the
// port asks for the whole chain and finds foo where Python does, first.
TEST(BaseTaskTests, test_get_stack) {
    asyncio::EventLoop loop;
    auto runner = []() -> Coroutine<> {
        stack_task = asyncio::create_task(stack_foo());
        co_await stack_task;
    };
    loop.run_until_complete(runner());
    stack_task = Task<>();
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_task_basics
TEST(BaseTaskTests, test_task_basics) {
    auto inner1 = []() -> Coroutine<int> { co_return 42; };
    auto inner2 = []() -> Coroutine<int> { co_return 1000; };
    auto outer = [](decltype(inner1) inner1, decltype(inner2) inner2) -> Coroutine<int> {
        int a = co_await inner1();
        int b = co_await inner2();
        co_return a + b;
    };
    asyncio::EventLoop loop;
    EXPECT_EQ(loop.run_until_complete(outer(inner1, inner2)), 1042);
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_cancelling (repr's " cancelling " is not in C++)
TEST(BaseTaskTests, test_cancelling) {
    asyncio::EventLoop loop;
    auto t = loop.create_task(just_sleep(10s));
    EXPECT_EQ(t.cancelling(), 0u);
    EXPECT_TRUE(t.cancel());
    EXPECT_GT(t.cancelling(), 0u);
    EXPECT_TRUE(t.cancel());  // 3.11+: a second request is counted, and cancel() says true
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_uncancel_basic
TEST(BaseTaskTests, test_uncancel_basic) {
    asyncio::EventLoop loop;
    auto task = []() -> Coroutine<> {
        bool cancelled = false;
        try {
            co_await asyncio::sleep(10s);
        } catch (const asyncio::CancelledError&) {
            asyncio::current_task()->uncancel();
            cancelled = true;
        }
        if (cancelled) co_await asyncio::sleep(10s);  // Python's second sleep is in the except block
    };
    auto t = loop.create_task(task());
    run_briefly(loop);

    // Cancel first sleep
    EXPECT_TRUE(t.cancel());
    EXPECT_EQ(t.cancelling(), 1u);
    EXPECT_FALSE(t.cancelled());  // Task is still not complete
    run_briefly(loop);

    // after uncancel()
    EXPECT_EQ(t.cancelling(), 0u);
    EXPECT_FALSE(t.cancelled());

    // Cancel second sleep
    EXPECT_TRUE(t.cancel());
    EXPECT_EQ(t.cancelling(), 1u);
    EXPECT_FALSE(t.cancelled());
    EXPECT_THROW(loop.run_until_complete(t), asyncio::CancelledError);
    EXPECT_TRUE(t.cancelled());
    EXPECT_TRUE(t.done());

    // uncancel is no longer effective after the task is complete
    t.uncancel();
    EXPECT_TRUE(t.cancelled());
    EXPECT_TRUE(t.done());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_wait_with_iterator_of_tasks (a lazily transformed range,
// Python's iter([b, a]))
TEST(BaseTaskTests, test_wait_with_iterator_of_tasks) {
    run_bounded([]() -> Coroutine<> {
        auto a = asyncio::create_task(just_sleep(1ms));
        auto b = asyncio::create_task(just_sleep(2ms));
        auto list = std::vector{b, a};
        auto it = list | std::views::transform([](const Task<>& t) { return t; });
        auto [done, pending] = co_await asyncio::wait(it);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_TRUE(pending.empty());
        EXPECT_TRUE(a.done());
        EXPECT_TRUE(b.done());
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_with_unused_timeout (both iteration forms)
TEST(BaseTaskTests, test_as_completed_with_unused_timeout) {
    run_bounded([]() -> Coroutine<> {
        std::vector<Coroutine<std::string>> in;
        in.push_back(sleeper(1ms, "a"));
        for (auto& f : asyncio::as_completed(in, 1h)) EXPECT_EQ(co_await std::move(f), "a");
        std::vector<Coroutine<std::string>> in2;
        in2.push_back(sleeper(1ms, "a"));
        auto it = asyncio::as_completed(in2, 1h);
        while (auto t = co_await it.next()) EXPECT_EQ(t->result(), "a");
    }());
}

Coroutine<int> identity(int i) { co_return i; }

// test_tasks.py: BaseTaskTests.test_as_completed_resume_iterator (both iteration forms)
TEST(BaseTaskTests, test_as_completed_resume_iterator) {
    run_bounded([]() -> Coroutine<> {
        {
            std::vector<Coroutine<int>> in;
            for (int i = 0; i < 4; ++i) in.push_back(identity(i));
            auto iterator = asyncio::as_completed(in);
            std::vector<int> collected;
            int iterations = 0;
            for (auto& f : iterator) {
                collected.push_back(co_await std::move(f));
                if (++iterations == 2) break;
            }
            EXPECT_EQ(collected.size(), 2u);
            for (auto& f : iterator) collected.push_back(co_await std::move(f));  // resume
            std::sort(collected.begin(), collected.end());
            EXPECT_EQ(collected, (std::vector{0, 1, 2, 3}));
        }
        {
            std::vector<Coroutine<int>> in;
            for (int i = 0; i < 4; ++i) in.push_back(identity(i));
            auto iterator = asyncio::as_completed(in);
            std::vector<int> collected;
            int iterations = 0;
            while (auto t = co_await iterator.next()) {
                collected.push_back(t->result());
                if (++iterations == 2) break;
            }
            EXPECT_EQ(collected.size(), 2u);
            while (auto t = co_await iterator.next()) collected.push_back(t->result());
            std::sort(collected.begin(), collected.end());
            EXPECT_EQ(collected, (std::vector{0, 1, 2, 3}));
        }
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_reverse_wait - awaiting the second coroutine of
// plain iteration first gives the first input to finish. (b finishes when the test says so,
// not after a time.)
TEST(BaseTaskTests, test_as_completed_reverse_wait) {
    run_bounded([]() -> Coroutine<> {
        auto b_may_finish = asyncio::get_running_loop().create_future<void>();
        std::vector<Coroutine<std::string>> fs;
        fs.push_back(sleeper(0ms, "a"));
        fs.push_back(value_when(b_may_finish, "b"));
        std::vector<Coroutine<std::string>> futs;
        for (auto& f : asyncio::as_completed(fs)) futs.push_back(std::move(f));
        CO_ASSERT_TRUE(futs.size() == 2);
        EXPECT_EQ(co_await std::move(futs[1]), "a");
        b_may_finish.set_result();
        EXPECT_EQ(co_await std::move(futs[0]), "b");
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_concurrent - what as_completed gives can be
// awaited concurrently (both iteration forms).
TEST(BaseTaskTests, test_as_completed_concurrent) {
    run_bounded([]() -> Coroutine<> {
        {
            std::vector<Coroutine<std::string>> fs;
            fs.push_back(sleeper(1ms, "a"));
            fs.push_back(sleeper(1ms, "b"));
            std::vector<Task<std::string>> futs;
            for (auto& f : asyncio::as_completed(fs)) futs.push_back(asyncio::create_task(std::move(f)));
            CO_ASSERT_TRUE(futs.size() == 2);
            auto [done, pending] = co_await asyncio::wait(futs);
            std::set<std::string> results;
            for (auto& f : done) results.insert(f.result());
            EXPECT_EQ(results, (std::set<std::string>{"a", "b"}));
        }
        {
            std::vector<Coroutine<std::string>> fs;
            fs.push_back(sleeper(1ms, "a"));
            fs.push_back(sleeper(1ms, "b"));
            std::vector<Task<std::string>> futs;
            auto it = asyncio::as_completed(fs);
            while (auto t = co_await it.next()) futs.push_back(*t);
            CO_ASSERT_TRUE(futs.size() == 2);
            auto [done, pending] = co_await asyncio::wait(futs);
            std::set<std::string> results;
            for (auto& f : done) results.insert(f.result());
            EXPECT_EQ(results, (std::set<std::string>{"a", "b"}));
        }
    }());
}

// test_tasks.py: BaseTaskTests.test_as_completed_coroutine_without_loop
TEST(BaseTaskTests, test_as_completed_coroutine_without_loop) {
    std::vector<Coroutine<int>> in;
    in.push_back(forty_two());
    try {
        (void)asyncio::as_completed(in);
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
}

// test_tasks.py: BaseTaskTests.test_as_completed_coroutine_use_running_loop
TEST(BaseTaskTests, test_as_completed_coroutine_use_running_loop) {
    run_bounded([]() -> Coroutine<> {
        std::vector<Coroutine<int>> in;
        in.push_back(forty_two());
        std::vector<Coroutine<int>> futs;
        for (auto& f : asyncio::as_completed(in)) futs.push_back(std::move(f));
        CO_ASSERT_TRUE(futs.size() == 1);
        EXPECT_EQ(co_await std::move(futs[0]), 42);
    }());
}

// test_tasks.py: BaseTaskTests.test_sleep
TEST(BaseTaskTests, test_sleep) {
    auto sleeper2 = [](std::chrono::milliseconds dt, std::string arg) -> Coroutine<std::string> {
        co_await asyncio::sleep(dt / 2);
        std::string res = co_await asyncio::sleep(dt / 2, arg);
        co_return res;
    };
    asyncio::EventLoop loop;
    auto t = loop.create_task(sleeper2(2ms, "yeah"));
    loop.run_until_complete(t);
    EXPECT_TRUE(t.done());
    EXPECT_EQ(t.result(), "yeah");
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_sleep_when_delay_is_nan
TEST(BaseTaskTests, test_sleep_when_delay_is_nan) {
    auto sleeper2 = []() -> Coroutine<> { co_await asyncio::sleep(std::nan("")); };
    asyncio::EventLoop loop;
    auto t = loop.create_task(sleeper2());
    EXPECT_THROW(loop.run_until_complete(t), std::invalid_argument);
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_task_cancel_sleeping_task
TEST(BaseTaskTests, test_task_cancel_sleeping_task) {
    asyncio::EventLoop loop;
    auto doit = [](asyncio::EventLoop* loop) -> Coroutine<std::string> {
        auto sleeper = asyncio::create_task(just_sleep(5000s));
        loop->call_later(1ms, [sleeper] { sleeper.cancel(); });
        try {
            co_await sleeper;
        } catch (const asyncio::CancelledError&) {
            co_return "cancelled";
        }
        co_return "slept in";
    };
    EXPECT_EQ(loop.run_until_complete(doit(&loop)), "cancelled");
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_task_cancel_waiter_future (without the private _fut_waiter)
TEST(BaseTaskTests, test_task_cancel_waiter_future) {
    asyncio::EventLoop loop;
    auto fut = loop.create_future<void>();
    auto coro = [](asyncio::Future<> fut) -> Coroutine<> { co_await fut; };
    auto task = loop.create_task(coro(fut));
    run_briefly(loop);
    task.cancel();
    run_briefly(loop);
    EXPECT_THROW(loop.run_until_complete(task), asyncio::CancelledError);
    EXPECT_TRUE(fut.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_step_result_future - the task waits on the future it
// awaits and gets its very value (Python's Future subclass counting add_done_callback is
// white-box: not ported).
TEST(BaseTaskTests, test_step_result_future) {
    asyncio::EventLoop loop;
    auto fut = loop.create_future<std::shared_ptr<int>>();
    std::shared_ptr<int> result;
    auto wait_for_future = [&]() -> Coroutine<> { result = co_await fut; };
    auto t = loop.create_task(wait_for_future());
    run_briefly(loop);
    EXPECT_FALSE(t.done());
    auto res = std::make_shared<int>(1);
    fut.set_result(res);
    run_briefly(loop);
    EXPECT_EQ(result, res);
    EXPECT_TRUE(t.done());
    t.result();
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_baseexception_during_cancel - a SystemExit raised while
// handling the cancellation leaves the loop bare; the task ends with it, not cancelled.
TEST(BaseTaskTests, test_baseexception_during_cancel) {
    asyncio::EventLoop loop;
    auto notmutch = []() -> Coroutine<> {
        try {
            co_await just_sleep(10s);
        } catch (const asyncio::CancelledError&) {
            throw nogil::SystemExit();
        }
    };
    auto task = loop.create_task(notmutch());
    run_briefly(loop);
    task.cancel();
    EXPECT_FALSE(task.done());
    const nogil::SystemExit* raised = nullptr;
    std::exception_ptr keep;
    try {
        run_briefly(loop);
        ADD_FAILURE() << "no SystemExit";
    } catch (const nogil::SystemExit&) {
        keep = std::current_exception();
        raised = as<nogil::SystemExit>(keep);
    }
    EXPECT_TRUE(task.done());
    EXPECT_FALSE(task.cancelled());
    auto e = task.exception();
    EXPECT_TRUE(as<nogil::SystemExit>(e));
    EXPECT_EQ(as<nogil::SystemExit>(e), raised);  // the same object
    run_briefly(loop);  // run_briefly's own task, left behind by the SystemExit
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_coroutine_non_gen_function
TEST(BaseTaskTests, test_coroutine_non_gen_function) {
    auto func = []() -> Coroutine<std::string> { co_return "test"; };
    asyncio::EventLoop loop;
    EXPECT_EQ(loop.run_until_complete(func()), "test");
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_coroutine_non_gen_function_return_future - a coroutine
// returning a future returns the future (it is not awaited).
TEST(BaseTaskTests, test_coroutine_non_gen_function_return_future) {
    asyncio::EventLoop loop;
    auto fut = loop.create_future<std::string>();
    auto func = [](asyncio::Future<std::string> fut) -> Coroutine<asyncio::Future<std::string>> { co_return fut; };
    auto coro = [](asyncio::Future<std::string> fut) -> Coroutine<> {
        fut.set_result("test");
        co_return;
    };
    auto t1 = loop.create_task(func(fut));
    auto t2 = loop.create_task(coro(fut));
    auto res = loop.run_until_complete(t1);
    EXPECT_TRUE(res == fut);
    EXPECT_TRUE(t2.done());
    t2.result();
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_current_task (and BaseCurrentLoopTests
// .test_current_task_with_implicit_loop)
TEST(BaseTaskTests, test_current_task) {
    asyncio::EventLoop loop;
    Task<> task;
    auto coro = [&]() -> Coroutine<> {
        auto me = asyncio::current_task();
        CO_ASSERT_TRUE(me.has_value());
        EXPECT_TRUE(*me == task);
        co_return;
    };
    task = loop.create_task(coro());
    loop.run_until_complete(task);
    // Outside the loop: Python's current_task() raises (BaseCurrentLoopTests, below).
    loop.run_until_complete([]() -> Coroutine<> {
        bool in_callback = false;
        asyncio::get_running_loop().call_soon([&] {
            in_callback = true;
            EXPECT_FALSE(asyncio::current_task().has_value());  // a callback is no task
        });
        co_await asyncio::sleep(0);
        EXPECT_TRUE(in_callback);
    }());
    loop.close();
}

// test_tasks.py: BaseCurrentLoopTests.test_current_task_no_running_loop_implicit
TEST(BaseCurrentLoopTests, test_current_task_no_running_loop_implicit) {
    try {
        (void)asyncio::current_task();
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
}

// test_tasks.py: BaseTaskTests.test_current_task_with_interleaving_tasks
TEST(BaseTaskTests, test_current_task_with_interleaving_tasks) {
    asyncio::EventLoop loop;
    auto fut1 = loop.create_future<void>();
    auto fut2 = loop.create_future<void>();
    Task<> task1, task2;
    auto coro1 = [&]() -> Coroutine<> {
        EXPECT_TRUE(*asyncio::current_task() == task1);
        co_await fut1;
        EXPECT_TRUE(*asyncio::current_task() == task1);
        fut2.set_result();
    };
    auto coro2 = [&]() -> Coroutine<> {
        EXPECT_TRUE(*asyncio::current_task() == task2);
        fut1.set_result();
        co_await fut2;
        EXPECT_TRUE(*asyncio::current_task() == task2);
    };
    task1 = loop.create_task(coro1());
    task2 = loop.create_task(coro2());
    loop.run_until_complete([](Task<> a, Task<> b) -> Coroutine<> {
        auto fs = std::vector{a, b};  // named: g++ 12 rejects a braced temporary in a co_await
        co_await asyncio::wait(fs);
    }(task1, task2));
    EXPECT_TRUE(task1.done());
    EXPECT_TRUE(task2.done());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_yield_future_passes_cancel - cancelling outer() cancels
// inner() cancels waiter.
TEST(BaseTaskTests, test_yield_future_passes_cancel) {
    asyncio::EventLoop loop;
    int proof = 0;
    auto waiter = loop.create_future<void>();
    auto inner = [&]() -> Coroutine<> {
        try {
            co_await waiter;
        } catch (const asyncio::CancelledError&) {
            proof += 1;
            throw;
        }
        ADD_FAILURE() << "got past the await in inner()";
    };
    auto outer = [&]() -> Coroutine<> {
        try {
            co_await inner();
            proof += 10;
        } catch (const asyncio::CancelledError&) {
            proof += 100;  // Expect this path.
        }
    };
    auto f = loop.create_task(outer());
    run_briefly(loop);
    f.cancel();
    loop.run_until_complete(f);
    EXPECT_EQ(proof, 101);
    EXPECT_TRUE(waiter.cancelled());
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_yield_wait_does_not_shield_cancel - cancelling outer()
// makes wait() return early, leaves inner() running.
TEST(BaseTaskTests, test_yield_wait_does_not_shield_cancel) {
    asyncio::EventLoop loop;
    int proof = 0;
    auto waiter = loop.create_future<void>();
    auto inner = [&]() -> Coroutine<> {
        co_await waiter;
        proof += 1;
    };
    auto outer = [&]() -> Coroutine<> {
        auto fs = std::vector{asyncio::create_task(inner())};  // named: g++ 12 (see above)
        co_await asyncio::wait(fs);
        proof += 100;
    };
    auto f = loop.create_task(outer());
    run_briefly(loop);
    f.cancel();
    EXPECT_THROW(loop.run_until_complete(f), asyncio::CancelledError);
    waiter.set_result();
    run_briefly(loop);
    EXPECT_EQ(proof, 1);
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_shield_coroutine_without_loop
TEST(BaseTaskTests, test_shield_coroutine_without_loop) {
    try {
        (void)asyncio::shield(forty_two());
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
}

// test_tasks.py: BaseTaskTests.test_shield_coroutine_use_running_loop
TEST(BaseTaskTests, test_shield_coroutine_use_running_loop) {
    asyncio::EventLoop loop;
    using Outer = decltype(asyncio::shield(forty_two()));
    auto test = []() -> Coroutine<Outer> { co_return asyncio::shield(forty_two()); };
    Outer outer = loop.run_until_complete(test());
    EXPECT_EQ(&outer.get_loop(), &loop);
    EXPECT_EQ(loop.run_until_complete(outer), 42);
    loop.close();
}

Coroutine<> raise_type_error() {
    throw std::logic_error("TypeError");
    co_return;
}

/// test_tb_logger_not_called_after_cancel's runner: a task fails, is (or is not) cancelled once
/// done, and is dropped without its exception having been read.
Coroutine<> fail_then_drop(bool cancel) {
    auto task = asyncio::create_task(raise_type_error());
    while (!task.done()) co_await asyncio::sleep(0);
    if (cancel) {
        EXPECT_FALSE(task.cancel());
    }
}

// test_tasks.py: BaseTaskTests.test_tb_logger_not_called_after_cancel - cancel() of a task
// that failed marks its exception as retrieved (Python's cancel() clears _log_traceback
// first), so dropping it reports nothing. Without the cancel, it is reported.
TEST(BaseTaskTests, test_tb_logger_not_called_after_cancel) {
    for (bool cancel : {true, false}) {
        asyncio::EventLoop loop;
        int reports = 0;
        loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext&) { ++reports; });
        loop.run_until_complete(fail_then_drop(cancel));
        EXPECT_EQ(reports, cancel ? 0 : 1) << "cancel=" << cancel;
        loop.close();
    }
}

// test_tasks.py: BaseTaskTests.test_create_task_with_async_function
TEST(BaseTaskTests, test_create_task_with_async_function) {
    asyncio::EventLoop loop;
    for (int i = 0; i < 2; ++i) {
        auto task = loop.create_task(one_loop_turn());
        loop.run_until_complete(task);
        EXPECT_TRUE(task.done());
    }
    loop.close();
}

// test_tasks.py: BaseTaskTests.test_bare_create_task
TEST(BaseTaskTests, test_bare_create_task) {
    run_bounded([]() -> Coroutine<> {
        auto inner = []() -> Coroutine<int> { co_return 1; };
        auto task = asyncio::create_task(inner());
        EXPECT_EQ(co_await task, 1);
    }());
}

// test_tasks.py: BaseTaskTests.test_bare_create_named_task
TEST(BaseTaskTests, test_bare_create_named_task) {
    run_bounded([]() -> Coroutine<> {
        auto task = asyncio::create_task(one_loop_turn(), "No-op");
        EXPECT_EQ(task.get_name(), "No-op");
        co_await task;
    }());
}

// test_tasks.py: BaseTaskTests.test_get_context
TEST(BaseTaskTests, test_get_context) {
    asyncio::EventLoop loop;
    auto context = nogil::contextvars::copy_context();
    auto task = loop.create_task(one_loop_turn(), {.context = &context});
    loop.run_until_complete(task);
    EXPECT_TRUE(task.get_context().is(context));
    loop.close();
}

// --- GatherTestsBase, for futures (FutureGatherTests) and coroutines (CoroutineGatherTests) ---

Coroutine<int> await_future(asyncio::Future<int> f) { co_return co_await f; }

/// Python's wrap_futures: the futures themselves, or coroutines awaiting them.
template <bool Coros, bool Settled, class... F>
auto gather_of(F... fs) {
    if constexpr (Coros) {
        if constexpr (Settled)
            return asyncio::gather(asyncio::return_exceptions, await_future(fs)...);
        else
            return asyncio::gather(await_future(fs)...);
    } else if constexpr (Settled) {
        return asyncio::gather(asyncio::return_exceptions, fs...);
    } else {
        return asyncio::gather(fs...);
    }
}

/// The value of a gather element, plain or with return_exceptions.
int value_of(int v) { return v; }
int value_of(const std::variant<int, std::exception_ptr>& v) { return std::get<0>(v); }

/// GatherTestsBase._check_success.
template <bool Coros, bool Settled>
Coroutine<> check_success() {
    auto& loop = asyncio::get_running_loop();
    auto a = loop.create_future<int>(), b = loop.create_future<int>(), c = loop.create_future<int>();
    auto fut = gather_of<Coros, Settled>(a, b, c);
    int calls = 0;
    fut.add_done_callback([&](auto) { ++calls; });
    b.set_result(1);
    a.set_result(2);
    co_await run_ready_callbacks();
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(fut.done());
    c.set_result(3);
    co_await run_ready_callbacks();
    EXPECT_EQ(calls, 1);
    const auto& [x, y, z] = fut.result();
    EXPECT_EQ(value_of(x), 2);
    EXPECT_EQ(value_of(y), 1);
    EXPECT_EQ(value_of(z), 3);
}

/// GatherTestsBase.test_one_exception.
template <bool Coros>
Coroutine<> check_one_exception() {
    auto& loop = asyncio::get_running_loop();
    std::vector<asyncio::Future<int>> f;
    for (int i = 0; i < 5; ++i) f.push_back(loop.create_future<int>());
    auto fut = gather_of<Coros, false>(f[0], f[1], f[2], f[3], f[4]);
    int calls = 0;
    fut.add_done_callback([&](auto) { ++calls; });
    auto exc = std::make_exception_ptr(ZeroDivisionError());
    f[0].set_result(1);
    f[1].set_exception(exc);
    co_await run_ready_callbacks();
    EXPECT_TRUE(fut.done());
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(fut.exception(), exc);  // the same object
    // Does nothing
    f[2].set_result(3);
    f[3].cancel();
    f[4].set_exception(std::make_exception_ptr(std::runtime_error("x")));
    (void)f[4].exception();
    co_await run_ready_callbacks();
    EXPECT_EQ(calls, 1);
}

/// GatherTestsBase.test_return_exceptions.
template <bool Coros>
Coroutine<> check_return_exceptions() {
    auto& loop = asyncio::get_running_loop();
    std::vector<asyncio::Future<int>> f;
    for (int i = 0; i < 4; ++i) f.push_back(loop.create_future<int>());
    auto fut = gather_of<Coros, true>(f[0], f[1], f[2], f[3]);
    int calls = 0;
    fut.add_done_callback([&](auto) { ++calls; });
    auto exc = std::make_exception_ptr(ZeroDivisionError());
    auto exc2 = std::make_exception_ptr(std::runtime_error("x"));
    f[1].set_result(1);
    f[2].set_exception(exc);
    f[0].set_result(3);
    co_await run_ready_callbacks();
    EXPECT_FALSE(fut.done());
    f[3].set_exception(exc2);
    co_await run_ready_callbacks();
    EXPECT_TRUE(fut.done());
    EXPECT_EQ(calls, 1);
    const auto& [r0, r1, r2, r3] = fut.result();
    EXPECT_EQ(std::get<0>(r0), 3);
    EXPECT_EQ(std::get<0>(r1), 1);
    EXPECT_EQ(std::get<1>(r2), exc);
    EXPECT_EQ(std::get<1>(r3), exc2);
}

// test_tasks.py: GatherTestsBase.test_success (FutureGatherTests)
TEST(FutureGatherTests, test_success) {
    run_bounded(check_success<false, false>());
}
// test_tasks.py: GatherTestsBase.test_success (CoroutineGatherTests)
TEST(CoroutineGatherTests, test_success) {
    run_bounded(check_success<true, false>());
}
// test_tasks.py: GatherTestsBase.test_result_exception_success (FutureGatherTests)
TEST(FutureGatherTests, test_result_exception_success) {
    run_bounded(check_success<false, true>());
}
// test_tasks.py: GatherTestsBase.test_result_exception_success (CoroutineGatherTests)
TEST(CoroutineGatherTests, test_result_exception_success) {
    run_bounded(check_success<true, true>());
}
// test_tasks.py: GatherTestsBase.test_one_exception (FutureGatherTests)
TEST(FutureGatherTests, test_one_exception) {
    run_bounded(check_one_exception<false>());
}
// test_tasks.py: GatherTestsBase.test_one_exception (CoroutineGatherTests)
TEST(CoroutineGatherTests, test_one_exception) {
    run_bounded(check_one_exception<true>());
}
// test_tasks.py: GatherTestsBase.test_return_exceptions (CoroutineGatherTests; the futures'
// run is FutureGatherTests.test_return_exceptions in test_tasks.cpp)
TEST(CoroutineGatherTests, test_return_exceptions) {
    run_bounded(check_return_exceptions<true>());
}

// test_tasks.py: FutureGatherTests.test_constructor_empty_sequence_without_loop
TEST(FutureGatherTests, test_constructor_empty_sequence_without_loop) {
    std::vector<asyncio::Future<int>> none;
    try {
        (void)asyncio::gather(none);
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
}

// test_tasks.py: FutureGatherTests.test_constructor_empty_sequence_use_running_loop
TEST(FutureGatherTests, test_constructor_empty_sequence_use_running_loop) {
    asyncio::EventLoop loop;
    using Fut = decltype(asyncio::gather(std::declval<std::vector<asyncio::Future<int>>&>()));
    auto gather = []() -> Coroutine<Fut> {
        std::vector<asyncio::Future<int>> none;
        co_return asyncio::gather(none);
    };
    Fut fut = loop.run_until_complete(gather());
    EXPECT_EQ(&fut.get_loop(), &loop);
    run_briefly(loop);
    EXPECT_TRUE(fut.done());
    EXPECT_TRUE(fut.result().empty());
    loop.close();
}

// test_tasks.py: FutureGatherTests.test_constructor_heterogenous_futures
TEST(FutureGatherTests, test_constructor_heterogenous_futures) {
    asyncio::EventLoop one_loop, other_loop;
    auto fut1 = one_loop.create_future<int>();
    auto fut2 = other_loop.create_future<int>();
    EXPECT_THROW((void)asyncio::gather(fut1, fut2), std::invalid_argument);
    one_loop.close();
    other_loop.close();
}

// test_tasks.py: FutureGatherTests.test_constructor_homogenous_futures - futures need no running
// loop: the gather belongs to their loop.
TEST(FutureGatherTests, test_constructor_homogenous_futures) {
    asyncio::EventLoop other_loop;
    std::vector<asyncio::Future<int>> children;
    for (int i = 0; i < 3; ++i) children.push_back(other_loop.create_future<int>());
    for (int i = 0; i < 2; ++i) {
        auto fut = asyncio::gather(children);
        EXPECT_EQ(&fut.get_loop(), &other_loop);
        run_briefly(other_loop);
        EXPECT_FALSE(fut.done());
    }
    for (int i = 0; i < 3; ++i) children[i].set_result(i);
    run_briefly(other_loop);
    other_loop.close();
}

// test_tasks.py: FutureGatherTests.test_result_exception_one_cancellation
TEST(FutureGatherTests, test_result_exception_one_cancellation) {
    run_bounded([]() -> Coroutine<> {
        auto& loop = asyncio::get_running_loop();
        std::vector<asyncio::Future<int>> f;
        for (int i = 0; i < 6; ++i) f.push_back(loop.create_future<int>());
        auto fut = asyncio::gather(asyncio::return_exceptions, f[0], f[1], f[2], f[3], f[4], f[5]);
        int calls = 0;
        fut.add_done_callback([&](auto) { ++calls; });
        f[0].set_result(1);
        auto zde = std::make_exception_ptr(ZeroDivisionError());
        f[1].set_exception(zde);
        f[2].cancel();
        co_await run_ready_callbacks();
        EXPECT_FALSE(fut.done());
        f[3].set_result(3);
        f[4].cancel();
        auto rte = std::make_exception_ptr(std::runtime_error("x"));
        f[5].set_exception(rte);
        auto [r0, r1, r2, r3, r4, r5] = co_await fut;
        EXPECT_EQ(std::get<0>(r0), 1);
        EXPECT_EQ(std::get<1>(r1), zde);
        EXPECT_EQ(type_name(std::get<1>(r2)), "CancelledError");
        EXPECT_EQ(std::get<0>(r3), 3);
        EXPECT_EQ(type_name(std::get<1>(r4)), "CancelledError");
        EXPECT_EQ(std::get<1>(r5), rte);
        EXPECT_EQ(calls, 1);
    }());
}

Coroutine<std::string> abc() { co_return "abc"; }

// test_tasks.py: CoroutineGatherTests.test_constructor_without_loop
TEST(CoroutineGatherTests, test_constructor_without_loop) {
    try {
        (void)asyncio::gather(abc(), abc());
        ADD_FAILURE() << "no RuntimeError";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
}

// test_tasks.py: CoroutineGatherTests.test_constructor_use_running_loop
TEST(CoroutineGatherTests, test_constructor_use_running_loop) {
    asyncio::EventLoop loop;
    using Fut = decltype(asyncio::gather(abc(), abc()));
    auto gather = []() -> Coroutine<Fut> { co_return asyncio::gather(abc(), abc()); };
    Fut fut = loop.run_until_complete(gather());
    EXPECT_EQ(&fut.get_loop(), &loop);
    auto [a, b] = loop.run_until_complete(fut);
    EXPECT_EQ(a, "abc");
    EXPECT_EQ(b, "abc");
    loop.close();
}

// --- RunCoroutineThreadsafeTests ----------------------------------------------------------

/// The test's add(): `delay` 0 in the cases that finish (Python sleeps 0.05 s), an hour in the
/// timeout case (so that result(timeout=0) cannot see it done, on any machine).
Coroutine<int> add(int a, int b, bool fail, bool cancel, std::chrono::seconds delay) {
    co_await asyncio::sleep(delay);
    if (fail) throw std::runtime_error("Fail!");
    if (cancel) {
        asyncio::current_task()->cancel();
        co_await asyncio::sleep(0);
    }
    co_return a + b;
}

/// The test's target(): runs in a worker thread, submits add(1, 2) to `loop` and waits for it.
int target(asyncio::EventLoop* loop, bool fail, bool cancel, std::optional<std::chrono::seconds> timeout) {
    auto future = asyncio::run_coroutine_threadsafe(add(1, 2, fail, cancel, timeout ? 1h : 0s), *loop);
    try {
        int r = timeout ? future.result(*timeout) : future.result();
        return r;
    } catch (...) {
        if (!future.done()) future.cancel();
        throw;
    }
}

/// Runs target() in the loop's default executor and gives what it ended with.
Coroutine<std::exception_ptr> run_target(bool fail, bool cancel, std::optional<std::chrono::seconds> timeout, int* result) {
    auto* loop = &asyncio::get_running_loop();
    try {
        *result = co_await asyncio::to_thread(target, loop, fail, cancel, timeout);
    } catch (...) {
        co_return std::current_exception();
    }
    co_return nullptr;
}

// test_tasks.py: RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe
TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe) {
    int result = 0;
    auto e = run_bounded(run_target(false, false, std::nullopt, &result));
    EXPECT_EQ(type_name(e), "None");
    EXPECT_EQ(result, 3);
}

// test_tasks.py: RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_with_exception
TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_with_exception) {
    int result = 0;
    auto e = run_bounded(run_target(true, false, std::nullopt, &result));
    const auto* error = as<std::runtime_error>(e);
    ASSERT_TRUE(error);
    EXPECT_STREQ(error->what(), "Fail!");
}

// test_tasks.py: RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_with_timeout - the
// TimeoutError reaches the caller, and cancelling the concurrent future cancels the task.
TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_with_timeout) {
    run_bounded([]() -> Coroutine<> {
        int result = 0;
        auto e = co_await run_target(false, false, 0s, &result);
        EXPECT_EQ(type_name(e), "TimeoutError");
        co_await asyncio::sleep(0);  // run_briefly
        // Check that there's no pending task (add has been cancelled): only this one is left.
        auto pending = asyncio::all_tasks();
        EXPECT_EQ(pending.size(), 1u);
        for (auto& t : pending) EXPECT_TRUE(t == *asyncio::current_task());
    }());
}

// test_tasks.py: RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_task_cancelled
TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_task_cancelled) {
    int result = 0;
    auto e = run_bounded(run_target(false, true, std::nullopt, &result));
    EXPECT_EQ(type_name(e), "CancelledError");
}

// test_tasks.py: RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe_task_factory_exception
// - a task factory that throws: the caller's future gets the exception, and the loop's
// exception handler is called once with it (Python's callback sets it, then re-raises).
TEST(RunCoroutineThreadsafeTests, test_run_coroutine_threadsafe_task_factory_exception) {
    asyncio::EventLoop loop;
    std::vector<std::exception_ptr> reported;
    loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) { reported.push_back(c.exception); });
    int result = 0;
    auto body = [](int* result) -> Coroutine<std::exception_ptr> {
        asyncio::get_running_loop().set_task_factory([](asyncio::EventLoop&, const asyncio::TaskMaker&, asyncio::TaskOptions) -> Task<> {
            throw MyExc();
        });
        auto e = co_await run_target(false, false, std::nullopt, result);
        asyncio::get_running_loop().set_task_factory(nullptr);
        co_return e;
    };
    auto e = loop.run_until_complete(body(&result));
    EXPECT_EQ(type_name(e), "MyExc");
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_EQ(reported[0], e);  // the same object
    loop.close();
}

// test_tasks.py: SleepTests.test_sleep_zero
TEST(SleepTests, test_sleep_zero) {
    int result = 0;
    asyncio::EventLoop loop;
    auto coro = [](int* result) -> Coroutine<> {
        asyncio::get_running_loop().call_soon([result] { *result += 1; });
        EXPECT_EQ(*result, 0);
        int num = co_await asyncio::sleep(0, 10);
        EXPECT_EQ(*result, 1);  // inc'ed by call_soon
        *result += num;         // num should be 11
    };
    loop.run_until_complete(coro(&result));
    EXPECT_EQ(result, 11);
    loop.close();
}

}  // namespace
