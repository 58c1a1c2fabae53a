// contextvars::Context: run(), copy(), the mapping methods, the entering protocol
// (include/nogil/contextvars/detail/context_state.hpp) and contexts shared between threads.
#include <nogil/contextvars.hpp>
#include <nogil/threading.hpp>

#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace cv = nogil::contextvars;

// Pins the entering protocol step 1 (context_state.hpp).
TEST(ContextvarsContext, RunRefusesAContextEnteredOnAnotherThread) {
    cv::Context ctx;
    std::latch inside(1), release(1);
    std::thread t([&] {
        ctx.run([&] {
            inside.count_down();
            release.wait();
        });
    });
    inside.wait();
    EXPECT_THROW(ctx.run([] {}), std::runtime_error);
    release.count_down();
    t.join();
    EXPECT_NO_THROW(ctx.run([] {}));  // free again once the thread left it
}

// Pins the entering protocol step 2: a frame with no context builds one on the first set, and
// the frame's owner receives it.
TEST(ContextvarsContext, ASetInAnEmptyFrameBuildsItsContext) {
    cv::ContextVar<int> var("var", 0);
    cv::detail::ContextState* adopted = nullptr;
    {
        cv::detail::Entered scope(nullptr, [](void* owner, cv::detail::ContextState* c) noexcept {
            c->add_ref();
            *static_cast<cv::detail::ContextState**>(owner) = c;
        }, &adopted);
        EXPECT_EQ(cv::detail::current(), nullptr);
        var.set(5);
        EXPECT_NE(cv::detail::current(), nullptr);
        EXPECT_EQ(var.get(), 5);
    }
    ASSERT_NE(adopted, nullptr);
    EXPECT_FALSE(adopted->entered.load());
    EXPECT_EQ(var.get(), 0);  // the thread's own context never saw it
    cv::Context owned(nogil::detail::Ref<cv::detail::ContextState>::adopt(adopted));
    EXPECT_EQ(owned[var], 5);
}

// Pins the entering protocol step 3: leaving restores the outer context, also on an exception.
TEST(ContextvarsContext, RunRestoresTheOuterContextWhenFnThrows) {
    cv::ContextVar<std::string> var("var", "outer");
    cv::Context inner;
    EXPECT_THROW(inner.run([&] {
        var.set("inner");
        throw std::logic_error("boom");
    }), std::logic_error);
    EXPECT_EQ(var.get(), "outer");
    EXPECT_EQ(inner[var], "inner");
    EXPECT_NO_THROW(inner.run([] {}));  // not left entered
}

TEST(ContextvarsContext, RunReturnsTheValueAndPassesArguments) {
    cv::Context ctx;
    EXPECT_EQ(ctx.run([](int a, int b) { return a + b; }, 2, 3), 5);
    std::string s = "x";
    ctx.run([](std::string& r) { r += "y"; }, s);
    EXPECT_EQ(s, "xy");
}

TEST(ContextvarsContext, CopiesAreTheSameContextAndCopyIsANewOne) {
    cv::ContextVar<int> var("var");
    cv::Context a;
    cv::Context alias = a;
    alias.run([&] { var.set(1); });
    EXPECT_EQ(a[var], 1);
    cv::Context b = a.copy();
    EXPECT_FALSE(b.is(a));
    EXPECT_TRUE(b == a);
    b.run([&] { var.set(2); });
    EXPECT_EQ(a[var], 1);
    EXPECT_EQ(b[var], 2);
    EXPECT_FALSE(b == a);
}

TEST(ContextvarsContext, MappingMethodsFromAnotherThreadWhileItRuns) {
    // A reader on another thread sees some complete version of the mapping, never a torn one
    // (TSan checks the locking).
    cv::ContextVar<int> var("var", -1);
    cv::Context ctx;
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        int last = -1;
        while (!stop.load()) {
            int v = ctx.get(var, -1);
            EXPECT_GE(v, last);  // the writer only counts up
            last = v;
            (void)ctx.size();
            (void)ctx.copy();
        }
    });
    ctx.run([&] {
        for (int i = 0; i < 20000; ++i) var.set(i);
    });
    stop.store(true);
    reader.join();
    EXPECT_EQ(ctx[var], 19999);
}

TEST(ContextvarsContext, EachThreadStartsEmpty) {
    cv::ContextVar<int> var("var", 0);
    var.set(7);
    int seen = -1;
    nogil::threading::Thread t([&] { seen = var.get(); });
    t.start();
    t.join();
    EXPECT_EQ(seen, 0);
    EXPECT_EQ(var.get(), 7);
}

TEST(ContextvarsContext, AContextCarriesValuesToAnotherThread) {
    cv::ContextVar<std::string> request_id("request_id", "-");
    request_id.set("r-17");
    cv::Context ctx = cv::copy_context();
    std::string seen;
    std::thread t([&] { seen = ctx.run([&] { return request_id.get(); }); });
    t.join();
    EXPECT_EQ(seen, "r-17");
}
