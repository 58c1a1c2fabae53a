// CPython's Lib/test/test_asyncio/test_graph.py (3.14), ported.
//
// capture_test_stack() renders a graph the way Python's helper walks it: a task is
// "T<name>" ("T<anon>" for a default "Task-N" name), a future "F"; each stack entry is
// "s name" (the plain function that called capture) or "a name" (a coroutine frame); awaiters
// are sorted by their first element. The helper's `depth` works as Python's does: 1 starts at
// the helper itself (a plain function), 2 at the function that called it.
//
// Where C++ spells the Python code differently, the expected stacks name the C++ frames:
// `async with TaskGroup() as tg` is TaskGroup::run(body) (frames "run" and, while waiting for
// the children, "exit"; the body lambda is "<lambda>"); `async with timeout(1)` is
// Timeout::run(body) ("run" above the body's own frame); wait() is the coroutine "wait_impl".
//
// Not applicable in C++:
//   test_stack_async_gen - nogil has no async generators.
// The two CallStackTestBase subclasses (TestCallStackC, TestCallStackPy) test CPython's two
// implementations; there is one here: each test is ported once, as TestCallStack.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <source_location>
#include <sstream>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;
using asyncio::TaskGroup;
using namespace std::chrono_literals;

namespace {

struct Captured {
    std::string walk;      // Python's walk(stack), as its repr
    std::string rendered;  // print_call_graph's output
};

std::string walk(const asyncio::FutureCallGraph& s) {
    std::string head = "F";
    if (s.is_task()) {
        const std::string n = s.task.get_name();
        head = n.find('-') == std::string::npos ? "T<" + n + ">" : "T<anon>";
    }
    std::string out = "['" + head + "', [";
    for (std::size_t i = 0; i < s.call_stack.size(); ++i) {
        const auto& e = s.call_stack[i];
        out += std::string(i ? ", " : "") + "'" + (e.is_async ? "a " : "s ") + e.name() + "'";
    }
    out += "], [";
    std::vector<std::pair<std::string, std::string>> kids;  // (head, walk), sorted by head
    for (const auto& ab : s.awaited_by) {
        std::string w = walk(ab);
        kids.emplace_back(w.substr(0, w.find(',')), w);
    }
    std::sort(kids.begin(), kids.end());  // by head, then by the rest (Python: stable by head)
    for (std::size_t i = 0; i < kids.size(); ++i) out += (i ? ", " : "") + kids[i].second;
    return out + "]]";
}

// Python's capture_test_stack(*, fut=None, depth=1).
Captured capture_test_stack(int depth = 1, std::source_location caller = std::source_location::current()) {
    const std::source_location where = depth >= 2 ? caller : std::source_location::current();
    std::ostringstream buf;
    asyncio::print_call_graph(buf, {}, where);
    auto stack = asyncio::capture_call_graph({}, where);
    return {walk(*stack), buf.str()};
}
template <class F>
Captured capture_test_stack(const F& fut) {
    std::ostringstream buf;
    asyncio::print_call_graph(fut, buf);
    return {walk(asyncio::capture_call_graph(fut)), buf.str()};
}

// ----------------------------------------------------------------------- test_stack_tgroup

std::optional<Captured> stack_for_c5;
void c5() { stack_for_c5 = capture_test_stack(2); }
Coroutine<> c4() {
    co_await asyncio::sleep(0);
    c5();
}
Coroutine<> c3() { co_await c4(); }
Coroutine<> c2() { co_await c3(); }
Coroutine<> c1(Task<> task) { co_await task; }
Coroutine<> tgroup_main() {
    auto body = [](TaskGroup& tg) -> Coroutine<> {
        auto task = tg.create_task(c2(), "c2_root");
        tg.create_task(c1(task), "sub_main_1");
        tg.create_task(c1(task), "sub_main_2");
        co_return;
    };
    co_await TaskGroup::run(body);
}
Coroutine<> test_stack_tgroup() { co_await tgroup_main(); }

// test_graph.py: CallStackTestBase.test_stack_tgroup
TEST(TestCallStack, test_stack_tgroup) {
    asyncio::run(test_stack_tgroup());
    ASSERT_TRUE(stack_for_c5);
    const std::string parent = "['T<anon>', ['a exit', 'a run', 'a tgroup_main', 'a test_stack_tgroup'], []]";
    EXPECT_EQ(stack_for_c5->walk, "['T<c2_root>', ['s c5', 'a c4', 'a c3', 'a c2'], [" + parent +
                                      ", ['T<sub_main_1>', ['a c1'], [" + parent + "]], ['T<sub_main_2>', ['a c1'], [" +
                                      parent + "]]]]");
    EXPECT_NE(stack_for_c5->rendered.find(" async (anonymous namespace)::test_stack_tgroup()"), std::string::npos)
        << stack_for_c5->rendered;
}

// ----------------------------------------------------------------------- test_stack_gather

std::optional<Captured> stack_for_deep;
Coroutine<> gather_deep() {
    co_await asyncio::sleep(0);
    stack_for_deep = capture_test_stack();
}
Coroutine<> gather_c1() {
    co_await asyncio::sleep(0);
    co_await gather_deep();
}
Coroutine<> gather_c2() { co_await asyncio::sleep(0); }
Coroutine<> gather_main() { co_await asyncio::gather(gather_c1(), gather_c2()); }
Coroutine<> test_stack_gather() { co_await gather_main(); }

// test_graph.py: CallStackTestBase.test_stack_gather
TEST(TestCallStack, test_stack_gather) {
    asyncio::run(test_stack_gather());
    ASSERT_TRUE(stack_for_deep);
    EXPECT_EQ(stack_for_deep->walk,
              "['T<anon>', ['s capture_test_stack', 'a gather_deep', 'a gather_c1'], "
              "[['T<anon>', ['a gather_main', 'a test_stack_gather'], []]]]");
}

// ----------------------------------------------------------------------- test_stack_shield

std::optional<Captured> stack_for_shield;
Coroutine<> shield_deep() {
    co_await asyncio::sleep(0);
    stack_for_shield = capture_test_stack();
}
Coroutine<> shield_c1() {
    co_await asyncio::sleep(0);
    co_await shield_deep();
}
Coroutine<> shield_main() { co_await asyncio::shield(shield_c1()); }
Coroutine<> test_stack_shield() { co_await shield_main(); }

// test_graph.py: CallStackTestBase.test_stack_shield
TEST(TestCallStack, test_stack_shield) {
    asyncio::run(test_stack_shield());
    ASSERT_TRUE(stack_for_shield);
    EXPECT_EQ(stack_for_shield->walk,
              "['T<anon>', ['s capture_test_stack', 'a shield_deep', 'a shield_c1'], "
              "[['T<anon>', ['a shield_main', 'a test_stack_shield'], []]]]");
}

// ----------------------------------------------------------------------- test_stack_timeout

std::optional<Captured> stack_for_timeout;
Coroutine<> timeout_inner() {
    co_await asyncio::sleep(0);
    stack_for_timeout = capture_test_stack();
}
Coroutine<> timeout_block() {
    co_await asyncio::sleep(0);
    co_await timeout_inner();
}
Coroutine<> timeout_c1() {
    auto cm = asyncio::timeout(1s);
    co_await cm.run(timeout_block());
}
Coroutine<> timeout_main() { co_await asyncio::shield(timeout_c1()); }
Coroutine<> test_stack_timeout() { co_await timeout_main(); }

// test_graph.py: CallStackTestBase.test_stack_timeout
TEST(TestCallStack, test_stack_timeout) {
    asyncio::run(test_stack_timeout());
    ASSERT_TRUE(stack_for_timeout);
    EXPECT_EQ(stack_for_timeout->walk,
              "['T<anon>', ['s capture_test_stack', 'a timeout_inner', 'a timeout_block', 'a run', 'a timeout_c1'], "
              "[['T<anon>', ['a timeout_main', 'a test_stack_timeout'], []]]]");
}

// ----------------------------------------------------------------------- test_stack_wait

std::optional<Captured> stack_for_wait;
Coroutine<> wait_inner() {
    co_await asyncio::sleep(0);
    stack_for_wait = capture_test_stack();
}
Coroutine<> wait_block() {
    co_await asyncio::sleep(0);
    co_await wait_inner();
}
Coroutine<> wait_c1() {
    auto cm = asyncio::timeout(1s);
    co_await cm.run(wait_block());
}
Coroutine<> wait_c2() {
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0);
}
Coroutine<> wait_main(Task<> t1, Task<> t2) {
    for (;;) {
        std::vector<Task<>> fs{t1, t2};  // an initializer list in a co_await: g++ 12 rejects it
        auto r = co_await asyncio::wait(fs);
        if (r.pending.empty()) break;
    }
}
Coroutine<> test_stack_wait() {
    Task<> t1 = asyncio::create_task(wait_c1());
    Task<> t2 = asyncio::create_task(wait_c2());
    co_await wait_main(t1, t2);
    co_await t1;
    co_await t2;
}

