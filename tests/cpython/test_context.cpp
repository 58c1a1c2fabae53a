// CPython's Lib/test/test_context.py (3.13), ported: ContextTest. Python's @isolated_context
// (the body runs in a new, empty Context) is `isolated(...)` here.
//
// Not applicable in C++:
//   test_context_var_new_1's TypeErrors, test_context_new_1, test_context_typerrors_1,
//   test_context_run_1 - wrong argument types and counts: compile errors in C++.
//   test_context_subclassing_1 - Python forbids subclassing; C++ classes have no such switch.
//   test_context_var_repr_1's recursive-repr half - C++ values have no repr (describe() names
//     the variable only).
//   The items()/keys()/values()/iteration asserts of test_context_getset_1/3 - a Context is not
//     iterable in C++ (its values have different types); size() and contains() are checked.
//   test_context_manager*, GeneratorContextTest, AsyncContextTest.test_asynccontextmanager_*,
//     test_generator_switch_between_independent_dependent - CPython's development branch only
//     (Context as a context manager, generators with their own context; not in 3.13/3.14).
//     AsyncContextTest.test_asyncio_independent_contexts is ported in test_tasks.cpp's
//     context cases.
//   HamtTest - CPython's private _testinternalcapi.hamt(); nogil's map has its own tests
//     (tests/contextvars_detail_hamt_test.cpp).
#include <nogil/concurrent/futures.hpp>
#include <nogil/contextvars.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace cv = nogil::contextvars;

namespace {
/// Python's @isolated_context: runs `body` in a new, empty Context.
template <class F>
void isolated(F body) {
    cv::Context().run(body);
}
}  // namespace

// test_context.py: ContextTest.test_context_var_new_1 (the name; the TypeErrors are compile errors)
TEST(ContextTest, test_context_var_new_1) {
    cv::ContextVar<int> c("aaa");
    EXPECT_EQ(c.name(), "aaa");
    cv::ContextVar<int> d("aaa");
    EXPECT_FALSE(c == d);  // two variables, one name: two identities
    EXPECT_TRUE(c == cv::ContextVar<int>(c));
}

// test_context.py: ContextTest.test_context_var_repr_1 (the name and the "used" mark)
TEST(ContextTest, test_context_var_repr_1) {
    isolated([] {
        cv::ContextVar<int> c("a");
        EXPECT_NE(c.describe().find("'a'"), std::string::npos);
        auto t = c.set(1);
        EXPECT_NE(t.describe().find(c.describe()), std::string::npos);
        EXPECT_EQ(t.describe().find(" used"), std::string::npos);
        c.reset(t);
        EXPECT_NE(t.describe().find(" used"), std::string::npos);
    });
}

// test_context.py: ContextTest.test_token_repr_1
TEST(ContextTest, test_token_repr_1) {
    isolated([] {
        cv::ContextVar<int> c("a");
        auto tok = c.set(1);
        EXPECT_EQ(tok.describe(), "<Token var=<ContextVar name='a'>>");
    });
}

// test_context.py: ContextTest.test_context_get_context_1
TEST(ContextTest, test_context_get_context_1) {
    cv::Context ctx = cv::copy_context();
    EXPECT_TRUE(ctx.empty());
}

// test_context.py: ContextTest.test_context_run_2 (positional arguments; C++ has no kwargs)
TEST(ContextTest, test_context_run_2) {
    cv::Context ctx;
    auto func = [](auto... args) { return std::make_tuple(args..., std::string("bar")); };
    EXPECT_EQ(ctx.run(func), std::make_tuple(std::string("bar")));
    EXPECT_EQ(ctx.run(func, 1), std::make_tuple(1, std::string("bar")));
    EXPECT_EQ(ctx.run(func, 11, 2), std::make_tuple(11, 2, std::string("bar")));
}

// test_context.py: ContextTest.test_context_run_3
TEST(ContextTest, test_context_run_3) {
    cv::Context ctx;
    struct ZeroDivisionError : std::exception {};
    auto func = [](auto...) { throw ZeroDivisionError(); };
    EXPECT_THROW(ctx.run(func), ZeroDivisionError);
    EXPECT_THROW(ctx.run(func, 1, 2), ZeroDivisionError);
}

