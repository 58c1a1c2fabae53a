#pragma once
// What every asyncio Coroutine frame's promise has in common: the awaiting frame to resume,
// where it is (its name and the line it is suspended at), and the exception it ended with.
// A task's chain of frames is read from the innermost frame outwards, through `continuation`
// (TaskBase::get_stack): no link from a frame to the frame it awaits is kept.

#include <coroutine>
#include <exception>
#include <source_location>

namespace nogil::asyncio::detail {

struct PromiseBase {
    /// Frame to resume when this one finishes: the awaiting frame. A task's root frame keeps its
    /// task's resume point here instead (the innermost suspended frame; null while it runs).
    std::coroutine_handle<> continuation;
    /// Where the frame is: the coroutine function's location until its first co_await, then the
    /// location of the co_await it last reached (the one it is suspended at). Its name, file
    /// and line for print_stack, capture_call_graph, debug reports and `nogil ps`.
    std::source_location where;
    std::exception_ptr exception;
};

}  // namespace nogil::asyncio::detail
