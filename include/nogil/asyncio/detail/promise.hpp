#pragma once
// What every asyncio Coroutine frame's promise has in common: the awaiting frame to resume,
// where it is (its name and the line it is suspended at), and the exception it ended with.
// A task's chain of frames is read from the innermost frame outwards, through `continuation`
// (TaskBase::get_stack): no link from a frame to the frame it awaits is kept.

#include <coroutine>
#include <cstring>
#include <exception>
#include <source_location>
#include <type_traits>

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

/// Notes in the frame of `h`, when it is a Coroutine's, the co_await it suspends at: `at` is
/// what __builtin_source_location() (the pointer a std::source_location holds) gives as the
/// defaulted last argument of an awaiter's await_suspend, which g++ and clang evaluate at the
/// co_await (tests/asyncio_graph_test.cpp). Every awaiter of nogil's does it first in its
/// await_suspend, which runs only when the co_await suspends: a co_await that does not suspend
/// costs nothing (docs/debugging.md). Built with NOGIL_AWAIT_LINES=OFF, it does nothing.
template <class P>
void note_suspension([[maybe_unused]] std::coroutine_handle<P> h, [[maybe_unused]] const void* at) noexcept {
#if !defined(NOGIL_AWAIT_LINES) || NOGIL_AWAIT_LINES
    if constexpr (std::is_base_of_v<PromiseBase, P>) {
        static_assert(sizeof(std::source_location) == sizeof at && std::is_trivially_copyable_v<std::source_location>);
        std::memcpy(static_cast<void*>(&h.promise().where), &at, sizeof at);
    }
#endif
}

}  // namespace nogil::asyncio::detail
