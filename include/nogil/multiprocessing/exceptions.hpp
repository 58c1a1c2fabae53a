#pragma once
// multiprocessing's exceptions, and how a user exception type keeps its type across processes.
//
// An exception thrown by a task in a child reaches the parent (Process: exit code 1 and a report
// on stderr; Pool: AsyncResult::get rethrows it) as the same type when the parent can rebuild it:
// the standard exceptions (std::runtime_error, std::invalid_argument, std::out_of_range,
// std::logic_error and the rest of <stdexcept>), nogil's, and any type registered here. Anything
// else arrives as RemoteError carrying the type's name, its message and the child's name.

#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/errors.hpp>

#include <concepts>
#include <exception>
#include <string>
#include <typeinfo>

namespace nogil::multiprocessing {

/// Lets the parent rebuild exceptions of type E (constructed from their what() message) when a
/// child throws one. Call it in the process that receives results (usually main) before the
/// result arrives; registering twice is harmless. E must be constructible from std::string.
template <class E>
    requires std::constructible_from<E, std::string>
void register_exception() {
    detail::register_exception_factory(typeid(E).name(), [](const std::string& message) {
        return std::make_exception_ptr(E(message));
    });
}

}  // namespace nogil::multiprocessing