// test_graph.py: CallStackTestBase.test_stack_wait
TEST(TestCallStack, test_stack_wait) {
    asyncio::run(test_stack_wait());
    ASSERT_TRUE(stack_for_wait);
    EXPECT_EQ(stack_for_wait->walk,
              "['T<anon>', ['s capture_test_stack', 'a wait_inner', 'a wait_block', 'a run', 'a wait_c1'], "
              "[['T<anon>', ['a wait_impl', 'a wait_main', 'a test_stack_wait'], []]]]");
}

// ----------------------------------------------------------------------- test_stack_task

std::optional<Captured> stack_for_task;
Coroutine<> task_inner() {
    co_await asyncio::sleep(0);
    stack_for_task = capture_test_stack();
}
Coroutine<> task_c1() { co_await task_inner(); }
Coroutine<> task_c2() { co_await asyncio::create_task(task_c1(), "there there"); }
Coroutine<> task_main() { co_await task_c2(); }
Coroutine<> test_stack_task() { co_await task_main(); }

// test_graph.py: CallStackTestBase.test_stack_task
TEST(TestCallStack, test_stack_task) {
    asyncio::run(test_stack_task());
    ASSERT_TRUE(stack_for_task);
    EXPECT_EQ(stack_for_task->walk,
              "['T<there there>', ['s capture_test_stack', 'a task_inner', 'a task_c1'], "
              "[['T<anon>', ['a task_c2', 'a task_main', 'a test_stack_task'], []]]]");
}