// test_context.py: ContextTest.test_context_run_4
TEST(ContextTest, test_context_run_4) {
    isolated([] {
        cv::Context ctx1, ctx2;
        cv::ContextVar<std::string> var("var");
        auto func2 = [&] { EXPECT_EQ(var.get(""), ""); };
        auto func1 = [&] {
            EXPECT_FALSE(cv::copy_context().contains(var));
            var.set("spam");
            ctx2.run(func2);
            EXPECT_EQ(var.get(""), "spam");
            cv::Context cur = cv::copy_context();
            EXPECT_EQ(cur.size(), 1u);
            EXPECT_EQ(cur[var], "spam");
            return cur;
        };
        cv::Context returned_ctx = ctx1.run(func1);
        EXPECT_TRUE(ctx1 == returned_ctx);
        EXPECT_EQ(returned_ctx[var], "spam");
        EXPECT_TRUE(returned_ctx.contains(var));
    });
}

// test_context.py: ContextTest.test_context_run_5
TEST(ContextTest, test_context_run_5) {
    cv::Context ctx;
    cv::ContextVar<std::string> var("var");
    auto func = [&] {
        EXPECT_FALSE(ctx.contains(var));
        var.set("spam");
        throw std::domain_error("1 / 0");
    };
    EXPECT_THROW(ctx.run(func), std::domain_error);
    EXPECT_EQ(var.get("None"), "None");
}

// test_context.py: ContextTest.test_context_run_6
TEST(ContextTest, test_context_run_6) {
    cv::Context ctx;
    cv::ContextVar<int> c("a", 0);
    ctx.run([&] {
        EXPECT_EQ(c.get(), 0);
        EXPECT_EQ(ctx.get(c), std::nullopt);
        c.set(42);
        EXPECT_EQ(c.get(), 42);
        EXPECT_EQ(ctx.get(c), 42);
    });
}

// test_context.py: ContextTest.test_context_run_7
TEST(ContextTest, test_context_run_7) {
    cv::Context ctx;
    bool raised = false;
    ctx.run([&] {
        try {
            ctx.run([] {});
        } catch (const std::runtime_error& e) {
            raised = std::string(e.what()).find("is already entered") != std::string::npos;
        }
    });
    EXPECT_TRUE(raised);
}

// test_context.py: ContextTest.test_context_getset_1 (size/contains for the iteration asserts)
TEST(ContextTest, test_context_getset_1) {
    isolated([] {
        cv::ContextVar<std::string> c("c");
        EXPECT_THROW(c.get(), nogil::LookupError);
        EXPECT_EQ(c.get("None"), "None");

        auto t0 = c.set("42");
        EXPECT_EQ(c.get(), "42");
        EXPECT_EQ(c.get("None"), "42");
        EXPECT_EQ(t0.old_value(), std::nullopt);  // Token.MISSING
        EXPECT_TRUE(t0.var() == c);

        auto t = c.set("spam");
        EXPECT_EQ(c.get(), "spam");
        EXPECT_EQ(t.old_value(), "42");
        c.reset(t);
        EXPECT_EQ(c.get(), "42");

        c.set("spam2");
        try {
            c.reset(t);
            ADD_FAILURE() << "reset with a used token";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("has already been used"), std::string::npos);
        }
        EXPECT_EQ(c.get(), "spam2");

        cv::Context ctx1 = cv::copy_context();
        EXPECT_TRUE(ctx1.contains(c));

        c.reset(t0);
        EXPECT_THROW(c.reset(t0), std::runtime_error);
        EXPECT_EQ(c.get("None"), "None");

        EXPECT_TRUE(ctx1.contains(c));
        EXPECT_EQ(ctx1[c], "spam2");
        EXPECT_EQ(ctx1.get(c, std::string("aa")), "spam2");
        EXPECT_EQ(ctx1.size(), 1u);

        cv::Context ctx2 = cv::copy_context();
        EXPECT_FALSE(ctx2.contains(c));
        EXPECT_THROW(ctx2[c], nogil::KeyError);
        EXPECT_EQ(ctx2.get(c, std::string("aa")), "aa");
        EXPECT_EQ(ctx2.size(), 0u);
    });
}

