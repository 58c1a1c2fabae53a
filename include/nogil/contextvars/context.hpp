#pragma once
// contextvars.Context and copy_context(): an immutable-by-sharing mapping of ContextVars to
// values, and the context a thread (or an asyncio task) currently runs in.
//
//   namespace cv = nogil::contextvars;
//   cv::ContextVar<std::string> request_id("request_id", "-");
//   cv::Context ctx = cv::copy_context();     // O(1): shares the current mapping
//   ctx.run([] { request_id.set("r-17"); });  // the change stays in ctx
//   ctx[request_id];                          // "r-17"; request_id.get() here is still "-"
//
// A Context is a shared handle (Python's object identity): copies refer to one context, and a
// change made inside ctx.run() is seen through every copy. Context::copy() and copy_context()
// make a new context with the same variables (O(1): the map is persistent, see detail/hamt.hpp).
// Equality (==) compares the mappings, as Python's Context does.
//
// Each thread starts in an empty context of its own (Python without thread_inherit_context).
// asyncio tasks run in the context they captured at create_task (a copy of the creator's, or
// TaskOptions::context), loop callbacks in a copy of the context that scheduled them, and
// asyncio::to_thread's function in a copy of the awaiting task's.
//
// Deviations (docs/fidelity.md): a Context is not iterable (its values have different C++ types:
// ask it for a variable's value with get/operator[]/contains); keys(), values() and items() do
// not exist.
//
// Thread safety: a Context may be entered by one thread at a time; run() from a second thread
// while it is entered throws RuntimeError, as in Python. Its mapping methods (get, operator[],
// contains, size, copy, ==) may be called from any thread at any time.

#include <nogil/contextvars/detail/context_state.hpp>
#include <nogil/detail/ref.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace nogil::contextvars {

template <class T>
class ContextVar;

/// Python's contextvars.Context.
class Context {
public:
    /// A new, empty context (Python's Context()).
    Context() : state_(::nogil::detail::Ref<detail::ContextState>::adopt(new detail::ContextState)) {}

    /// Runs fn(args...) with this context as the current one and returns its result; every
    /// ContextVar::set() inside changes this context. Throws std::runtime_error("cannot enter
    /// context: ... is already entered") if a thread (this one or another) is inside it.
    /// An exception from fn leaves the context and propagates.
    template <class F, class... Args>
    std::invoke_result_t<F, Args...> run(F&& fn, Args&&... args) {
        detail::Entered scope(state_.get());
        return std::invoke(std::forward<F>(fn), std::forward<Args>(args)...);
    }

    /// A new context with the same variables (shares the mapping: O(1)).
    Context copy() const;

    /// The variable's value in this context, or nullopt (Python's ctx.get(var)).
    template <class T>
    std::optional<T> get(const ContextVar<T>& var) const {
        detail::Map m = state_->snapshot();
        if (const detail::Value* v = m.find(var.id())) return static_cast<const detail::TypedValue<T>*>(v)->value;
        return std::nullopt;
    }
    /// The variable's value in this context, or `default_value` (Python's ctx.get(var, default)).
    template <class T>
    T get(const ContextVar<T>& var, T default_value) const {
        auto v = get(var);
        return v ? std::move(*v) : std::move(default_value);
    }
    /// The variable's value; throws KeyError if this context has none (Python's ctx[var]).
    template <class T>
    T operator[](const ContextVar<T>& var) const {
        auto v = get(var);
        if (!v) throw KeyError(var.describe());
        return std::move(*v);
    }
    /// Python's `var in ctx`.
    template <class T>
    bool contains(const ContextVar<T>& var) const {
        return state_->snapshot().find(var.id()) != nullptr;
    }
    /// Number of variables set in this context (Python's len(ctx)).
    std::size_t size() const { return state_->snapshot().size(); }
    bool empty() const { return size() == 0; }
    /// True if both hold the same variables with equal values (values of a type without
    /// operator== compare by identity). Python's ctx1 == ctx2.
    friend bool operator==(const Context& a, const Context& b);
    /// True if both handles refer to the same context (Python's `is`).
    bool is(const Context& other) const noexcept { return state_ == other.state_; }

    /// The machinery; not part of the public API.
    explicit Context(::nogil::detail::Ref<detail::ContextState> s) noexcept : state_(std::move(s)) {}
    detail::ContextState* state() const noexcept { return state_.get(); }

private:
    ::nogil::detail::Ref<detail::ContextState> state_;
};

/// A copy of the current context (Python's contextvars.copy_context()).
Context copy_context();

}  // namespace nogil::contextvars
