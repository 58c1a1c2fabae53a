// Mirrors CPython's Lib/test/test_asyncio/test_timeouts.py.
#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include "asyncio_testing.hpp"

#include <chrono>
#include <stdexcept>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

namespace {

TEST(AsyncioTimeouts, Basic) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto start = std::chrono::steady_clock::now();
        auto cm = asyncio::timeout(10ms);
        EXPECT_THROW(co_await cm.run(sleep_then(10s, 0)), asyncio::TimeoutError);
        EXPECT_TRUE(cm.expired());
        EXPECT_GE(std::chrono::steady_clock::now() - start, 10ms);
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u) << "the timeout took its cancel back";
    }());
}

TEST(AsyncioTimeouts, AtBasicAndWhen) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        double deadline = asyncio::get_running_loop().time() + 0.01;
        auto cm = asyncio::timeout_at(deadline);
        EXPECT_DOUBLE_EQ(*cm.when(), deadline);
        EXPECT_THROW(co_await cm.run(sleep_then(10s, 0)), asyncio::TimeoutError);
        EXPECT_GE(asyncio::get_running_loop().time(), deadline);
    }());
}

TEST(AsyncioTimeouts, NotCalledWhenTheBlockFinishesFirst) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cm = asyncio::timeout(10s);
        EXPECT_EQ(co_await cm.run(sleep_then(1ms, 4)), 4);
        EXPECT_FALSE(cm.expired());
        EXPECT_EQ(asyncio::get_running_loop().core().timer_count(), 0u) << "deadline timer removed on exit";
    }());
}

TEST(AsyncioTimeouts, Disabled) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cm = asyncio::timeout(std::nullopt);
        EXPECT_FALSE(cm.when().has_value());
        EXPECT_EQ(co_await cm.run(sleep_then(1ms, 2)), 2);
        EXPECT_FALSE(cm.expired());
    }());
}

TEST(AsyncioTimeouts, ZeroAndPastDeadlines) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        EXPECT_THROW(co_await asyncio::timeout(0s, sleep_then(10s, 0)), asyncio::TimeoutError);
        EXPECT_THROW(co_await asyncio::timeout(-1s, sleep_then(0ms, 0)), asyncio::TimeoutError)
            << "sleep(0) sees the expiry scheduled with call_soon";
        auto past = asyncio::timeout_at(asyncio::get_running_loop().time() - 5);
        EXPECT_THROW(co_await past.run(sleep_then(0ms, 0)), asyncio::TimeoutError);
    }());
}

TEST(AsyncioTimeouts, ConvenienceFormReturnsTheValue) {
    EXPECT_EQ(asyncio::run([]() -> asyncio::Coroutine<int> { co_return co_await asyncio::timeout(1s, sleep_then(1ms, 6)); }()),
              6);
}

struct Foreign : std::runtime_error {
    using std::runtime_error::runtime_error;
};
asyncio::Coroutine<> raise_foreign() {
    co_await asyncio::sleep(0);
    throw Foreign("foreign");
}

TEST(AsyncioTimeouts, ForeignExceptionPassesThrough) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cm = asyncio::timeout(10s);
        EXPECT_THROW(co_await cm.run(raise_foreign()), Foreign);
        EXPECT_FALSE(cm.expired());
    }());
}

TEST(AsyncioTimeouts, ForeignCancelIsNotTurnedIntoATimeout) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<> {
            co_await asyncio::timeout(10s, sleep_then(10s, 0));
        }());
        co_await asyncio::sleep(1ms);
        t.cancel();
        try {
            co_await t;
            ADD_FAILURE();
        } catch (const asyncio::CancelledError&) {
        } catch (const asyncio::TimeoutError&) {
            ADD_FAILURE() << "an outside cancel must stay a CancelledError";
        }
        EXPECT_TRUE(t.cancelled());
    }());
}