// test_context.py: ContextTest.test_context_getset_2
TEST(ContextTest, test_context_getset_2) {
    isolated([] {
        cv::ContextVar<int> v1("v1");
        cv::ContextVar<int> v2("v2");
        auto t1 = v1.set(42);
        try {
            v2.reset(t1);
            ADD_FAILURE() << "reset with another variable's token";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("by a different"), std::string::npos);
        }
    });
}

// test_context.py: ContextTest.test_context_getset_3
TEST(ContextTest, test_context_getset_3) {
    isolated([] {
        cv::ContextVar<int> c("c", 42);
        cv::Context ctx;
        ctx.run([&] {
            EXPECT_EQ(c.get(), 42);
            EXPECT_THROW(ctx[c], nogil::KeyError);
            EXPECT_EQ(ctx.get(c), std::nullopt);
            EXPECT_EQ(ctx.get(c, -1), -1);
            EXPECT_FALSE(ctx.contains(c));
            EXPECT_EQ(ctx.size(), 0u);

            auto t = c.set(1);
            EXPECT_EQ(ctx.size(), 1u);
            EXPECT_EQ(ctx[c], 1);

            c.reset(t);
            EXPECT_EQ(ctx.size(), 0u);
            EXPECT_THROW(ctx[c], nogil::KeyError);
        });
    });
}

// test_context.py: ContextTest.test_context_getset_4
TEST(ContextTest, test_context_getset_4) {
    isolated([] {
        cv::ContextVar<int> c("c", 42);
        cv::Context ctx;
        auto tok = ctx.run([&] { return c.set(1); });
        try {
            c.reset(tok);
            ADD_FAILURE() << "reset in another context";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("different Context"), std::string::npos);
        }
    });
}

// test_context.py: ContextTest.test_context_getset_5 (a shared mutable list becomes a
// shared_ptr: each set() stores a new one)
TEST(ContextTest, test_context_getset_5) {
    isolated([] {
        using List = std::shared_ptr<std::vector<int>>;
        cv::ContextVar<List> c("c", nullptr);
        c.set(std::make_shared<std::vector<int>>());
        cv::copy_context().run([&] {
            c.set(std::make_shared<std::vector<int>>());
            c.get()->push_back(42);
            EXPECT_EQ(*c.get(), std::vector<int>{42});
        });
        EXPECT_TRUE(c.get()->empty());
    });
}

// test_context.py: ContextTest.test_context_copy_1
TEST(ContextTest, test_context_copy_1) {
    cv::Context ctx1;
    cv::ContextVar<int> c("c", 42);
    auto ctx2_fun = [&] {
        EXPECT_EQ(c.get(), 10);
        c.set(30);
        EXPECT_EQ(c.get(), 30);
    };
    ctx1.run([&] {
        c.set(10);
        cv::Context ctx2 = ctx1.copy();
        EXPECT_EQ(ctx2[c], 10);

        c.set(20);
        EXPECT_EQ(ctx1[c], 20);
        EXPECT_EQ(ctx2[c], 10);

        ctx2.run(ctx2_fun);
        EXPECT_EQ(ctx1[c], 20);
        EXPECT_EQ(ctx2[c], 30);
    });
}

// test_context.py: ContextTest.test_context_threads_1 (a yield instead of a random sleep: the
// point is that the pool's threads interleave)
TEST(ContextTest, test_context_threads_1) {
    isolated([] {
        cv::ContextVar<int> cvar("cvar");
        auto sub = [cvar](int num) {
            for (int i = 0; i < 10; ++i) {
                cvar.set(num + i);
                std::this_thread::yield();
                EXPECT_EQ(cvar.get(), num + i);
            }
            return num;
        };
        nogil::concurrent::futures::ThreadPoolExecutor tp(10);
        std::vector<int> inputs;
        for (int i = 0; i < 10; ++i) inputs.push_back(i);
        std::vector<int> results;
        for (int r : tp.map(sub, inputs)) results.push_back(r);
        EXPECT_EQ(results, inputs);
    });
}
