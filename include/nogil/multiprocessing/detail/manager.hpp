#pragma once
// The manager's wire protocol and the client half every proxy shares (multiprocessing/managers.hpp).
//
// A proxy names an object in the manager's server process by (address, authkey, id). Each thread
// of each process talks to a server over its own connection (Python's per-thread connections:
// an RLock proxy's owner is the thread that called acquire), opened on first use and closed when
// the thread ends. One request, one response, in order:
//
//   request:  ManagerRequest  (op, id, name, method, args)        FrameKind::object
//   response: ManagerResponse (ok + result bytes, or the exception) FrameKind::object
//
// The server is type-agnostic for the built-in kinds (dict, list, Queue, Value, Namespace, ...):
// it stores each value as its cereal bytes, and compares keys and list items by those bytes.
// Registered user types are called through invokers named by FunctionId (function.hpp), checked
// against the type's exposed methods on the server before anything runs.
//
// Reference counting (Python's incref/decref): create returns an object with one reference,
// owned by the proxy that asked; the last copy of a proxy in a process drops it (decref: one-way,
// no reply). A proxy that is serialized (sent to a child, put in a Queue, stored inside another
// managed object) takes a reference for the bytes (save: incref), and every proxy rebuilt from
// bytes takes its own (load: incref) — the server stores values as opaque bytes, so it cannot
// know when bytes holding a proxy are gone: the bytes' reference is kept until the manager shuts
// down. An object is thus freed when its last proxy goes if no proxy of it ever crossed; else at
// shutdown (docs/multiprocessing.md, "Managers"). Tests: ManagerRefcount.* in
// tests/multiprocessing_managers_test.cpp.

#include <nogil/detail/serial.hpp>
#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/multiprocessing/detail/function.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;

enum class ManagerOp : std::uint8_t {
    ping = 1,          // authenticate and check the server answers (BaseManager::connect)
    create = 2,        // name = kind or registered typeid; args = the constructor's arguments
    call = 3,          // id; name = built-in method name, or method = a user method's invoker
    incref = 4,        // id
    decref = 5,        // id; no response
    shutdown = 6,      // the server answers, then exits
    object_count = 7,  // how many objects the server holds (tests: ManagerRefcount.*)
};

struct ManagerRequest {
    ManagerOp op{};
    std::uint64_t id = 0;
    std::string name;
    FunctionId method;
    std::string args;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(op, id, name, method, args);
    }
};

struct ManagerResponse {
    bool ok = false;
    std::string bytes;      // ok: the result's cereal bytes (empty for void)
    RemoteException error;  // !ok: what the server threw

    template <class Archive>
    void serialize(Archive& ar) {
        ar(ok, bytes, error);
    }
};

/// Where a manager listens (a Unix socket path) and the key its clients must prove they hold.
struct ManagerAddress {
    std::string path;
    std::string authkey;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(path, authkey);
    }
};

/// Sends `request` over the calling thread's connection to `address` and returns the result bytes,
/// or throws: what the server threw (rebuilt as its type), EOFError if the server went away
/// (before or during the call), ConnectionRefusedError if nothing listens at the address,
/// AuthenticationError if the authkey is refused.
std::string manager_call(const ManagerAddress& address, const ManagerRequest& request);
/// Called when this process shut the manager at `path` down: every thread drops its connection
/// to it before its next call (Python's del BaseProxy._address_to_local[address]), so that a
/// new manager at the same address is reached, not the dead one.
void manager_forget(const std::string& path);
/// A decref (one-way); never throws (the server may be gone already).
void manager_decref(const ManagerAddress& address, std::uint64_t id) noexcept;

/// A value crossing to a manager's object: its cereal bytes. Descriptors cannot be kept by the
/// server for later callers: a value holding one is refused (std::invalid_argument).
template <class T>
std::string to_bytes(const T& value) {
    serial::Payload payload = serial::dumps(value);
    if (!payload.fds.empty())
        throw std::invalid_argument("a value stored in a manager cannot hold a descriptor (Connection, Queue, ...)");
    return std::move(payload.bytes);
}
template <class T>
T from_bytes(std::string_view bytes) {
    std::vector<UniqueFd> none;
    return serial::load_one<T>(bytes, none);
}

/// One reference to an object held by a manager. Shared by the copies of a proxy; the last
/// copy to go drops the reference.
class ProxyRef {
public:
    ProxyRef(ManagerAddress address, std::uint64_t id) : address_(std::move(address)), id_(id) {}
    ~ProxyRef() { manager_decref(address_, id_); }
    ProxyRef(const ProxyRef&) = delete;
    ProxyRef& operator=(const ProxyRef&) = delete;

    const ManagerAddress& address() const noexcept { return address_; }
    std::uint64_t id() const noexcept { return id_; }

    /// Calls a built-in method; returns the result bytes.
    std::string call(std::string_view method, std::string args) const {
        return manager_call(address_, ManagerRequest{ManagerOp::call, id_, std::string(method), {}, std::move(args)});
    }
    /// Calls a registered type's method through its invoker.
    std::string call(FunctionId invoker, std::string args) const {
        return manager_call(address_, ManagerRequest{ManagerOp::call, id_, {}, std::move(invoker), std::move(args)});
    }

private:
    ManagerAddress address_;
    std::uint64_t id_;
};

