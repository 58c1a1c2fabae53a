#include "multiprocessing/detail/child.hpp"
#include <nogil/multiprocessing/context.hpp>

#include <mutex>

namespace nogil::multiprocessing {

namespace {
struct DefaultMethod {
    std::mutex mutex;
    std::optional<detail::StartMethod> method;
};
DefaultMethod& default_method() { return detail::process_singleton<DefaultMethod>(); }  // children may ask during exit
}  // namespace

void set_start_method(const std::string& method, bool force) {
    detail::StartMethod parsed = detail::parse_start_method(method);
    {
        DefaultMethod& d = default_method();
        std::lock_guard lock(d.mutex);
        if (d.method && !force) throw std::runtime_error("context has already been set");
        d.method = parsed;
    }
    if (parsed == detail::StartMethod::forkserver) detail::ensure_forkserver_running();
}

std::optional<std::string> get_start_method(bool allow_none) {
    DefaultMethod& d = default_method();
    std::lock_guard lock(d.mutex);
    if (!d.method) {
        if (allow_none) return std::nullopt;
        d.method = detail::StartMethod::forkserver;
    }
    return std::string(detail::start_method_name(*d.method));
}

std::string get_start_method() { return *get_start_method(false); }

std::vector<std::string> get_all_start_methods() { return {"forkserver", "spawn", "fork"}; }

Context get_context(const std::string& method) {
    if (method.empty()) return Context(get_start_method());
    detail::parse_start_method(method);
    return Context(method);
}

}  // namespace nogil::multiprocessing

namespace nogil::multiprocessing::detail {
StartMethod default_start_method() { return parse_start_method(multiprocessing::get_start_method()); }
}  // namespace nogil::multiprocessing::detail
