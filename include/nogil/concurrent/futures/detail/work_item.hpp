#pragma once
// An executor's unit of work: the future's state plus the call that produces its value, in one
// allocation. Run once by a worker; the callable and its arguments are destroyed as soon as the
// call returns (Python drops its work item then too), not when the last Future handle goes away.
// `nogil ps` names a queued or running call without the program doing anything for it: by the
// item's dynamic type (F), and for a function pointer by the function it points to, read at
// the offset the instantiation's static member nogil_ps_call_offset gives (a symbol the reader
// finds by its mangled name; debug_offsets.hpp).

#include <nogil/concurrent/futures/detail/future_state.hpp>

#include <cstddef>
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

template <class R, class F, class... Args>
class WorkItem final : public FutureState<R> {
public:
    using RunHook = FutureStateBase::RunHook;

    template <class G, class... A>
    explicit WorkItem(G&& fn, A&&... args) : call_(std::in_place, std::forward<G>(fn), std::forward<A>(args)...) {}

    /// Where the function pointer is, from the item's start (a FutureStateBase* to it): what
    /// `nogil ps` reads to name a call through a function pointer. Emitted (as a symbol) only for
    /// those; the value is a constant, nothing is stored at run time.
    static const std::uint64_t nogil_ps_call_offset;

    void run(RunHook* hook) noexcept override {
        if constexpr (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>)
            asm volatile("" : : "r"(&nogil_ps_call_offset));  // keeps the symbol in the program
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
            return std::apply([this](auto&... args) -> decltype(auto) { return std::invoke(std::move(call_->fn), std::move(args)...); },
                              call_->args);
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

    // The callable first: an optional keeps its value at its start (libstdc++ and libc++), so
    // the function pointer of a call is at offsetof(WorkItem, call_) (nogil_ps_call_offset).
    struct Call {
        template <class G, class... A>
        explicit Call(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
        F fn;
        std::tuple<Args...> args;
    };
    std::optional<Call> call_;
};

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // the Itanium ABI's layout: fixed and computed by both compilers
#endif
template <class R, class F, class... Args>
const std::uint64_t WorkItem<R, F, Args...>::nogil_ps_call_offset = offsetof(WorkItem, call_);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace nogil::concurrent::futures::detail
