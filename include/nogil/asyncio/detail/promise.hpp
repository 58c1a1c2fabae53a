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
    /// Where the coroutine function is: its name for print_stack and debug reports.
    std::source_location where;
    std::exception_ptr exception;
};

}  // namespace nogil::asyncio::detail
