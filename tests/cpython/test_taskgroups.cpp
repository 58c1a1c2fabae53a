// CPython's Lib/test/test_asyncio/test_taskgroups.py (3.13), ported.
//
// `async with TaskGroup() as g: body` is `co_await TaskGroup::run(body)` with body a named
// lambda taking the group. Python's timing sleeps that only order events inside one loop are
// kept (scaled to milliseconds: timers of one loop fire in deadline order); where the test
// waited for another task to reach an await ("sleep(0.1), then cancel"), an Event says so.
// CPython runs the suite twice, with lazy and with eager tasks; the eager runs are the
// *Eager tests at the end. test_taskgroup_context_manager_exit_raises has no async context
// manager in C++: the body itself raises after its child failed (the same accounting).
//
// Not applicable in C++:
//   test_taskgroup_already_entered, test_taskgroup_double_enter, test_taskgroup_not_entered,
//   test_taskgroup_without_parent_task (await_without_task) - a TaskGroup exists only inside
//     run(), which enters it once: there is no group to enter twice or to use unentered.
//   test_coro_closed_when_tg_closed, test_taskgroup_finished - the group cannot outlive run();
//     test_create_task_after_exit below covers what a child can do after the body ended.
//   test_exception_refcycles_* - garbage-collector reference cycles; C++ has none to test.
//   test_taskgroup_23 (len(g._tasks)) - a private attribute.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;
using asyncio::TaskGroup;
using namespace std::chrono_literals;