// ----------------------------------------------------------------------- test_stack_future

std::optional<Captured> stack_for_fut;
Coroutine<> a2(asyncio::Future<> fut) { co_await fut; }
Coroutine<> a1(asyncio::Future<> fut) { co_await a2(fut); }
Coroutine<> b1(asyncio::Future<> fut) { co_await fut; }
Coroutine<> test_stack_future() {
    asyncio::Future<> fut;
    auto body = [&fut](TaskGroup& g) -> Coroutine<> {
        g.create_task(a1(fut), "task A");
        g.create_task(b1(fut), "task B");
        // A few iterations, so that both a1 and b1 await the future.
        for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0);
        stack_for_fut = capture_test_stack(fut);
        fut.set_result();
    };
    co_await TaskGroup::run(body);
}

// test_graph.py: CallStackTestBase.test_stack_future
TEST(TestCallStack, test_stack_future) {
    asyncio::run(test_stack_future());
    ASSERT_TRUE(stack_for_fut);
    // The parent task is running (it is the one capturing): its stack is its frames as they
    // are, the body lambda innermost (Python shows the outermost frame only).
    const std::string parent = "['T<anon>', ['a <lambda>', 'a run', 'a test_stack_future'], []]";
    EXPECT_EQ(stack_for_fut->walk, "['F', [], [['T<task A>', ['a a2', 'a a1'], [" + parent +
                                       "]], ['T<task B>', ['a b1'], [" + parent + "]]]]");
    EXPECT_EQ(stack_for_fut->rendered.rfind("* Future(id=", 0), 0u) << stack_for_fut->rendered;
}

}  // namespace
