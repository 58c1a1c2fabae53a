#pragma once
// Python 3.14's asyncio.graph: what is this task waiting on, and who waits on it?
//
//   asyncio::print_call_graph();                 // from inside a task: the current task
//   std::string s = asyncio::format_call_graph(task);
//   auto g = asyncio::capture_call_graph(fut, {.limit = 2});
//
// prints, in Python's layout:
//
//   * Task(name='c2_root', id=0x55d0c4a3e2c0)
//     + Call stack:
//     |   File '/src/app.cpp', line 41, in c5()
//     |   File '/src/app.cpp', line 45, in async c4()
//     + Awaited by:
//        * Task(name='Task-1', id=0x55d0c4a3d010)
//          + Call stack:
//          |   File '/src/app.cpp', line 60, in async main()
//
// The call stack is the task's chain of Coroutine frames, innermost first, each with the line
// of the co_await it is suspended at (from std::source_location: nobody annotates anything);
// for the current task it starts at the function that called capture_call_graph. The awaited_by
// graph is read from the done callbacks the awaiting code already registers (co_await of a task
// or future, gather, wait, wait_for, shield, TaskGroup; see detail/introspection.hpp), so it
// costs nothing until asked for.
//
// Deviations from Python, each for a reason: there are no synchronous frames but the caller's
// (C++ keeps no frame chain for plain calls), so `depth` counts the entries of that stack;
// a gather / shield / wait future not yet awaited by anyone has no awaiter (Python records the
// task that called gather; here the edge exists once a task awaits the composite); a cycle of
// tasks awaiting each other is cut where it closes (Python recurses until RecursionError).
//
// Thread safety: loop thread only, like the tasks it reads.

#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/detail/introspection.hpp>

#include <cstdint>
#include <iostream>
#include <optional>
#include <ostream>
#include <source_location>
#include <string>
#include <vector>

namespace nogil::asyncio {

/// One node of the graph: a task or a future, its call stack and who awaits it.
struct FutureCallGraph {
    /// The task, or an empty handle when the node is a plain Future (or a composite one).
    Task<> task;
    /// The address of the task or future (Python's id(); `nogil ps` shows the same number).
    std::uintptr_t id = 0;
    /// Innermost first; empty for a future.
    std::vector<FrameCallGraphEntry> call_stack;
    std::vector<FutureCallGraph> awaited_by;
    bool is_task() const noexcept { return bool(task); }
};

/// Python's depth= and limit= (keyword-only there).
struct CallGraphOptions {
    /// For the current task: skip the first depth - 1 entries of its stack.
    int depth = 1;
    /// Keep at most |limit| entries of each stack: the outermost ones if positive, the innermost
    /// if negative; 0 keeps no stack at all (only the awaited_by graph); none keeps all.
    std::optional<int> limit = std::nullopt;
};

namespace detail {
FutureCallGraph capture_call_graph(FutureBase* future, const CallGraphOptions& options, const std::source_location& where);
std::string format_call_graph(const FutureCallGraph& graph);
template <class F>
concept has_future_state = requires(const F& f) { f.state(); };
}  // namespace detail

/// The graph of the current task; nullopt outside a task. Throws std::runtime_error when no
/// loop runs on this thread (Python's RuntimeError).
std::optional<FutureCallGraph> capture_call_graph(CallGraphOptions options = {},
                                                  std::source_location where = std::source_location::current());

/// The graph of `future` (a Task<T> or a Future<T>).
template <detail::has_future_state F>
FutureCallGraph capture_call_graph(const F& future, CallGraphOptions options = {},
                                   std::source_location where = std::source_location::current()) {
    return detail::capture_call_graph(future.state(), options, where);
}

/// The graph rendered in Python's layout (no final newline); "" outside a task.
std::string format_call_graph(CallGraphOptions options = {}, std::source_location where = std::source_location::current());
template <detail::has_future_state F>
std::string format_call_graph(const F& future, CallGraphOptions options = {},
                              std::source_location where = std::source_location::current()) {
    return detail::format_call_graph(capture_call_graph(future, options, where));
}

/// Prints format_call_graph() and a newline to `file` (Python's default: sys.stdout).
void print_call_graph(std::ostream& file = std::cout, CallGraphOptions options = {},
                      std::source_location where = std::source_location::current());
template <detail::has_future_state F>
void print_call_graph(const F& future, std::ostream& file = std::cout, CallGraphOptions options = {},
                      std::source_location where = std::source_location::current()) {
    file << format_call_graph(future, options, where) << '\n';
}

}  // namespace nogil::asyncio
