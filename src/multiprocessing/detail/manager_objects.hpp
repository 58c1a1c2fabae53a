#pragma once
// The objects a manager's server holds: the built-in kinds (SyncManager's dict, list, Queue,
// Event, Lock, RLock, Semaphore, BoundedSemaphore, Barrier, Value, Namespace), which store
// values as their cereal bytes and never need the C++ types, and registered user types.

#include <nogil/multiprocessing/detail/manager.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace nogil::multiprocessing::detail {

/// An object in the server. call() runs one request's method; it may block (a Queue's get, a
/// Lock's acquire) and runs on the requesting connection's thread.
class Served {
public:
    virtual ~Served() = default;
    virtual std::string call(const ManagerRequest& request) = 0;
};

/// A new object of built-in `kind` made from the constructor's packed arguments, or nullptr
/// if there is no such kind.
std::shared_ptr<Served> make_builtin(const std::string& kind, std::string_view args);

/// Decodes a request's packed arguments (the client's pack<Ts...>).
template <class... Ts>
std::tuple<Ts...> unpack(std::string_view args) {
    return from_bytes<std::tuple<Ts...>>(args);
}

}  // namespace nogil::multiprocessing::detail
