#include "multiprocessing/detail/child.hpp"
#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/errors.hpp>

#include <cxxabi.h>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <typeinfo>

namespace nogil::multiprocessing::detail {

namespace {

template <class E>
std::exception_ptr make_from_message(const std::string& message) {
    return std::make_exception_ptr(E(message));
}

template <class E>
std::exception_ptr make_default(const std::string&) {
    return std::make_exception_ptr(E());
}

struct Registry {
    std::mutex mutex;
    std::map<std::string, ExceptionFactory, std::less<>> factories;

    Registry() {
        add<std::logic_error>();
        add<std::invalid_argument>();
        add<std::domain_error>();
        add<std::length_error>();
        add<std::out_of_range>();
        add<std::runtime_error>();
        add<std::range_error>();
        add<std::overflow_error>();
        add<std::underflow_error>();
        add<nogil::TimeoutError>();
        add<nogil::EOFError>();
        add<nogil::ProcessError>();
        add<nogil::BrokenBarrierError>();
        add<nogil::InvalidStateError>();
        add<nogil::CancelledError>();
        add<nogil::LookupError>();
        add<nogil::KeyError>();
        add<nogil::AttributeError>();
        add<nogil::AuthenticationError>();
        factories[typeid(std::bad_alloc).name()] = &make_default<std::bad_alloc>;
        factories[typeid(nogil::queue::Empty).name()] = &make_default<nogil::queue::Empty>;
        factories[typeid(nogil::queue::Full).name()] = &make_default<nogil::queue::Full>;
    }
    template <class E>
    void add() {
        factories[typeid(E).name()] = &make_from_message<E>;
    }
};

// Never destroyed: children _exit, exit-time users may race.
Registry& registry() { return process_singleton<Registry>(); }

}  // namespace

std::string demangle(const char* mangled_name) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(mangled_name);
}

RemoteException capture_current_exception() {
    RemoteException e;
    const std::type_info* type = abi::__cxa_current_exception_type();
    e.type = type != nullptr ? type->name() : "unknown";
    try {
        throw;
    } catch (const std::exception& ex) {
        e.message = ex.what();
    } catch (...) {
    }
    e.process = describe_current_process();
    return e;
}

std::exception_ptr rebuild_exception(const RemoteException& e) {
    ExceptionFactory factory = nullptr;
    {
        Registry& r = registry();
        std::lock_guard lock(r.mutex);
        if (auto it = r.factories.find(e.type); it != r.factories.end()) factory = it->second;
    }
    if (factory != nullptr) return factory(e.message);
    return std::make_exception_ptr(RemoteError(demangle(e.type.c_str()), e.message, e.process));
}

void register_exception_factory(const char* mangled_name, ExceptionFactory factory) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.factories[mangled_name] = factory;
}

}  // namespace nogil::multiprocessing::detail
