// asyncio/graph.hpp: names and lines from the code on this compiler, depth and limit, the
// layout, all_tasks(loop) from another thread, and the out-of-process reader
// (tools/nogil/src/inspect/remote.cpp, linked in) reading this very process: the same graph as
// in-process, and coherent snapshots of loops that keep changing (run under TSan and ASan).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/detail/debug_offsets.hpp>

#include "inspect/remote.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <latch>
#include <set>
#include <source_location>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;

namespace {

std::uint32_t waits_here_line = 0;
[[maybe_unused]] constexpr std::uint32_t waits_here_first = __LINE__ + 1;
Coroutine<> waits_here(asyncio::Event& ev) {
    waits_here_line = std::source_location::current().line() + 1;
    co_await ev.wait();
}
[[maybe_unused]] constexpr std::uint32_t waits_here_last = __LINE__ - 1;

// Built with NOGIL_AWAIT_LINES, a frame's line is its co_await's; without, its function's (the
// line of its first or of its last brace, by compiler).
void expect_line(std::uint32_t line) {
#if defined(NOGIL_AWAIT_LINES) && NOGIL_AWAIT_LINES
    EXPECT_EQ(line, waits_here_line);
#else
    EXPECT_TRUE(line == waits_here_first || line == waits_here_last) << line;
#endif
}
Coroutine<> calls_waits_here(asyncio::Event& ev) { co_await waits_here(ev); }

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(AsyncioGraph, FramesHaveTheFunctionFileAndLineOfTheSuspendedCoAwait) {
    asyncio::run([]() -> Coroutine<> {
        asyncio::Event ev;
        auto t = asyncio::create_task(calls_waits_here(ev));
        co_await asyncio::sleep(0);
        const auto stack = t.get_stack();  // outermost first
        EXPECT_EQ(stack.size(), 2u);
        if (stack.size() == 2) {
            EXPECT_EQ(stack[0].function, "(anonymous namespace)::calls_waits_here");
            EXPECT_EQ(stack[1].function, "(anonymous namespace)::waits_here");
            EXPECT_EQ(stack[1].name(), "waits_here");
            expect_line(stack[1].line);
            EXPECT_TRUE(ends_with(stack[1].file, "asyncio_graph_test.cpp")) << stack[1].file;
            EXPECT_TRUE(stack[1].is_async);
        }
        EXPECT_EQ(t.get_stack(1).size(), 1u);
        EXPECT_EQ(t.get_stack(1)[0].name(), "waits_here");  // the newest frame stays
        std::ostringstream out;
        t.print_stack(out);
        EXPECT_NE(out.str().find("Stack for <Task pending name='Task-"), std::string::npos) << out.str();
        if (stack.size() == 2) {
            EXPECT_NE(out.str().find(", line " + std::to_string(stack[1].line) + ", in (anonymous namespace)::waits_here"),
                      std::string::npos)
                << out.str();
        }
        ev.set();
        co_await t;
        EXPECT_TRUE(t.get_stack().empty());
    }());
}

TEST(AsyncioGraph, FrameNamesOfBothCompilersReadAlike) {
    using nogil::asyncio::detail::frame_qualname;
    // g++ 12 inside a coroutine (the actor function), then outside; clang-19.
    EXPECT_EQ(frame_qualname("void ns::K::meth(ns::K::meth(int) const::_ZNK2ns1K4methEi.Frame*)"), "ns::K::meth");
    EXPECT_EQ(frame_qualname("C ns::K::meth(int) const"), "ns::K::meth");
    EXPECT_EQ(frame_qualname("void {anonymous}::anon(anon()::_ZN12_GLOBAL__N_14anonEv.Frame*)"),
              "(anonymous namespace)::anon");
    EXPECT_EQ(frame_qualname("C (anonymous namespace)::anon()"), "(anonymous namespace)::anon");
    EXPECT_EQ(frame_qualname("C ns::tmpl(T) [with T = int]"), "ns::tmpl");
    EXPECT_EQ(frame_qualname("C ns::tmpl(T) [T = int]"), "ns::tmpl");
    EXPECT_EQ(frame_qualname("void main()::<lambda()>::operator()(main()::<lambda()>::_ZZ4mainENKUlvE_clEv.Frame*)"),
              "main()::<lambda>");
    EXPECT_EQ(frame_qualname("auto main()::(anonymous class)::operator()() const"), "main()::<lambda>");
    EXPECT_EQ(frame_qualname("static nogil::asyncio::Coroutine<int> nogil::asyncio::TaskGroup::run(F) [with F = int]"),
              "nogil::asyncio::TaskGroup::run");
    EXPECT_EQ(frame_qualname("void f<int>(f<int>()::_Z1fIiEvv.Frame*)"), "f");
}

Coroutine<> leaf(asyncio::Event& ev) { co_await ev.wait(); }
Coroutine<> middle(asyncio::Event& ev) { co_await leaf(ev); }
Coroutine<> top(asyncio::Event& ev) { co_await middle(ev); }

std::vector<std::string> names(const std::vector<asyncio::FrameCallGraphEntry>& st) {
    std::vector<std::string> out;
    for (const auto& e : st) out.push_back(e.name());
    return out;
}

TEST(AsyncioGraph, LimitKeepsTheOutermostOrTheInnermostFrames) {
    asyncio::run([]() -> Coroutine<> {
        asyncio::Event ev;
        auto t = asyncio::create_task(top(ev));
        co_await asyncio::sleep(0);
        using V = std::vector<std::string>;
        EXPECT_EQ(names(asyncio::capture_call_graph(t).call_stack), (V{"leaf", "middle", "top"}));
        EXPECT_EQ(names(asyncio::capture_call_graph(t, {.limit = 1}).call_stack), (V{"top"}));
        EXPECT_EQ(names(asyncio::capture_call_graph(t, {.limit = -2}).call_stack), (V{"leaf", "middle"}));
        EXPECT_TRUE(asyncio::capture_call_graph(t, {.limit = 0}).call_stack.empty());
        ev.set();
        co_await t;
    }());
}

Coroutine<> current_inner(std::vector<std::string>* all, std::vector<std::string>* skipped, std::vector<std::string>* limited) {
    *all = names(asyncio::capture_call_graph()->call_stack);
    *skipped = names(asyncio::capture_call_graph({.depth = 2})->call_stack);
    *limited = names(asyncio::capture_call_graph({.limit = -1})->call_stack);
    co_return;
}
Coroutine<> current_outer(std::vector<std::string>* a, std::vector<std::string>* b, std::vector<std::string>* c) {
    co_await current_inner(a, b, c);
}

TEST(AsyncioGraph, DepthAndLimitOnTheCurrentTask) {
    std::vector<std::string> all, skipped, limited;
    asyncio::run(current_outer(&all, &skipped, &limited));
    using V = std::vector<std::string>;
    EXPECT_EQ(all, (V{"current_inner", "current_outer"}));
    EXPECT_EQ(skipped, (V{"current_outer"}));
    EXPECT_EQ(limited, (V{"current_inner"}));
}

TEST(AsyncioGraph, OutsideATaskThereIsNoGraphAndOutsideALoopAnError) {
    EXPECT_THROW(asyncio::capture_call_graph(), std::runtime_error);
    asyncio::EventLoop loop;
    bool none = false;
    loop.call_soon([&] {
        none = !asyncio::capture_call_graph().has_value();
        EXPECT_EQ(asyncio::format_call_graph(), "");
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(none);
}

Coroutine<> awaits(Task<>* other, asyncio::Event& go) {
    co_await go.wait();
    co_await *other;
}

TEST(AsyncioGraph, FormatHasPythonsLayoutAndACycleIsCut) {
    // A plain loop, closed without cancelling: the cycle stays as it is while it is inspected.
    asyncio::EventLoop loop;
    loop.run_until_complete([]() -> Coroutine<> {
        asyncio::Event go;
        Task<> a, b;
        a = asyncio::create_task(awaits(&b, go), "it's a");
        b = asyncio::create_task(awaits(&a, go), "b");
        go.set();
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        const std::string text = asyncio::format_call_graph(a);
        // Python's layout, line by line; b's awaiter (a) closes the cycle: cut there.
        std::vector<std::string> lines;
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        EXPECT_EQ(lines.size(), 7u) << text;
        if (lines.size() != 7) co_return;
        auto starts = [](const std::string& l, const std::string& p) { return l.rfind(p, 0) == 0; };
        const std::string hex = "0123456789abcdef";
        EXPECT_TRUE(starts(lines[0], "* Task(name=\"it's a\", id=0x") && lines[0].back() == ')' &&
                    lines[0].find_first_not_of(hex, lines[0].find("0x") + 2) == lines[0].size() - 1)
            << lines[0];
        EXPECT_EQ(lines[1], "  + Call stack:");
        EXPECT_TRUE(starts(lines[2], "  |   File '") && lines[2].find("asyncio_graph_test.cpp', line ") != std::string::npos &&
                    ends_with(lines[2], ", in async (anonymous namespace)::awaits()"))
            << lines[2];
        EXPECT_EQ(lines[3], "  + Awaited by:");
        EXPECT_TRUE(starts(lines[4], "    * Task(name='b', id=0x")) << lines[4];
        EXPECT_EQ(lines[5], "      + Call stack:");
        EXPECT_TRUE(starts(lines[6], "      |   File '") && ends_with(lines[6], ", in async (anonymous namespace)::awaits()"))
            << lines[6];
    }());
    loop.close();  // destroys the two frames, and with them the cycle
}

TEST(AsyncioGraph, AllTasksOfALoopRunningOnAnotherThread) {
    asyncio::EventLoop loop;
    std::latch started(1);
    asyncio::Event* stop = nullptr;
    std::thread runner([&] {
        loop.run_until_complete([](std::latch& s, asyncio::Event*& stop_out) -> Coroutine<> {
            asyncio::Event ev;
            stop_out = &ev;
            auto w = asyncio::create_task(leaf(ev), "sleeper");
            co_await asyncio::sleep(0);
            s.count_down();
            co_await w;
        }(started, stop));
    });
    started.wait();
    std::set<std::string> seen;
    for (const auto& t : asyncio::all_tasks(loop)) seen.insert(t.get_name());
    EXPECT_TRUE(seen.count("sleeper")) << seen.size();
    EXPECT_EQ(seen.size(), 2u);
    loop.call_soon_threadsafe([&] { stop->set(); });
    runner.join();
    EXPECT_TRUE(asyncio::all_tasks(loop).empty());  // not running: read directly
}

// ----------------------------------------------------------------------- the remote reader

namespace inspect = nogil_tool::inspect;

// The T at `offset` bytes into the object at `base` (what the reader does across processes).
template <class T>
T peek(const void* base, std::uint64_t offset) {
    T v;
    std::memcpy(&v, static_cast<const char*>(base) + offset, sizeof v);
    return v;
}

TEST(AsyncioGraph, DebugRecordDescribesThisProcess) {
    EXPECT_EQ(inspect::find_symbol(::getpid(), "nogil_debug_offsets"), reinterpret_cast<std::uint64_t>(&nogil_debug_offsets));
    // The standard library's layouts the record claims, checked on real objects.
    const auto& r = nogil_debug_offsets;
    const std::source_location here = std::source_location::current();
    const auto impl = peek<const char*>(&here, 0);
    EXPECT_EQ(peek<const char*>(impl, r.location_file), here.file_name());
    EXPECT_EQ(peek<const char*>(impl, r.location_function), here.function_name());
    EXPECT_EQ(peek<std::uint32_t>(impl, r.location_line), here.line());
    const std::string s(100, 'x');
    EXPECT_EQ(peek<const char*>(&s, r.string_data), s.data());
    EXPECT_EQ(peek<std::size_t>(&s, r.string_size), s.size());
    const std::vector<int> v(7);
    EXPECT_EQ(peek<const int*>(&v, r.vector_begin), v.data());
    EXPECT_EQ(peek<const int*>(&v, r.vector_end), v.data() + 7);
}

Coroutine<> gathers(asyncio::Event& ev) {
    co_await asyncio::gather(leaf(ev), middle(ev));
}

TEST(AsyncioGraph, TheRemoteReaderSeesWhatTheCallGraphSees) {
    asyncio::run([]() -> Coroutine<> {
        asyncio::Event ev;
        auto g = asyncio::create_task(gathers(ev), "gatherer");
        auto body = [&ev](asyncio::TaskGroup& tg) -> Coroutine<> {
            tg.create_task(top(ev), "child");
            co_await asyncio::sleep(0);
            co_await asyncio::sleep(0);
            const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
            const int tid = static_cast<int>(::syscall(SYS_gettid));
            const inspect::LoopSnapshot* mine = nullptr;
            for (const auto& l : snap.loops)
                if (l.tid == tid) mine = &l;
            EXPECT_TRUE(snap.complete);
            EXPECT_NE(mine, nullptr);
            if (!mine) co_return;
            const auto tasks = asyncio::all_tasks();
            EXPECT_EQ(mine->tasks.size(), tasks.size());
            for (const auto& t : tasks) {
                auto it = std::find_if(mine->tasks.begin(), mine->tasks.end(), [&](const inspect::TaskSnapshot& s) {
                    return s.address == reinterpret_cast<std::uint64_t>(t.state()) &&
                           s.address == asyncio::capture_call_graph(t).id;
                });
                EXPECT_NE(it, mine->tasks.end()) << t.get_name();
                if (it == mine->tasks.end()) continue;
                EXPECT_EQ(it->name, t.get_name());
                const auto graph = asyncio::capture_call_graph(t);
                if (t == *asyncio::current_task()) continue;  // running: its lines are in flux
                EXPECT_EQ(it->frames.size(), graph.call_stack.size()) << t.get_name();
                for (std::size_t i = 0; i < std::min(it->frames.size(), graph.call_stack.size()); ++i) {
                    EXPECT_EQ(it->frames[i].function, graph.call_stack[i].function);
                    EXPECT_EQ(it->frames[i].file, graph.call_stack[i].file);
                    EXPECT_EQ(it->frames[i].line, graph.call_stack[i].line);
                }
                std::vector<std::uint64_t> awaiters;
                for (const auto& a : graph.awaited_by) awaiters.push_back(a.id);
                EXPECT_EQ(it->awaited_by, awaiters) << t.get_name();
            }
            ev.set();
        };
        co_await asyncio::TaskGroup::run(body);
        co_await g;
    }());
}

Coroutine<> short_lived(int i) {
    if (i % 2) co_await asyncio::sleep(0);
}

Coroutine<> churn(std::atomic<bool>& stop, std::latch& running) {
    bool first = true;
    while (!stop.load(std::memory_order_relaxed)) {
        std::vector<Coroutine<>> batch;
        for (int i = 0; i < 32; ++i) batch.push_back(short_lived(i));
        co_await asyncio::gather(std::move(batch));
        if (std::exchange(first, false)) running.count_down();
    }
}

TEST(AsyncioGraph, TheRemoteReaderReadsLoopsThatKeepChanging) {
    std::atomic<bool> stop{false};
    std::latch running(2);
    std::atomic<int> tids[2] = {0, 0};
    std::vector<std::thread> loops;
    for (int k = 0; k < 2; ++k)
        loops.emplace_back([&, k] {
            tids[k] = static_cast<int>(::syscall(SYS_gettid));
            asyncio::run(churn(stop, running));
        });
    running.wait();
    int reads = 0, with_tasks = 0;
    for (; reads < 50; ++reads) {
        const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
        for (const auto& l : snap.loops) {
            EXPECT_TRUE(l.tid == 0 || l.tid == tids[0] || l.tid == tids[1]) << l.tid;
            for (const auto& t : l.tasks) EXPECT_FALSE(t.name.empty());
            with_tasks += !l.tasks.empty();
        }
    }
    stop = true;
    for (auto& t : loops) t.join();
    EXPECT_EQ(reads, 50);
    EXPECT_GT(with_tasks, 0);
}

TEST(AsyncioGraph, TheRemoteReaderNamesWhatWentWrong) {
    try {
        inspect::read_process(0);
        ADD_FAILURE() << "no error";
    } catch (const inspect::RemoteError& e) {
        EXPECT_EQ(e.kind, inspect::RemoteError::no_process);
    }
}

}  // namespace
