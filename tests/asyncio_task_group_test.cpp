// Mirrors CPython's Lib/test/test_asyncio/test_taskgroups.py.
#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

TEST(AsyncioTaskGroup, WaitsForAllChildren) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Task<int> a, b;
        auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<int> {
            a = tg.create_task(sleep_then(2ms, 1));
            b = tg.create_task(sleep_then(1ms, 2), "second");
            co_return 10;
        };
        EXPECT_EQ(co_await asyncio::TaskGroup::run(body), 10);
        EXPECT_TRUE(a.done());
        EXPECT_TRUE(b.done());
        EXPECT_EQ(a.result() + b.result(), 3);
        EXPECT_EQ(b.get_name(), "second");
    }());
}

// Pins TaskGroup::exit() step 2 (include/nogil/asyncio/task_group.hpp).
TEST(AsyncioTaskGroup, FirstFailureCancelsTheOthersAndRaisesAnExceptionGroup) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Task<int> slow;
        bool body_cancelled = false;
        auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            slow = tg.create_task(sleep_then(1h, 0));
            tg.create_task(fail_after(1ms, "first"));
            try {
                co_await asyncio::sleep(1h);  // the failure cancels the body too
            } catch (const asyncio::CancelledError&) {
                body_cancelled = true;
                throw;
            }
        };
        bool caught = false;
        try {
            co_await asyncio::TaskGroup::run(body);
        } catch (const asyncio::ExceptionGroup& eg) {
            caught = true;
            EXPECT_EQ(eg.message(), "unhandled errors in a TaskGroup");
            EXPECT_EQ(eg.exceptions().size(), 1u);
            EXPECT_THROW(std::rethrow_exception(eg.exceptions().at(0)), Boom);
        }
        EXPECT_TRUE(caught);
        EXPECT_TRUE(body_cancelled);
        EXPECT_TRUE(slow.cancelled());
        // The group took back the cancel it sent to its parent: we go on normally.
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
        co_await asyncio::sleep(0);
    }());
}

// Pins TaskGroup::exit() step 6 (include/nogil/asyncio/task_group.hpp).
TEST(AsyncioTaskGroup, SeveralFailuresAreAllCollected) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto body = [](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            tg.create_task(fail_after(1ms, "a"));
            tg.create_task(fail_after(1ms, "b"));
            co_return;
        };
        try {
            co_await asyncio::TaskGroup::run(body);
            ADD_FAILURE();
        } catch (const asyncio::ExceptionGroup& eg) {
            EXPECT_EQ(eg.exceptions().size(), 2u);
        }
    }());
}

// Pins TaskGroup::exit() step 3 and 6 (include/nogil/asyncio/task_group.hpp).
TEST(AsyncioTaskGroup, BodyErrorCancelsChildrenAndIsInTheGroup) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Task<int> child;
        auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            child = tg.create_task(sleep_then(1h, 0));
            co_await asyncio::sleep(0);
            throw Boom("body");
        };
        try {
            co_await asyncio::TaskGroup::run(body);
            ADD_FAILURE();
        } catch (const asyncio::ExceptionGroup& eg) {
            EXPECT_EQ(eg.exceptions().size(), 1u);
            EXPECT_THROW(std::rethrow_exception(eg.exceptions().at(0)), Boom);
        }
        EXPECT_TRUE(child.cancelled());
    }());
}

// Pins TaskGroup::exit() step 4 (include/nogil/asyncio/task_group.hpp).
TEST(AsyncioTaskGroup, CancellingTheParentCancelsTheChildrenAndPropagates) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::Task<int> c1, c2;
        auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            c1 = tg.create_task(sleep_then(1h, 1));
            c2 = tg.create_task(sleep_then(1h, 2));
            co_return;  // the group now waits in exit
        };
        auto parent = asyncio::create_task([](decltype(body)* body) -> asyncio::Coroutine<> {
            co_await asyncio::TaskGroup::run(*body);
        }(&body));
        co_await asyncio::sleep(1ms);
        parent.cancel();
        EXPECT_THROW(co_await parent, asyncio::CancelledError);
        EXPECT_TRUE(parent.cancelled());
        EXPECT_TRUE(c1.cancelled());
        EXPECT_TRUE(c2.cancelled());
    }());
}

TEST(AsyncioTaskGroup, ChildCancelledIsNotAnError) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto body = [](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            auto t = tg.create_task(sleep_then(1h, 0));
            co_await asyncio::sleep(0);
            t.cancel();
            tg.create_task(sleep_then(1ms, 1));
        };
        co_await asyncio::TaskGroup::run(body);
        SUCCEED();
    }());
}

TEST(AsyncioTaskGroup, CreateTaskWhileShuttingDownThrows) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        bool refused = false;
        auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            tg.create_task(fail_after(0ms, "x"));
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
            }
            try {
                tg.create_task(sleep_then(0ms, 0));
            } catch (const std::runtime_error& e) {
                refused = std::string(e.what()) == "TaskGroup is shutting down";
            }
        };
        EXPECT_THROW(co_await asyncio::TaskGroup::run(body), asyncio::ExceptionGroup);
        EXPECT_TRUE(refused);
    }());
}

TEST(AsyncioTaskGroup, EagerChildThatFinishesAtOnce) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto body = [](asyncio::TaskGroup& tg) -> asyncio::Coroutine<int> {
            auto quick = []() -> asyncio::Coroutine<int> { co_return 4; };
            auto t = tg.create_task(quick(), {.eager_start = true});
            EXPECT_TRUE(t.done());
            co_return t.result();
        };
        EXPECT_EQ(co_await asyncio::TaskGroup::run(body), 4);
    }());
}

// Pins TaskGroup::exit() step 5 (include/nogil/asyncio/task_group.hpp).
TEST(AsyncioTaskGroup, ChildErrorWhileTheParentIsCancelledHasPriority) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        // The child turns its cancellation into an error: Python raises the errors, not the
        // CancelledError ("those have priority").
        auto stubborn = []() -> asyncio::Coroutine<int> {
            bool cancelled = false;
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) throw Boom("cleanup failed");
            co_return 0;
        };
        auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
            tg.create_task(stubborn());
            co_await asyncio::sleep(1h);
        };
        auto parent = asyncio::create_task([](decltype(body)* body) -> asyncio::Coroutine<> {
            co_await asyncio::TaskGroup::run(*body);
        }(&body));
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        parent.cancel();
        EXPECT_THROW(co_await parent, asyncio::ExceptionGroup);
    }());
}

}  // namespace
