#pragma once
// What the call graph (asyncio/graph.hpp) and the out-of-process tools (`nogil ps`, `nogil
// pstree`) read, and the one rule that finds the await graph's edges without any bookkeeping:
//
// WHO AWAITS A FUTURE. Every waiting relation already leaves an internal done callback (a
// DoneLink) on the awaited future; the link's function says what its context is:
//   1. FutureWaiter's callback (co_await task / future / gather's result / shield's result...):
//      the context is the awaiting task.
//   2. TaskGroup's callback (a child of a group): the context is the group; the group's parent
//      task awaits the child (Python 3.14 records the same edge in TaskGroup.create_task).
//   3. A composite future's callback (gather, shield, wait, wait_for's inner wait): the context
//      is the composite future; whoever awaits the composite awaits the child (Python's gather
//      and shield record the calling task as the awaiter of each child). The composite futures
//      register their callback's function in a list on first use (register_link_kind), so
//      that a reader in another process can tell it apart.
// A user's add_done_callback is no edge. So awaited_by costs nothing while the program runs:
// it is computed when someone asks (capture_call_graph) or reads (nogil ps).
// Tests: rule 1 TestCallStack.test_stack_task, test_stack_future; rule 2
// TestCallStack.test_stack_tgroup; rule 3 test_stack_gather, test_stack_shield, test_stack_wait
// (tests/cpython/test_asyncio_graph.cpp).
//
// WHERE A FRAME IS. Each Coroutine frame's promise keeps one std::source_location (8 bytes,
// promise.hpp): the function's own location when the frame is made, then the location of the
// co_await it suspends at, noted by the awaiter (every await_suspend of nogil's has a defaulted
// source_location argument, which g++ 12 and clang-19 both evaluate at the co_await, and calls
// note_suspension: nothing is written by a co_await that does not suspend). g++
// names the location inside a coroutine after its "actor" function ("void f(f()::_Z1fv.Frame*)")
// and clang after the function itself; frame_qualname() turns both into "ns::f".

#include <cstdint>
#include <string>
#include <string_view>

namespace nogil::asyncio {

/// One coroutine frame of a task's await chain (Python's FrameCallGraphEntry holds the frame;
/// here the frame's facts): the function, its file, and the line of the co_await it is suspended
/// at (for a running frame: the line it was last suspended at, or the caller's line for the
/// innermost frame of the current task; see capture_call_graph).
struct FrameCallGraphEntry {
    /// The qualified name, e.g. "echo::handle" (Python's co_qualname): no return type, no
    /// parameters, lambdas as "f()::<lambda>".
    std::string function;
    std::string file;
    std::uint32_t line = 0;
    /// True for a coroutine frame; false for the plain function that called
    /// capture_call_graph from inside a task (Python's frames without f_generator).
    bool is_async = true;
    /// The last component of `function` (Python's co_name): "handle".
    std::string name() const;
};

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

class FutureBase;

/// A done-callback function and what its context is (rules 1-3 above). One static object per
/// function, linked in a list that never shrinks; read by graph.cpp and, from another process,
/// by `nogil ps` (the list's head is in the exported debug record, debug_offsets.hpp).
struct LinkKind {
    enum : std::uint32_t { awaiting_task = 1, task_group = 2, composite = 3 };
    void (*fn)(void*, FutureBase&);
    std::uint32_t kind;
    /// composite: the FutureBase is at context + offset; task_group: the parent task pointer is.
    std::int32_t offset;
    const LinkKind* next;
};

/// Adds `kind` to the list (any thread; idempotent per object). Returns true.
bool register_link_kind(LinkKind& kind) noexcept;
/// The registered kind of `fn`, or null (a user's callback, or a function nobody registered).
const LinkKind* find_link_kind(void (*fn)(void*, FutureBase&)) noexcept;
/// The list's head (for the debug record).
const LinkKind* link_kinds() noexcept;

class LoopCore;
/// The registry of loops (LoopCore's constructor and destructor).
void register_loop(LoopCore& loop) noexcept;
void unregister_loop(LoopCore& loop) noexcept;

/// "ns::K::meth" from what source_location::function_name() gives on g++ 12 or clang-19.
std::string frame_qualname(std::string_view pretty);

}  // namespace nogil::asyncio::detail
