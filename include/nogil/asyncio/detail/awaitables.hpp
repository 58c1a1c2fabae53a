#pragma once
// Python's ensure_future for the composition functions (gather, wait_for, shield, ...): a
// Coroutine becomes a Task (scheduled now), a Task or Future is used as is, and any other
// awaitable (sleep(...), a user's awaiter) is wrapped in a Coroutine, then a Task.
//
// Also: Link, the one way composite futures register internal done callbacks on their children
// while holding a reference to themselves (so a callback already queued on the loop never sees
// a destroyed owner).

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/detail/future_base.hpp>
#include <nogil/asyncio/detail/introspection.hpp>
#include <nogil/asyncio/detail/ref.hpp>

#include <type_traits>
#include <utility>

namespace nogil::asyncio::detail {

template <class A>
struct is_task : std::false_type {};
template <class T>
struct is_task<asyncio::Task<T>> : std::true_type {};
template <class A>
struct is_future : std::false_type {};
template <class T>
struct is_future<asyncio::Future<T>> : std::true_type {};

template <class A>
concept has_member_co_await = requires(A&& a) { std::forward<A>(a).operator co_await(); };

/// What `co_await a` yields for an rvalue `a`.
template <class A>
auto await_result_helper() {
    if constexpr (has_member_co_await<A>)
        return std::type_identity<decltype(std::declval<A>().operator co_await().await_resume())>{};
    else
        return std::type_identity<decltype(std::declval<A>().await_resume())>{};
}
template <class A>
using await_result_t = typename decltype(await_result_helper<A>())::type;

/// Runs any awaitable as a Coroutine (so that it can become a task).
template <class A, class R = await_result_t<A>>
asyncio::Coroutine<R> await_in_coroutine(A aw) {
    if constexpr (std::is_void_v<R>)
        co_await std::move(aw);
    else if constexpr ((is_task<A>::value || is_future<A>::value) && std::is_copy_constructible_v<R>)
        co_return co_await aw;  // a shared handle: its other holders keep the value (wait_for(task))
    else
        co_return co_await std::move(aw);
}

/// The Task or Future that ensure_future(A) gives.
template <class A>
auto future_type_helper() {
    if constexpr (is_task<A>::value || is_future<A>::value)
        return std::type_identity<A>{};
    else if constexpr (is_coroutine<A>::value)
        return std::type_identity<asyncio::Task<typename A::value_type>>{};
    else
        return std::type_identity<asyncio::Task<await_result_t<A>>>{};
}
template <class A>
using future_t = typename decltype(future_type_helper<std::decay_t<A>>())::type;

/// Python's ensure_future (see the header comment). Needs a running loop for coroutines.
template <class A>
future_t<A> ensure_future(A&& aw) {
    using D = std::decay_t<A>;
    if constexpr (is_task<D>::value || is_future<D>::value)
        return aw;
    else if constexpr (is_coroutine<D>::value)
        return asyncio::create_task(std::move(aw));
    else
        return asyncio::create_task(await_in_coroutine(std::forward<A>(aw)));
}

/// ensure_future for an element of a range: Tasks and Futures are shared (copied), anything
/// else (a Coroutine) is moved out of the range, which must then be a non-const lvalue or an
/// rvalue range.
template <class E>
auto ensure_future_from_range(E&& element) {
    using D = std::decay_t<E>;
    if constexpr (is_task<D>::value || is_future<D>::value)
        return D(element);
    else
        return ensure_future(std::move(element));
}

/// The value type of a Task<T> / Future<T>.
template <class F>
struct future_value;
template <class T>
struct future_value<asyncio::Task<T>> {
    using type = T;
};
template <class T>
struct future_value<asyncio::Future<T>> {
    using type = T;
};
template <class F>
using future_value_t = typename future_value<F>::type;

/// An internal done callback that calls (owner.*Method)(fut) and holds a reference to the owner
/// from add() until it has run or was removed. The owner provides the DoneLink the futures
/// point to, as a member `DoneLink done_link` (one per owner, shared by all its futures; an
/// owner uses one Method). A composite future's link is registered as such on first use, so the
/// call graph and `nogil ps` see through it (detail/introspection.hpp, rule 3).
template <class Owner, void (Owner::*Method)(FutureBase&)>
struct Link {
    static void add(FutureBase& fut, Owner& owner) {
        if constexpr (std::is_base_of_v<FutureBase, Owner>) {
            static LinkKind kind{&call, LinkKind::composite,
                                 static_cast<std::int32_t>(reinterpret_cast<char*>(static_cast<FutureBase*>(&owner)) -
                                                           reinterpret_cast<char*>(&owner)),
                                 nullptr};
            [[maybe_unused]] static const bool registered = register_link_kind(kind);
        }
        owner.done_link = DoneLink{&call, &owner};
        owner.add_ref();
        fut.add_callback(owner.done_link);
    }
    static void remove(FutureBase& fut, Owner& owner) noexcept {
        if (fut.remove_callback(owner.done_link)) owner.release();
    }

private:
    static void call(void* ctx, FutureBase& fut) {
        Ref<Owner> owner = Ref<Owner>::adopt(static_cast<Owner*>(ctx));
        (owner.get()->*Method)(fut);
    }
};

}  // namespace nogil::asyncio::detail
