#pragma once
// asyncio::gather: run awaitables concurrently, results in argument order.
//
//   auto [a, b] = co_await asyncio::gather(fetch(1), fetch(2));       // std::tuple
//   std::vector<int> all = co_await asyncio::gather(std::move(coros)); // a range -> std::vector
//   auto [x, y] = co_await asyncio::gather(asyncio::return_exceptions, f(), g());
//       // each element: std::variant<T, std::exception_ptr>
//
// gather() schedules the coroutines as tasks at once and returns a Future (awaitable, also
// usable with wait_for, shield...). Python's rules, exactly:
//   - the first exception (or a child's cancellation, as CancelledError) completes the gather
//     future with it; the other children keep running (they are NOT cancelled);
//   - with return_exceptions, exceptions and cancellations are results instead;
//   - cancelling the gather future (or the task awaiting it) cancels every child not yet done;
//     the gather then ends with CancelledError once all children are done, even with
//     return_exceptions;
//   - a void result is asyncio::Nothing (Python's None) in the tuple or vector;
//   - move-only results (Task<std::unique_ptr<X>>) are moved out of the children (gather
//     consumes them: a handle the caller kept then holds a moved-from value); copyable ones
//     are copied.
// The awaiting task is resumed by the loop one turn after the gather future completes.

#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/detail/awaitables.hpp>

#include <cstddef>
#include <exception>
#include <iterator>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace nogil::asyncio {

/// The placeholder a void awaitable contributes to gather's tuple or vector (Python's None).
struct Nothing {
    friend constexpr bool operator==(Nothing, Nothing) noexcept { return true; }
};

/// Tag for gather's return_exceptions=True form.
struct ReturnExceptions {};
inline constexpr ReturnExceptions return_exceptions{};

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, asyncio::Nothing, T>;
template <class T, bool Settled>
using gather_elem_t = std::conditional_t<Settled, std::variant<gather_value_t<T>, std::exception_ptr>, gather_value_t<T>>;

/// One child's contribution to the result list: gather consumes its children, so a move-only
/// value is moved out of the child; a copyable one is copied (handles the caller kept still see it).
template <bool Settled, class F>
auto gather_element(F& child) {
    using T = future_value_t<F>;
    using E = gather_elem_t<T, Settled>;
    if constexpr (Settled) {
        if (child.cancelled()) return E(child.state()->cancelled_error());
        if (auto e = child.state()->stored_exception()) return E(e);
    }
    if constexpr (std::is_void_v<T>) {
        child.result();
        return E(asyncio::Nothing{});
    } else if constexpr (!std::is_copy_constructible_v<T>) {
        if constexpr (Settled)
            return E(std::in_place_index<0>, std::move(child).result());
        else
            return E(std::move(child).result());
    } else if constexpr (Settled) {
        return E(std::in_place_index<0>, child.result());
    } else {
        return E(child.result());
    }
}

/// The gather future: Python's _GatheringFuture with its _done_callback.
template <class Result, class Children, bool Settled>
class GatherState final : public FutureState<Result> {
public:
    GatherState(LoopCore& loop, Children children) : FutureState<Result>(loop), children_(std::move(children)) {}
    /// What this state's Link registers on the futures it watches (set by Link::add).
    DoneLink done_link{};

    /// Registers on every distinct child; completes at once when there are none.
    void attach() {
        // Python's ensure_future(fut, loop=loop): a child of another loop is refused, before
        // anything is registered (its callbacks would run on the other loop's thread).
        for_each_child([&](FutureBase& c) {
            if (&c.loop() != &this->loop())
                throw std::invalid_argument("The future belongs to a different loop than the one specified as the loop argument");
        });
        // Each distinct child once (Python's arg_to_fut): a scratch mark on the child, no set.
        nfuts_ = 0;
        for_each_child([&](FutureBase& c) {
            if (c.marked()) return;
            c.set_mark(true);
            ++nfuts_;
        });
        if (nfuts_ == 0) {
            if constexpr (std::is_default_constructible_v<Result>) this->set_result(Result{});
            return;
        }
        for_each_child([&](FutureBase& c) {
            if (!c.marked()) return;
            c.set_mark(false);
            Link<GatherState, &GatherState::child_done>::add(c, *this);
        });
    }

