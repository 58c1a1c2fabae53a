#pragma once
// What every asyncio Coroutine frame's promise has in common: the awaiting frame to resume,
// the frame it awaits (for print_stack), its name, and the exception it ended with.

#include <coroutine>
#include <exception>
#include <source_location>

namespace nogil::asyncio::detail {

struct PromiseBase {
    /// Frame to resume when this one finishes (null for a task's root).
    std::coroutine_handle<> continuation;
    /// The Coroutine frame this one is awaiting inline (null if none): the await chain.
    PromiseBase* child = nullptr;
    /// Where the frame is: the coroutine function's location until its first co_await, then the
    /// location of the co_await it last reached (the one it is suspended at). Its name, file
    /// and line for print_stack, capture_call_graph, debug reports and `nogil ps`.
    std::source_location where;
    std::exception_ptr exception;
};

}  // namespace nogil::asyncio::detail
