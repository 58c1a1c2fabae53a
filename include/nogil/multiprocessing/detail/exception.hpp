#pragma once
// How an exception thrown in a child reaches the parent: the child records the exception's
// dynamic type (mangled name), its what() and who threw it; the parent rebuilds that type when it
// knows it (the standard exceptions, nogil's, and those registered by the user), else throws
// RemoteError with the demangled name. Never silence.

#include <exception>
#include <string>

namespace nogil::multiprocessing::detail {

struct RemoteException {
    std::string type;     // mangled (typeid(E).name()) — compared, not shown
    std::string message;  // what()
    std::string process;  // "<name> (pid N)"

    template <class Archive>
    void serialize(Archive& ar) {
        ar(type, message, process);
    }
};

/// Describes the exception being handled; call only inside a catch block.
RemoteException capture_current_exception();

/// The exception to raise in the parent for `e`.
std::exception_ptr rebuild_exception(const RemoteException& e);

using ExceptionFactory = std::exception_ptr (*)(const std::string& message);

/// Teaches this process to rebuild the type whose typeid().name() is `mangled_name`.
void register_exception_factory(const char* mangled_name, ExceptionFactory factory);

/// "int", "std::runtime_error", "app::ParseError" from a typeid name.
std::string demangle(const char* mangled_name);

}  // namespace nogil::multiprocessing::detail
