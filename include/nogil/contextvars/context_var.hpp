#pragma once
// contextvars.ContextVar<T> and Token<T>: a variable whose value belongs to the current Context.
//
//   inline nogil::contextvars::ContextVar<std::string> request_id("request_id", "-");
//   auto token = request_id.set("r-17");   // in this context (this task) only
//   log(request_id.get());                 // "r-17" here, in the tasks this one creates from now
//                                          // on, and in asyncio::to_thread calls it makes
//   request_id.reset(token);               // back to what it was before set()
//
// A ContextVar is a shared handle: copies are the same variable (one identity, as a Python
// object). Declare it once, at namespace scope, as Python's documentation advises.
//
// get() copies the value out of the context (T must be copy-constructible); a large or shared
// value is best held as a std::shared_ptr<const X>. The cost of get(): a thread_local read and
// a walk of the context's persistent map (bench/contextvars_bench.cpp measures it against
// Python's ContextVar.get).
//
// Thread safety: a ContextVar may be used from any thread; get/set/reset act on the calling
// thread's current context. A Token may be passed between threads, but reset() accepts it only
// in the context it was created in.

#include <nogil/contextvars/context.hpp>
#include <nogil/contextvars/detail/context_state.hpp>
#include <nogil/contextvars/detail/hamt.hpp>
#include <nogil/detail/ref.hpp>
#include <nogil/errors.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace nogil::contextvars {

namespace detail {
/// A fresh variable id (never 0, never reused).
std::uint64_t new_var_id() noexcept;
}  // namespace detail

template <class T>
class Token;

/// Python's contextvars.ContextVar.
template <class T>
class ContextVar {
    static_assert(std::is_copy_constructible_v<T>, "ContextVar<T>: get() returns a copy, so T must be copy-constructible");

public:
    /// A variable with no default: get() throws LookupError until it is set.
    explicit ContextVar(std::string name) : ContextVar(Init{}, std::move(name), std::nullopt) {}
    /// A variable whose get() returns `default_value` where it was never set.
    ContextVar(std::string name, T default_value) : ContextVar(Init{}, std::move(name), std::optional<T>(std::move(default_value))) {}

    const std::string& name() const noexcept { return state_->name; }

    /// The value in the current context, else the variable's default; throws LookupError if
    /// there is neither.
    T get() const {
        if (const detail::Value* v = lookup()) return static_cast<const detail::TypedValue<T>*>(v)->value;
        if (state_->default_value) return *state_->default_value;
        throw LookupError(describe());
    }
    /// The value in the current context, else `default_value` (the variable's own default is
    /// not consulted: Python's var.get(default)).
    T get(T default_value) const {
        if (const detail::Value* v = lookup()) return static_cast<const detail::TypedValue<T>*>(v)->value;
        return default_value;
    }
    /// Sets the value in the current context; the Token restores the previous one (reset()).
    Token<T> set(T value) const {
        detail::ContextState& ctx = detail::current_for_write();
        auto box = ::nogil::detail::Ref<detail::Value>::adopt(new detail::TypedValue<T>(std::move(value)));
        ::nogil::detail::Ref<detail::Value> old(const_cast<detail::Value*>(ctx.vars.find(id_)));
        ctx.replace(ctx.vars.set(id_, *box));
        return Token<T>(*this, ::nogil::detail::Ref<detail::ContextState>(&ctx), std::move(old));
    }
    /// Restores the value the variable had before the set() that returned `token` (unset, if it
    /// had none). Throws std::runtime_error if the token was already used, std::invalid_argument
    /// if it was created by another variable or in another context (Python's RuntimeError and
    /// ValueError, with Python's messages).
    void reset(const Token<T>& token) const;

    /// "<ContextVar name='x'>" (Python's repr, without the address).
    std::string describe() const { return "<ContextVar name='" + state_->name + "'>"; }
    /// The variable's identity in a context's map. Machinery.
    std::uint64_t id() const noexcept { return id_; }
    friend bool operator==(const ContextVar& a, const ContextVar& b) noexcept { return a.id_ == b.id_; }

private:
    struct State {
        std::string name;
        std::optional<T> default_value;
    };
    struct Init {};
    ContextVar(Init, std::string name, std::optional<T> default_value)
        : id_(detail::new_var_id()), state_(std::make_shared<const State>(State{std::move(name), std::move(default_value)})) {}
    const detail::Value* lookup() const noexcept {
        const detail::ContextState* ctx = detail::current();
        return ctx ? ctx->vars.find(id_) : nullptr;
    }

    std::uint64_t id_;
    std::shared_ptr<const State> state_;
};

/// What ContextVar::set() returns: the variable, the context and the previous value
/// (Python's contextvars.Token). A shared handle: copies are one token (used once in all).
template <class T>
class Token {
public:
    /// The variable that made this token.
    const ContextVar<T>& var() const noexcept { return state_->var; }
    /// The value the variable had before set(), or nullopt if it had none (Python's
    /// Token.MISSING).
    std::optional<T> old_value() const {
        if (!state_->old) return std::nullopt;
        return static_cast<const detail::TypedValue<T>*>(state_->old.get())->value;
    }
    /// True once reset() accepted it.
    bool used() const noexcept { return state_->used.load(std::memory_order_acquire); }
    /// "<Token var=<ContextVar name='x'>>", with " used" once used (Python's repr).
    std::string describe() const {
        return std::string("<Token") + (used() ? " used" : "") + " var=" + state_->var.describe() + ">";
    }

private:
    friend class ContextVar<T>;
    struct State {
        ContextVar<T> var;
        ::nogil::detail::Ref<detail::ContextState> ctx;
        ::nogil::detail::Ref<detail::Value> old;
        std::atomic<bool> used{false};
    };
    Token(const ContextVar<T>& var, ::nogil::detail::Ref<detail::ContextState> ctx, ::nogil::detail::Ref<detail::Value> old)
        : state_(std::make_shared<State>(var, std::move(ctx), std::move(old))) {}
    std::shared_ptr<State> state_;
};

template <class T>
void ContextVar<T>::reset(const Token<T>& token) const {
    auto& s = *token.state_;
    if (s.used.load(std::memory_order_acquire)) throw std::runtime_error(token.describe() + " has already been used once");
    if (s.var.id_ != id_) throw std::invalid_argument(token.describe() + " was created by a different ContextVar");
    if (detail::current() != s.ctx.get()) throw std::invalid_argument(token.describe() + " was created in a different Context");
    s.used.store(true, std::memory_order_release);
    detail::ContextState& ctx = *s.ctx;
    ctx.replace(s.old ? ctx.vars.set(id_, *s.old) : ctx.vars.erase(id_));
}

}  // namespace nogil::contextvars