    bool cancel(std::string msg) override {
        if (this->done()) return false;
        bool any = false;
        for_each_child([&](FutureBase& c) {
            if (c.cancel(msg)) any = true;
        });
        if (any) cancel_requested_ = true;
        return any;
    }

private:
    void child_done(FutureBase& child) {
        ++nfinished_;
        if (this->done()) {
            // Python's _done_callback: a late child's exception counts as retrieved (the
            // gather already reported the first one), so it is not logged when it goes.
            if (!child.cancelled()) (void)child.stored_exception();
            return;
        }
        if (!Settled) {
            if (child.cancelled()) {
                this->set_exception(child.cancelled_error());
                return;
            }
            if (child.stored_exception()) {
                this->set_exception(child.stored_exception());
                return;
            }
        }
        if (nfinished_ < nfuts_) return;
        if (cancel_requested_) {
            // Cancelling gather wins over return_exceptions (Python issue 32684).
            this->set_exception(child.cancelled_error());
            return;
        }
        this->set_result(build());
    }

    template <class Fn>
    void for_each_child(Fn&& fn) {
        if constexpr (requires { std::tuple_size<Children>::value; })
            std::apply([&](auto&... c) { (fn(*c.state()), ...); }, children_);
        else
            for (auto& c : children_) fn(*c.state());
    }

    Result build() {
        if constexpr (requires { std::tuple_size<Children>::value; }) {
            return std::apply([](auto&... c) { return Result(gather_element<Settled>(c)...); }, children_);
        } else {
            Result out;
            out.reserve(children_.size());
            for (auto& c : children_) out.push_back(gather_element<Settled>(c));
            return out;
        }
    }

    Children children_;
    std::size_t nfuts_ = 0;
    std::size_t nfinished_ = 0;
    bool cancel_requested_ = false;
};

// gather_loop: the gather future belongs to its first child's loop (Python's
// `loop = futures._get_loop(fut)` of the first argument), so futures of a loop can be gathered
// where no loop runs (FutureGatherTests.test_constructor_homogenous_futures); coroutines need
// the running loop (ensure_future throws without one), and attach() refuses children of
// another loop (ValueError). No children: the running loop, or "no running event loop".
template <bool Settled, class... A>
auto gather_tuple(A&&... aws) {
    using Children = std::tuple<future_t<A>...>;
    using Result = std::tuple<gather_elem_t<future_value_t<future_t<A>>, Settled>...>;
    // Braces: the children are made, and so scheduled, in argument order (parentheses would let
    // g++ evaluate the arguments right to left, starting the last child first).
    Children children{ensure_future(std::forward<A>(aws))...};
    LoopCore& loop = std::get<0>(children).state()->loop();  // see gather_loop
    auto* state = new GatherState<Result, Children, Settled>(loop, std::move(children));
    auto ref = Ref<GatherState<Result, Children, Settled>>::adopt(state);
    state->attach();
    return asyncio::Future<Result>::from_state(std::move(ref));
}

template <bool Settled, class R>
auto gather_range(R&& range) {
    using A = std::ranges::range_value_t<R>;
    using F = future_t<A>;
    using Result = std::vector<gather_elem_t<future_value_t<F>, Settled>>;
    std::vector<F> children;
    if constexpr (std::ranges::sized_range<R>) children.reserve(std::ranges::size(range));
    for (auto&& a : range) children.push_back(ensure_future_from_range(a));
    LoopCore& loop = children.empty() ? running_loop_or_throw() : children.front().state()->loop();  // see gather_loop
    auto ref = Ref<GatherState<Result, std::vector<F>, Settled>>::adopt(
        new GatherState<Result, std::vector<F>, Settled>(loop, std::move(children)));
    ref->attach();
    return asyncio::Future<Result>::from_state(std::move(ref));
}

template <class A>
concept awaitable_range = std::ranges::input_range<A> && !has_member_co_await<A>;

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// gather(aws...): a Future of std::tuple of the results. See the header comment.
template <class... A>
    requires(sizeof...(A) > 0 && (!detail::awaitable_range<A> && ...))
auto gather(A&&... aws) {
    return detail::gather_tuple<false>(std::forward<A>(aws)...);
}

/// gather(return_exceptions, aws...): each element is std::variant<T, std::exception_ptr>.
template <class... A>
    requires(sizeof...(A) > 0 && (!detail::awaitable_range<A> && ...))
auto gather(ReturnExceptions, A&&... aws) {
    return detail::gather_tuple<true>(std::forward<A>(aws)...);
}

/// gather(range): a Future of std::vector of the results (an empty range gives an empty vector).
/// Coroutines in the range are moved out of it into tasks.
template <detail::awaitable_range R>
auto gather(R&& range) {
    return detail::gather_range<false>(std::forward<R>(range));
}

/// gather(return_exceptions, range): std::vector<std::variant<T, std::exception_ptr>>.
template <detail::awaitable_range R>
auto gather(ReturnExceptions, R&& range) {
    return detail::gather_range<true>(std::forward<R>(range));
}

}  // namespace nogil::asyncio