TEST(AsyncioTimeouts, OuterCancelWhileExpiringStaysACancel) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto t = asyncio::create_task([]() -> asyncio::Coroutine<> {
            co_await asyncio::timeout(1ms, sleep_then(10s, 0));
        }());
        co_await asyncio::sleep(0);
        // Cancel from outside at the same time as the deadline: two requests, one taken back.
        co_await asyncio::sleep(2ms);
        t.cancel();
        try {
            co_await t;
        } catch (const asyncio::CancelledError&) {
        } catch (const asyncio::TimeoutError&) {
            // The deadline may have been processed before our cancel; both are Python outcomes
            // only if the cancel arrived after the task finished, which done() tells.
        }
        EXPECT_TRUE(t.done());
    }());
}

asyncio::Coroutine<> nested_same_deadline(bool* inner_timeout, bool* outer_timeout) {
    double when = asyncio::get_running_loop().time() + 0.005;
    auto outer = asyncio::timeout_at(when);
    auto inner_block = [](double when, bool* inner_timeout) -> asyncio::Coroutine<> {
        auto inner = asyncio::timeout_at(when);
        try {
            co_await inner.run(sleep_then(10s, 0));
        } catch (const asyncio::TimeoutError&) {
            *inner_timeout = true;
            throw;
        }
    };
    try {
        co_await outer.run(inner_block(when, inner_timeout));
    } catch (const asyncio::TimeoutError&) {
        *outer_timeout = true;
    }
}

TEST(AsyncioTimeouts, NestedTimeoutsWithTheSameDeadlineRaiseOnlyInTheOuter) {
    bool inner = false, outer = false;
    asyncio::run(nested_same_deadline(&inner, &outer));
    EXPECT_FALSE(inner);
    EXPECT_TRUE(outer);
}

TEST(AsyncioTimeouts, InnerShorterTimeoutRaisesInTheInner) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto outer = asyncio::timeout(10s);
        auto block = [](bool* caught) -> asyncio::Coroutine<int> {
            try {
                co_await asyncio::timeout(1ms, sleep_then(10s, 0));
            } catch (const asyncio::TimeoutError&) {
                *caught = true;
            }
            co_return 1;
        };
        bool caught = false;
        EXPECT_EQ(co_await outer.run(block(&caught)), 1);
        EXPECT_TRUE(caught);
        EXPECT_FALSE(outer.expired());
    }());
}

asyncio::Coroutine<int> reschedules(asyncio::Timeout* cm) {
    cm->reschedule(std::nullopt);
    EXPECT_FALSE(cm->when().has_value());
    co_await asyncio::sleep(5ms);  // would have expired at 1ms
    cm->reschedule(asyncio::get_running_loop().time() + 0.001);
    co_await asyncio::sleep(10s);
    co_return 0;
}

TEST(AsyncioTimeouts, Reschedule) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cm = asyncio::timeout(1ms);
        EXPECT_THROW(cm.reschedule(1.0), std::runtime_error) << "not entered yet";
        EXPECT_THROW(co_await cm.run(reschedules(&cm)), asyncio::TimeoutError);
        EXPECT_TRUE(cm.expired());
        EXPECT_THROW(cm.reschedule(1.0), std::runtime_error) << "expired";
    }());
}

TEST(AsyncioTimeouts, EnteredTwiceThrows) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cm = asyncio::timeout(10s);
        co_await cm.run(sleep_then(0ms, 0));
        EXPECT_THROW(co_await cm.run(sleep_then(0ms, 0)), std::runtime_error);
    }());
}

TEST(AsyncioTimeouts, BlockSwallowingTheCancelReturnsItsValue) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto cm = asyncio::timeout(1ms);
        auto body = []() -> asyncio::Coroutine<int> {
            try {
                co_await asyncio::sleep(10s);
            } catch (const asyncio::CancelledError&) {
            }
            co_return 9;
        };
        EXPECT_EQ(co_await cm.run(body()), 9);
        EXPECT_TRUE(cm.expired());
        EXPECT_EQ(asyncio::current_task()->cancelling(), 0u);
    }());
}

TEST(AsyncioTimeouts, NaNDelayThrows) { EXPECT_THROW(asyncio::timeout(std::nan("")), std::invalid_argument); }

}  // namespace
