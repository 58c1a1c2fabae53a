#pragma once
// A call that can run in another process: which function, and its serialized arguments.
//
// encode_call(f, args...) checks at compile time that f is a plain function or a captureless
// lambda and that every argument and the result are serializable, then records two function
// names (function.hpp): the user's function, and `invoke_encoded<Fn, Args...>`, the
// instantiation that knows how to decode those arguments, call, and encode the result. The child
// needs neither the types nor a registry: it resolves the invoker and hands it the bytes.

#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/multiprocessing/detail/function.hpp>
#include <nogil/detail/serial.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


template <class>
inline constexpr bool dependent_false = false;

/// A plain function (or pointer to one), or a captureless, non-generic lambda.
template <class F>
concept plain_callable =
    std::is_function_v<std::remove_pointer_t<std::decay_t<F>>> ||
    (std::is_class_v<std::decay_t<F>> && std::is_empty_v<std::decay_t<F>> && requires(std::decay_t<F> f) {
        requires std::is_function_v<std::remove_pointer_t<decltype(+f)>>;
    });

/// The function pointer type a plain callable converts to (void(*)() for anything else, so that
/// only the static_assert of check_callable reports the mistake).
template <class F>
struct function_pointer {
    using type = void (*)();
};
template <plain_callable F>
struct function_pointer<F> {
    using type = std::decay_t<decltype(+std::declval<std::decay_t<F>>())>;
};
template <class F>
using function_pointer_t = typename function_pointer<F>::type;

/// What a task returns once decayed (void stays void; void too when the call is ill-formed, which
/// check_task reports).
template <class Fn, class... Args>
struct task_result {
    using type = void;
};
template <class Fn, class... Args>
    requires std::is_invocable_v<Fn, Args...>
struct task_result<Fn, Args...> {
    using type = std::decay_t<std::invoke_result_t<Fn, Args...>>;
};
template <class F, class... Args>
using task_result_t = typename task_result<function_pointer_t<F>, std::decay_t<Args>&...>::type;

using Invoker = serial::Payload (*)(std::uintptr_t target, std::string_view args, std::vector<UniqueFd>& fds);

/// Decodes Args..., calls the function at `target`, encodes its result (empty for void).
template <class Fn, class... Args>
serial::Payload invoke_encoded(std::uintptr_t target, std::string_view args, std::vector<UniqueFd>& fds) {
    auto values = serial::loads<Args...>(args, fds);
    Fn fn = reinterpret_cast<Fn>(target);
    using R = std::invoke_result_t<Fn, Args&...>;
    if constexpr (std::is_void_v<R>) {
        std::apply(fn, values);
        return {};
    } else {
        return serial::dumps(std::decay_t<R>(std::apply(fn, values)));
    }
}

/// A call ready to send: function names, argument bytes, and the descriptors inside the arguments.
struct EncodedCall {
    FunctionId invoker;
    FunctionId target;
    std::string args;
    std::vector<UniqueFd> fds;

    // The descriptors travel with the enclosing message; `args` refers to them by their position
    // in `fds`, so they are re-exported (saved) and re-imported (loaded) in that order.
    template <class Archive>
    void save(Archive& ar) const {
        ar(invoker, target, args, static_cast<std::uint32_t>(fds.size()));
        for (const auto& fd : fds) ar(serial::export_fd(fd.get()));
    }
    template <class Archive>
    void load(Archive& ar) {
        std::uint32_t n = 0;
        ar(invoker, target, args, n);
        if (n > 250) throw std::runtime_error("corrupt call: too many descriptors");
        fds.clear();
        for (std::uint32_t i = 0; i < n; ++i) {
            std::uint32_t index = 0;
            ar(index);
            fds.push_back(serial::import_fd(index));
        }
    }
};

/// Compile-time checks with messages in words; true when F(args...) can cross a process boundary.
template <class F>
consteval bool check_callable() {
    static_assert(plain_callable<F>,
                  "nogil::multiprocessing: the task must be a plain function or a captureless, non-generic "
                  "lambda; a capturing lambda, std::function or other function object cannot be sent to "
                  "another process (pass what it captures as arguments instead)");
    return plain_callable<F>;
}

template <class F, class... Args>
consteval bool check_task() {
    if constexpr (!check_callable<F>()) {
        return false;
    } else if constexpr (!std::is_invocable_v<function_pointer_t<F>, std::decay_t<Args>&...>) {
        static_assert(dependent_false<F>, "nogil::multiprocessing: the task cannot be called with these arguments");
        return false;
    } else if constexpr (!(serial::Serializable<std::decay_t<Args>> && ...)) {
        static_assert(dependent_false<F>,
                      "nogil::multiprocessing: every argument must be serializable to cross a process boundary: "
                      "arithmetic, trivially copyable structs, std::string, standard containers, optional, "
                      "pair/tuple, or a type with a cereal serialize(Archive&) member");
        return false;
    } else if constexpr (!serial::Serializable<task_result_t<F, Args...>>) {
        static_assert(dependent_false<F>,
                      "nogil::multiprocessing: the task's result type is not serializable: give it a cereal "
                      "serialize(Archive&) member or return a standard type");
        return false;
    } else {
        return true;
    }
}

/// Encodes f(args...) for another process. Checked at compile time (check_task).
template <class F, class... Args>
EncodedCall encode_call(F&& f, const Args&... args) {
    if constexpr (check_task<F, Args...>()) {
        using Fn = function_pointer_t<F>;
        Fn target = +f;
        EncodedCall call;
        call.invoker = identify(&invoke_encoded<Fn, std::decay_t<Args>...>);
        call.target = identify(target);
        serial::Payload payload = serial::dumps(args...);
        call.args = std::move(payload.bytes);
        call.fds = std::move(payload.fds);
        return call;
    } else {
        return {};
    }
}

/// encode_call with the function names cached: naming a function walks the loaded objects
/// (dl_iterate_phdr), which costs more than the rest of a small task's submit. A name never
/// changes while the function's object stays loaded, which it does for the program's life.
/// Checked by the caller (check_task).
template <class F, class... Args>
EncodedCall encode_call_cached(F& f, const Args&... args) {
    using Fn = function_pointer_t<F>;
    static const FunctionId invoker = identify(&invoke_encoded<Fn, std::decay_t<Args>...>);
    thread_local Fn last_target = nullptr;
    thread_local FunctionId last_id;
    Fn target = +f;
    if (target != last_target) {
        last_id = identify(target);
        last_target = target;
    }
    serial::Payload payload = serial::dumps(args...);
    return EncodedCall{invoker, last_id, std::move(payload.bytes), std::move(payload.fds)};
}

/// Runs an encoded call in this process: result payload, or throws what the task threw (or a
/// resolution/decoding error).
serial::Payload run_call(const EncodedCall& call, std::vector<UniqueFd>& fds);

}  // namespace nogil::multiprocessing::detail
