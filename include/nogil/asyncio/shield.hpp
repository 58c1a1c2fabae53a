#pragma once
// asyncio::shield(aw): protects an awaitable from cancellation.
//
//   int v = co_await asyncio::shield(task);
//
// Returns an outer Future that mirrors the inner task. Cancelling the task that awaits the
// outer Future cancels only the outer one: the awaiting task gets CancelledError while the
// inner task keeps running (the loop keeps it alive). If the inner task is cancelled by other
// means, the outer Future is cancelled too. An inner task already done gives an outer Future
// that is already done.

#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/detail/awaitables.hpp>

namespace nogil::asyncio::detail {

template <class F>
class ShieldState final : public FutureState<future_value_t<F>> {
    using Base = FutureState<future_value_t<F>>;

public:
    ShieldState(LoopCore& loop, F inner) : Base(loop), inner_(std::move(inner)) {}
    /// What this state's Link registers on the futures it watches (set by Link::add).
    DoneLink done_link{};
    void attach() {
        if (inner_.done())
            copy_outcome();
        else
            Link<ShieldState, &ShieldState::inner_done>::add(*inner_.state(), *this);
    }
    bool cancel(std::string msg) override {
        if (!Base::cancel(std::move(msg))) return false;
        // Python's _outer_done_callback: stop mirroring the inner task.
        if (!inner_.done()) Link<ShieldState, &ShieldState::inner_done>::remove(*inner_.state(), *this);
        return true;
    }

private:
    void inner_done(FutureBase&) {
        if (this->cancelled()) return;
        copy_outcome();
    }
    void copy_outcome() {
        FutureBase& in = *inner_.state();
        if (in.cancelled())
            this->cancel_future({});
        else if (in.stored_exception())
            this->set_exception(in.stored_exception());
        else if constexpr (std::is_void_v<future_value_t<F>>)
            this->set_result();
        else if constexpr (std::is_copy_constructible_v<future_value_t<F>>)
            this->set_result(inner_.result());
        else
            this->set_result(std::move(inner_).result());
    }
    F inner_;
};

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// See the header comment. A Coroutine is scheduled as a task first.
template <class A>
Future<detail::future_value_t<detail::future_t<A>>> shield(A aw) {
    using F = detail::future_t<A>;
    F inner = detail::ensure_future(std::move(aw));
    auto state = detail::Ref<detail::ShieldState<F>>::adopt(new detail::ShieldState<F>(inner.state()->loop(), inner));
    state->attach();
    return Future<detail::future_value_t<F>>::from_state(std::move(state));
}

}  // namespace nogil::asyncio
