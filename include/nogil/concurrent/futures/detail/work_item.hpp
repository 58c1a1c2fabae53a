#pragma once
// An executor's unit of work: the future's state plus the call that produces its value, in one
// allocation. Run once by a worker; the callable and its arguments are destroyed as soon as the
// call returns (Python drops its work item then too), not when the last Future handle goes away.
// A call through a function pointer keeps a copy of the pointer in the future state
// (call_target), where `nogil ps` finds it to name the function (debug_offsets.hpp).

#include <nogil/concurrent/futures/detail/future_state.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace nogil::concurrent::futures::detail {

/// The value type a Future holds for `fn(args...)`: references decay to values; void stays void.
template <class F, class... Args>
using result_of_call_t = std::conditional_t<std::is_void_v<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>,
                                            void,
                                            std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>>;

/// The callable's address for `nogil ps` when it is a plain function pointer (the reader names
/// the function with the program's symbol table), else 0 (the reader names the callable's type).
template <class F>
std::uintptr_t call_target(const F& fn) noexcept {
    if constexpr (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>)
        return reinterpret_cast<std::uintptr_t>(fn);
    else
        return 0;
}

template <class R, class F, class... Args>
class WorkItem final : public FutureState<R> {
public:
    using RunHook = FutureStateBase::RunHook;

    template <class G, class... A>
    explicit WorkItem(G&& fn, A&&... args)
        : call_(std::in_place, std::forward<G>(fn), std::forward<A>(args)...) {
        this->call_target = detail::call_target<F>(std::get<0>(*call_));
    }

    void run(RunHook* hook) noexcept override {
        bool start = false;
        try {
            start = this->set_running_or_notify_cancel();
        } catch (...) {  // completed by someone else through set_result: nothing to run
        }
        if (start) complete(hook);
        call_.reset();
    }

private:
    void complete(RunHook* hook) noexcept {
        auto invoke = [this]() -> decltype(auto) {
            return std::apply([](auto& fn, auto&... args) -> decltype(auto) { return std::invoke(std::move(fn), std::move(args)...); },
                              *call_);
        };
        bool told = false;
        auto tell = [&] {
            if (hook && !std::exchange(told, true)) hook->call_returned();
        };
        try {
            if constexpr (std::is_void_v<R>) {
                invoke();
                tell();
                this->set_value();
            } else {
                R value(invoke());
                tell();
                this->set_value(std::move(value));
            }
        } catch (...) {
            // Either the call threw (the hook has not run yet), or the future was already completed
            // from outside through set_result (keep that outcome).
            auto error = std::current_exception();
            tell();
            try {
                this->set_exception(error);
            } catch (...) {
            }
        }
    }

    std::optional<std::tuple<F, Args...>> call_;
};

}  // namespace nogil::concurrent::futures::detail