/// Creates an object of `kind` on the manager and returns the reference to it.
inline std::shared_ptr<ProxyRef> manager_create(const ManagerAddress& address, std::string kind, std::string args) {
    std::string id = manager_call(address, ManagerRequest{ManagerOp::create, 0, std::move(kind), {}, std::move(args)});
    return std::make_shared<ProxyRef>(address, from_bytes<std::uint64_t>(id));
}

/// What every proxy type holds and how it crosses a process boundary (save: incref for the bytes,
/// then the address and id; load: incref for the new proxy).
class ProxyBase {
public:
    ProxyBase() = default;
    explicit ProxyBase(std::shared_ptr<ProxyRef> ref) : ref_(std::move(ref)) {}

    template <class Archive>
    void save(Archive& ar) const {
        const ProxyRef& r = checked();
        manager_call(r.address(), ManagerRequest{ManagerOp::incref, r.id(), {}, {}, {}});
        ar(r.address(), r.id());
    }
    template <class Archive>
    void load(Archive& ar) {
        ManagerAddress address;
        std::uint64_t id = 0;
        ar(address, id);
        manager_call(address, ManagerRequest{ManagerOp::incref, id, {}, {}, {}});
        ref_ = std::make_shared<ProxyRef>(std::move(address), id);
    }

protected:
    const ProxyRef& checked() const {
        if (!ref_) throw std::invalid_argument("manager proxy: empty (default-constructed or moved-from)");
        return *ref_;
    }
    template <class R = void>
    R call(std::string_view method, std::string args = {}) const {
        std::string out = checked().call(method, std::move(args));
        if constexpr (!std::is_void_v<R>) return from_bytes<R>(out);
    }

private:
    std::shared_ptr<ProxyRef> ref_;
};

// ---- registered types (BaseManager::register_type) ---------------------------------------------

/// Builds an object of a registered type from serialized factory arguments; the server keeps it
/// as shared_ptr<void>.
using FactoryInvoker = std::shared_ptr<void> (*)(std::uintptr_t factory, std::string_view args);
/// Calls one method of a registered type's object with serialized arguments.
using MethodInvoker = std::string (*)(void* object, std::string_view args);

template <class T, class Fn, class... Args>
std::shared_ptr<void> invoke_factory(std::uintptr_t factory, std::string_view args) {
    std::vector<UniqueFd> none;
    auto values = serial::loads<Args...>(args, none);
    auto made = std::apply(reinterpret_cast<Fn>(factory), values);
    if constexpr (std::is_same_v<decltype(made), std::shared_ptr<T>>) {
        return made;
    } else {
        return std::make_shared<T>(std::move(made));
    }
}

template <class T>
std::shared_ptr<void> invoke_default_factory(std::uintptr_t, std::string_view args) {
    if (!args.empty()) throw std::invalid_argument("this registered type takes no constructor arguments");
    return std::make_shared<T>();
}

/// The parts of a pointer to member function: its class, result and parameters.
template <class M>
struct method_traits;
template <class C, class R, class... A>
struct method_traits<R (C::*)(A...)> {
    using object = C;
    using result = std::decay_t<R>;
    using args = std::tuple<std::decay_t<A>...>;
};
template <class C, class R, class... A>
struct method_traits<R (C::*)(A...) const> : method_traits<R (C::*)(A...)> {};
template <class C, class R, class... A>
struct method_traits<R (C::*)(A...) noexcept> : method_traits<R (C::*)(A...)> {};
template <class C, class R, class... A>
struct method_traits<R (C::*)(A...) const noexcept> : method_traits<R (C::*)(A...)> {};

template <auto Method>
std::string invoke_method(void* object, std::string_view args) {
    using traits = method_traits<decltype(Method)>;
    auto* self = static_cast<typename traits::object*>(object);
    std::vector<UniqueFd> none;
    auto values = [&]<class... A>(std::tuple<A...>*) { return serial::loads<A...>(args, none); }(
        static_cast<typename traits::args*>(nullptr));
    auto call = [&](auto&... a) -> decltype(auto) { return (self->*Method)(a...); };
    if constexpr (std::is_void_v<typename traits::result>) {
        std::apply(call, values);
        return {};
    } else {
        return to_bytes(typename traits::result(std::apply(call, values)));
    }
}

/// One registered type as the server needs it: sent to the server process at start().
struct RegisteredType {
    std::string name;
    FunctionId factory_invoker;
    FunctionId factory;                      // empty object and offset 0: none (default-construct)
    std::vector<FunctionId> method_invokers;  // the exposed methods
    std::vector<std::string> method_names;    // their names, for messages
    bool concurrent = false;                  // methods may run at once (else one at a time per object)

    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, factory_invoker, factory, method_invokers, method_names, concurrent);
    }
};

}  // namespace nogil::multiprocessing::detail