namespace {

Coroutine<> just_sleep(std::chrono::milliseconds d) { co_await asyncio::sleep(d); }

struct TypeError : std::logic_error {
    TypeError() : std::logic_error("TypeError") {}
};

Coroutine<int> sleep_return(std::chrono::milliseconds d, int v) {
    co_await asyncio::sleep(d);
    co_return v;
}

Coroutine<> zero_division_after(std::chrono::milliseconds d) {
    co_await asyncio::sleep(d);
    throw ZeroDivisionError();
}

Coroutine<> value_error_after(std::chrono::milliseconds d) {
    co_await asyncio::sleep(d);
    throw std::invalid_argument(std::to_string(d.count()));
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_01
TEST(TestTaskGroup, test_taskgroup_01) {
    run_bounded([]() -> Coroutine<> {
        Task<int> t1, t2;
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            t1 = g.create_task(sleep_return(1ms, 42));
            t2 = g.create_task(sleep_return(2ms, 11));
            co_return;
        };
        co_await TaskGroup::run(body);
        EXPECT_EQ(t1.result(), 42);
        EXPECT_EQ(t2.result(), 11);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_02
TEST(TestTaskGroup, test_taskgroup_02) {
    run_bounded([]() -> Coroutine<> {
        Task<int> t1, t2;
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            t1 = g.create_task(sleep_return(1ms, 42));
            co_await asyncio::sleep(2ms);
            t2 = g.create_task(sleep_return(2ms, 11));
        };
        co_await TaskGroup::run(body);
        EXPECT_EQ(t1.result(), 42);
        EXPECT_EQ(t2.result(), 11);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_03
TEST(TestTaskGroup, test_taskgroup_03) {
    run_bounded([]() -> Coroutine<> {
        Task<int> t1, t2;
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            t1 = g.create_task(sleep_return(1h, 42));
            co_await asyncio::sleep(1ms);
            t1.cancel();  // explicitly: everything else goes on as usual
            t2 = g.create_task(sleep_return(2ms, 11));
        };
        co_await TaskGroup::run(body);
        EXPECT_TRUE(t1.cancelled());
        EXPECT_EQ(t2.result(), 11);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_04
TEST(TestTaskGroup, test_taskgroup_04) {
    run_bounded([]() -> Coroutine<> {
        int num = 0;
        bool t2_cancel = false;
        Task<> t2;
        auto foo2 = [&]() -> Coroutine<> {
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                t2_cancel = true;
                throw;
            }
            num += 1;
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            t2 = g.create_task(foo2());
            co_return;
        };
        auto runner = [&]() -> Coroutine<> {
            co_await TaskGroup::run(body);
            num += 10;
        };
        auto e = co_await outcome(asyncio::create_task(runner()));
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
        EXPECT_EQ(num, 0);
        EXPECT_TRUE(t2_cancel);
        EXPECT_TRUE(t2.cancelled());
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_cancel_children_on_child_error
TEST(TestTaskGroup, test_cancel_children_on_child_error) {
    run_bounded([]() -> Coroutine<> {
        int num = 0;
        bool t2_cancel = false, runner_cancel = false;
        auto foo2 = [&]() -> Coroutine<> {
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                t2_cancel = true;
                throw;
            }
            num += 1;
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            g.create_task(zero_division_after(1ms));
            g.create_task(zero_division_after(1ms));
            g.create_task(foo2());
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                runner_cancel = true;
                throw;
            }
        };
        auto runner = [&]() -> Coroutine<> {
            co_await TaskGroup::run(body);
            num += 10;
        };
        auto e = co_await outcome(asyncio::create_task(runner()));
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
        EXPECT_EQ(num, 0);
        EXPECT_TRUE(t2_cancel);
        EXPECT_TRUE(runner_cancel);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_cancellation
TEST(TestTaskGroup, test_cancellation) {
    run_bounded([]() -> Coroutine<> {
        int num = 0;
        asyncio::Event started;
        auto foo = [&]() -> Coroutine<> {
            try {
                started.set();
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                num += 1;
                throw;
            }
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            for (int i = 0; i < 5; ++i) g.create_task(foo());
            co_return;
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await started.wait();
        EXPECT_FALSE(r.done());
        r.cancel("test");
        auto e = co_await outcome(r);
        CO_ASSERT_TRUE(as<asyncio::CancelledError>(e));
        EXPECT_EQ(as<asyncio::CancelledError>(e)->message(), "test");
        EXPECT_EQ(num, 5);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_07
TEST(TestTaskGroup, test_taskgroup_07) {
    run_bounded([]() -> Coroutine<> {
        int num = 0;
        asyncio::Event in_body;
        auto foo = [&]() -> Coroutine<> {
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                num += 1;
                throw;
            }
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            for (int i = 0; i < 5; ++i) g.create_task(foo());
            co_await asyncio::sleep(0);  // the children reach their sleep
            try {
                in_body.set();
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                num += 10;
                throw;
            }
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        EXPECT_TRUE(as<asyncio::CancelledError>(co_await outcome(r)));
        EXPECT_EQ(num, 15);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_cancellation_in_body
TEST(TestTaskGroup, test_cancellation_in_body) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event in_body;
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            for (int i = 0; i < 5; ++i) g.create_task(zero_division_after(1h));
            in_body.set();
            co_await asyncio::sleep(1h);
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel("test");
        auto e = co_await outcome(r);
        CO_ASSERT_TRUE(as<asyncio::CancelledError>(e));
        EXPECT_EQ(as<asyncio::CancelledError>(e)->message(), "test");
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_09
TEST(TestTaskGroup, test_taskgroup_09) {
    run_bounded([]() -> Coroutine<> {
        Task<int> t1, t2;
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            t1 = g.create_task(sleep_return(1h, 42));
            t2 = g.create_task(sleep_return(2h, 11));
            co_await asyncio::sleep(1ms);
            throw ZeroDivisionError();
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
        EXPECT_TRUE(t1.cancelled());
        EXPECT_TRUE(t2.cancelled());
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_10
TEST(TestTaskGroup, test_taskgroup_10) {
    run_bounded([]() -> Coroutine<> {
        Task<int> t1, t2;
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            t1 = g.create_task(sleep_return(1h, 42));
            t2 = g.create_task(sleep_return(2h, 11));
            throw ZeroDivisionError();
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
        EXPECT_TRUE(t1.cancelled());
        EXPECT_TRUE(t2.cancelled());
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_11
TEST(TestTaskGroup, test_taskgroup_11) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event in_body;
        auto inner = [&](TaskGroup& g2) -> Coroutine<> {
            for (int i = 0; i < 5; ++i) g2.create_task(zero_division_after(1h));
            in_body.set();
            co_await asyncio::sleep(1h);
        };
        auto outer = [&](TaskGroup&) -> Coroutine<> { co_await TaskGroup::run(inner); };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(outer); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        EXPECT_TRUE(as<asyncio::CancelledError>(co_await outcome(r)));
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_12
TEST(TestTaskGroup, test_taskgroup_12) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event in_body;
        auto inner = [&](TaskGroup& g2) -> Coroutine<> {
            for (int i = 0; i < 5; ++i) g2.create_task(zero_division_after(1h));
            in_body.set();
            co_await asyncio::sleep(1h);
        };
        auto outer = [&](TaskGroup& g1) -> Coroutine<> {
            g1.create_task(just_sleep(1h));
            co_await TaskGroup::run(inner);
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(outer); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        EXPECT_TRUE(as<asyncio::CancelledError>(co_await outcome(r)));
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_13
TEST(TestTaskGroup, test_taskgroup_13) {
    run_bounded([]() -> Coroutine<> {
        auto inner = [&](TaskGroup& g2) -> Coroutine<> {
            g2.create_task(value_error_after(1h));
            co_return;
        };
        auto outer = [&](TaskGroup& g1) -> Coroutine<> {
            g1.create_task(value_error_after(1ms));
            co_await TaskGroup::run(inner);
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(outer); };
        auto e = co_await outcome(asyncio::create_task(runner()));
        EXPECT_EQ(error_types(e), Types{"ValueError"});
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_14
TEST(TestTaskGroup, test_taskgroup_14) {
    run_bounded([]() -> Coroutine<> {
        auto inner = [&](TaskGroup& g2) -> Coroutine<> {
            g2.create_task(value_error_after(1ms));
            co_return;
        };
        auto outer = [&](TaskGroup& g1) -> Coroutine<> {
            g1.create_task(value_error_after(1h));
            co_await TaskGroup::run(inner);
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(outer); };
        auto e = co_await outcome(asyncio::create_task(runner()));
        EXPECT_EQ(error_types(e), Types{"ExceptionGroup"});
        const auto* eg = as<asyncio::ExceptionGroup>(e);
        CO_ASSERT_TRUE(eg && eg->exceptions().size() == 1);
        EXPECT_EQ(error_types(eg->exceptions()[0]), Types{"ValueError"});
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_15 (3.13: a cancel from outside while the
// group fails; the child's error wins over the cancellation)
TEST(TestTaskGroup, test_taskgroup_15) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event in_body;
        auto body = [&](TaskGroup& g1) -> Coroutine<> {
            g1.create_task(zero_division_after(3ms));
            bool cancelled = false;
            try {
                in_body.set();
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await asyncio::sleep(10ms);  // meanwhile the child fails
                throw asyncio::CancelledError();
            }
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        auto e = co_await outcome(r);
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_16
TEST(TestTaskGroup, test_taskgroup_16) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event in_body;
        auto body = [&](TaskGroup& g1) -> Coroutine<> {
            g1.create_task(zero_division_after(3ms));
            bool cancelled = false;
            try {
                in_body.set();
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await asyncio::sleep(10ms);
                throw asyncio::CancelledError();
            }
        };
        auto nested_runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto runner = [&]() -> Coroutine<> {
            auto t = asyncio::create_task(nested_runner());
            co_await t;
        };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        auto e = co_await outcome(r);
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_17
TEST(TestTaskGroup, test_taskgroup_17) {
    run_bounded([]() -> Coroutine<> {
        int num = 0;
        asyncio::Event in_body;
        auto body = [&](TaskGroup&) -> Coroutine<> {
            try {
                in_body.set();
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                num += 10;
                throw;
            }
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        EXPECT_TRUE(as<asyncio::CancelledError>(co_await outcome(r)));
        EXPECT_EQ(num, 10);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_18
TEST(TestTaskGroup, test_taskgroup_18) {
    run_bounded([]() -> Coroutine<> {
        int num = 0;
        asyncio::Event in_body;
        auto body = [&](TaskGroup&) -> Coroutine<> {
            try {
                in_body.set();
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                num += 10;
                throw MyExc();  // "not a good idea, but we have to support this weird case"
            }
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await in_body.wait();
        EXPECT_FALSE(r.done());
        r.cancel();
        auto e = co_await outcome(r);
        EXPECT_EQ(error_types(e), Types{"MyExc"});
        EXPECT_EQ(num, 10);
    }());
}

// A coroutine that sleeps and throws E when its sleep ends (Python's `finally: raise E`).
template <class E>
Coroutine<> nested_raising() {
    try {
        co_await asyncio::sleep(1h);
    } catch (...) {
    }
    throw E();
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_19
TEST(TestTaskGroup, test_taskgroup_19) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            co_await nested_raising<MyExc>();
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto e = co_await outcome(asyncio::create_task(runner()));
        EXPECT_EQ(error_types(e), (Types{"MyExc", "ZeroDivisionError"}));
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_20 - a KeyboardInterrupt raised in the body
// while the group is failing propagates bare, not in an ExceptionGroup.
TEST(TestTaskGroup, test_taskgroup_20) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            co_await nested_raising<nogil::KeyboardInterrupt>();
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(type_name(e), "KeyboardInterrupt");
        // The group's own cancel of this task is not taken back when it raises KeyboardInterrupt
        // (Python's __aexit__ raises it first); take it back to end the test normally.
        asyncio::current_task()->uncancel();
    }());
}

// test_taskgroups.py: the same as test_taskgroup_20 with SystemExit (Python's _is_base_error).
TEST(TestTaskGroup, test_taskgroup_20_system_exit) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            co_await nested_raising<nogil::SystemExit>();
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(type_name(e), "SystemExit");
        asyncio::current_task()->uncancel();
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_20a - a BaseException that is neither
// KeyboardInterrupt nor SystemExit is collected like any other.
TEST(TestTaskGroup, test_taskgroup_20a) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            co_await nested_raising<MyBaseExc>();
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), (Types{"MyBaseExc", "ZeroDivisionError"}));
    }());
}

Coroutine<> keyboard_interrupt_after(std::chrono::milliseconds d) {
    co_await asyncio::sleep(d);
    throw nogil::KeyboardInterrupt();
}

// test_taskgroups.py: BaseTestTaskGroup._test_taskgroup_21 (disabled in CPython: "asyncio doesn't
// correctly propagate KeyboardInterrupt"). Python's Task re-raises it out of the event loop;
// here too: it leaves run() bare.
TEST(TestTaskGroup, test_taskgroup_21) {
    auto main = []() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(keyboard_interrupt_after(1ms));
            co_await nested_raising<TypeError>();
        };
        co_await TaskGroup::run(body);
    };
    EXPECT_THROW(asyncio::run(main()), nogil::KeyboardInterrupt);
}

Coroutine<> my_base_exc_after(std::chrono::milliseconds d) {
    co_await asyncio::sleep(d);
    throw MyBaseExc();
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_21a
TEST(TestTaskGroup, test_taskgroup_21a) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(my_base_exc_after(1ms));
            co_await nested_raising<TypeError>();
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), (Types{"MyBaseExc", "TypeError"}));
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_22
TEST(TestTaskGroup, test_taskgroup_22) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(sleep_return(1h, 42));
            g.create_task(sleep_return(2h, 11));
            co_return;
        };
        auto runner = [&]() -> Coroutine<> { co_await TaskGroup::run(body); };
        auto r = asyncio::create_task(runner());
        co_await asyncio::sleep(1ms);
        r.cancel();
        EXPECT_TRUE(as<asyncio::CancelledError>(co_await outcome(r)));
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_24
TEST(TestTaskGroup, test_taskgroup_24) {
    run_bounded([]() -> Coroutine<> {
        auto root = [](TaskGroup& g) -> Coroutine<> {
            co_await asyncio::sleep(1ms);
            g.create_task(just_sleep(1ms));
            g.create_task(just_sleep(2ms));
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(root(g));
            co_return;
        };
        co_await TaskGroup::run(body);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_25
TEST(TestTaskGroup, test_taskgroup_25) {
    run_bounded([]() -> Coroutine<> {
        int nhydras = 0;
        std::function<Coroutine<>(TaskGroup&)> hydra;
        hydra = [&](TaskGroup& g) -> Coroutine<> {
            nhydras += 1;
            co_await asyncio::sleep(1ms);
            g.create_task(hydra(g));
            g.create_task(hydra(g));
        };
        auto hercules = [&]() -> Coroutine<> {
            while (nhydras < 10) co_await asyncio::sleep(1ms);
            throw ZeroDivisionError();
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(hydra(g));
            g.create_task(hercules());
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
        EXPECT_GE(nhydras, 10);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_task_name and test_name
TEST(TestTaskGroup, test_taskgroup_task_name) {
    run_bounded([]() -> Coroutine<> {
        std::string name;
        auto asyncfn = [&]() -> Coroutine<> {
            name = asyncio::current_task()->get_name();
            co_return;
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            auto t = g.create_task(asyncfn(), "yolo");
            EXPECT_EQ(t.get_name(), "yolo");
            co_return;
        };
        co_await TaskGroup::run(body);
        EXPECT_EQ(name, "yolo");
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_no_create_task_after_failure
TEST(TestTaskGroup, test_taskgroup_no_create_task_after_failure) {
    run_bounded([]() -> Coroutine<> {
        bool refused = false;
        auto coro2 = [&](TaskGroup& g) -> Coroutine<> {
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                try {
                    g.create_task(zero_division_after(1ms));
                } catch (const std::runtime_error&) {
                    refused = true;
                }
            }
        };
        auto body = [&](TaskGroup& g) -> Coroutine<> {
            g.create_task(zero_division_after(1ms));
            g.create_task(coro2(g));
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"ZeroDivisionError"});
        EXPECT_TRUE(refused);
    }());
}

Coroutine<> raise_now() {
    throw MyExc();
    co_return;
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_context_manager_exit_raises (the body, not
// an inner context manager, raises after the child failed): both errors are collected and the
// parent's cancel count is back to 0.
TEST(TestTaskGroup, test_taskgroup_context_manager_exit_raises) {
    run_bounded([]() -> Coroutine<> {
        auto main = [&]() -> Coroutine<> {
            auto task = *asyncio::current_task();
            auto body = [&](TaskGroup& tg) -> Coroutine<> {
                tg.create_task(raise_now());
                try {
                    co_await asyncio::sleep(1h);
                } catch (...) {
                }
                throw MyExc();
            };
            auto e = co_await outcome(TaskGroup::run(body));
            const auto* eg = as<asyncio::ExceptionGroup>(e);
            CO_ASSERT_TRUE(eg);
            EXPECT_EQ(task.cancelling(), 0u);
            EXPECT_EQ(eg->exceptions().size(), 2u);
        };
        co_await asyncio::create_task(main());
    }());
}

Coroutine<> raise_after(std::chrono::milliseconds d, int which) {
    co_await asyncio::sleep(d);
    if (which == 0) throw std::runtime_error("RuntimeError");
    throw std::invalid_argument("ValueError");
}

// test_taskgroups.py: BaseTestTaskGroup.test_cancelling_level_preserved
TEST(TestTaskGroup, test_cancelling_level_preserved) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            tg.create_task(raise_after(0ms, 0));
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"RuntimeError"});
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_nested_groups_both_cancelled
TEST(TestTaskGroup, test_nested_groups_both_cancelled) {
    run_bounded([]() -> Coroutine<> {
        const auto base = asyncio::current_task()->cancelling();  // run_bounded's timeout() adds none
        bool inner_raised = false;
        auto outer_body = [&](TaskGroup& outer_tg) -> Coroutine<> {
            auto inner_body = [&](TaskGroup& inner_tg) -> Coroutine<> {
                inner_tg.create_task(raise_after(0ms, 0));
                outer_tg.create_task(raise_after(0ms, 1));
                co_return;
            };
            auto e = co_await outcome(TaskGroup::run(inner_body));
            inner_raised = error_types(e) == Types{"RuntimeError"};
            EXPECT_EQ(asyncio::current_task()->cancelling(), base + 1);
        };
        auto e = co_await outcome(TaskGroup::run(outer_body));
        EXPECT_TRUE(inner_raised);
        EXPECT_EQ(error_types(e), Types{"ValueError"});
        EXPECT_EQ(asyncio::current_task()->cancelling(), base);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_error_and_cancel - a cancel from outside that arrives
// while the group is failing is not lost: the next await after the group throws it.
TEST(TestTaskGroup, test_error_and_cancel) {
    run_bounded([]() -> Coroutine<> {
        asyncio::Event event;
        bool slept_in_group = false, slept_after_group = false;
        auto raise_error = [&]() -> Coroutine<> {
            event.set();
            co_await asyncio::sleep(0);
            throw std::runtime_error("boom");
        };
        auto inner = [&]() -> Coroutine<> {
            auto body = [&](TaskGroup& tg) -> Coroutine<> {
                tg.create_task(raise_error());
                co_await asyncio::sleep(1h);
                slept_in_group = true;
            };
            auto e = co_await outcome(TaskGroup::run(body));
            EXPECT_EQ(error_types(e), Types{"RuntimeError"});
            EXPECT_EQ(asyncio::current_task()->cancelling(), 1u);
            co_await asyncio::sleep(1h);
            slept_after_group = true;
        };
        auto t = asyncio::create_task(inner());
        co_await event.wait();
        EXPECT_EQ(t.cancelling(), 0u);
        t.cancel();
        EXPECT_EQ(t.cancelling(), 1u);
        EXPECT_TRUE(as<asyncio::CancelledError>(co_await outcome(t)));
        EXPECT_TRUE(t.cancelled());
        EXPECT_FALSE(slept_in_group);
        EXPECT_FALSE(slept_after_group);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_exception_refcycles_propagate_cancellation_error - the
// TimeoutError of a timeout() around a group carries the CancelledError as its cause (nested).
TEST(TestTaskGroup, test_exception_refcycles_propagate_cancellation_error) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup&) -> Coroutine<> { co_await asyncio::sleep(0); };
        auto e = co_await outcome(asyncio::timeout(-1.0, TaskGroup::run(body)));
        const auto* timeout = as<asyncio::TimeoutError>(e);
        CO_ASSERT_TRUE(timeout);
        const auto* nested = dynamic_cast<const std::nested_exception*>(timeout);
        CO_ASSERT_TRUE(nested);
        EXPECT_EQ(type_name(nested->nested_ptr()), "CancelledError");
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_exception_refcycles_base_error (without the GC part):
// a KeyboardInterrupt subclass raised in the body leaves the group bare, with its own type.
TEST(TestTaskGroup, test_exception_refcycles_base_error) {
    struct MyKeyboardInterrupt : nogil::KeyboardInterrupt {};
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup&) -> Coroutine<> {
            throw MyKeyboardInterrupt();
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_TRUE(as<MyKeyboardInterrupt>(e));
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_cancels_task_if_created_during_creation (gh-128550)
TEST(TestTaskGroup, test_cancels_task_if_created_during_creation) {
    run_bounded([]() -> Coroutine<> {
        bool ran = false;
        TaskGroup* group = nullptr;
        auto third_task = []() -> Coroutine<> {
            throw MyExc();
            co_return;
        };
        auto second_task = [&]() -> Coroutine<> {
            group->create_task(third_task());
            bool cancelled = false;
            try {
                co_await asyncio::sleep(0);  // eager tasks cancel here
                co_await asyncio::sleep(0);  // lazy tasks cancel here
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            EXPECT_TRUE(cancelled);
            ran = true;
        };
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            group = &tg;
            tg.create_task(second_task());
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_TRUE(ran);
        EXPECT_EQ(error_types(e), Types{"MyExc"});
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_cancellation_does_not_leak_out_of_tg
TEST(TestTaskGroup, test_cancellation_does_not_leak_out_of_tg) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            tg.create_task(raise_now());
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"MyExc"});
        // If the group leaked its cancel, this sleep would throw CancelledError.
        co_await asyncio::sleep(0);
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

// test_taskgroups.py: TestEagerTaskTaskGroup (the suite with eager tasks) - the cases whose
// accounting differs when children start inside create_task.
TEST(TestEagerTaskTaskGroup, test_cancellation_does_not_leak_out_of_tg) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            tg.create_task(raise_now(), asyncio::TaskOptions{.eager_start = true});
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"MyExc"});
        co_await asyncio::sleep(0);
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

TEST(TestEagerTaskTaskGroup, test_cancels_task_if_created_during_creation) {
    run_bounded([]() -> Coroutine<> {
        bool ran = false;
        TaskGroup* group = nullptr;
        auto third_task = []() -> Coroutine<> {
            throw MyExc();
            co_return;
        };
        auto second_task = [&]() -> Coroutine<> {
            group->create_task(third_task(), asyncio::TaskOptions{.eager_start = true});
            bool cancelled = false;
            try {
                co_await asyncio::sleep(0);  // eager tasks cancel here
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            EXPECT_TRUE(cancelled);
            ran = true;
        };
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            group = &tg;
            tg.create_task(second_task(), asyncio::TaskOptions{.eager_start = true});
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_TRUE(ran);
        EXPECT_EQ(error_types(e), Types{"MyExc"});
    }());
}

TEST(TestEagerTaskTaskGroup, test_cancelling_level_preserved) {
    run_bounded([]() -> Coroutine<> {
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            tg.create_task(raise_after(0ms, 0), asyncio::TaskOptions{.eager_start = true});
            co_return;
        };
        auto e = co_await outcome(TaskGroup::run(body));
        EXPECT_EQ(error_types(e), Types{"RuntimeError"});
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

// test_taskgroups.py: BaseTestTaskGroup.test_taskgroup_task_context
TEST(TestTaskGroup, test_taskgroup_task_context) {
    nogil::contextvars::ContextVar<int> cvar("cvar");
    run_bounded([](nogil::contextvars::ContextVar<int> cvar) -> Coroutine<> {
        auto coro = [](nogil::contextvars::ContextVar<int> cvar, int val) -> Coroutine<> {
            co_await asyncio::sleep(0);
            cvar.set(val);
        };
        auto body = [&](TaskGroup& tg) -> Coroutine<> {
            nogil::contextvars::Context ctx = nogil::contextvars::copy_context();
            EXPECT_EQ(ctx.get(cvar), std::nullopt);
            auto t1 = tg.create_task(coro(cvar, 1), {.context = &ctx});
            co_await t1;
            EXPECT_EQ(ctx.get(cvar), 1);
            auto t2 = tg.create_task(coro(cvar, 2), {.context = &ctx});
            co_await t2;
            EXPECT_EQ(ctx.get(cvar), 2);
        };
        co_await TaskGroup::run(body);
    }(cvar));
}

}  // namespace
