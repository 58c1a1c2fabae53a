// Contexts and the per-thread current context. The entering protocol is written at the top of
// include/nogil/contextvars/detail/context_state.hpp.
#include <nogil/contextvars/context.hpp>
#include <nogil/contextvars/context_var.hpp>

#include <stdexcept>

namespace nogil::contextvars {

namespace detail {

namespace {

/// The thread's base context, built by the first set() outside any frame; the thread keeps it
/// (entered) until it exits.
struct BaseContext {
    ContextState* ctx = nullptr;
    ~BaseContext() {
        if (!ctx) return;
        if (thread_state.current == ctx) thread_state.current = nullptr;
        ctx->entered.store(false, std::memory_order_release);
        ctx->release();
    }
};
thread_local BaseContext base_context;

std::atomic<std::uint64_t> var_ids{0};

}  // namespace

std::uint64_t new_var_id() noexcept { return var_ids.fetch_add(1, std::memory_order_relaxed) + 1; }

void throw_already_entered() { throw std::runtime_error("cannot enter context: <Context> is already entered"); }

ContextState& current_for_write() {
    ThreadState& t = thread_state;
    if (t.current) return *t.current;
    auto* ctx = new ContextState;  // step 2: the empty context is built now, entered
    ctx->entered.store(true, std::memory_order_relaxed);
    if (Frame* f = t.top) {
        f->ctx = ctx;  // the frame's reference
        if (f->adopt) f->adopt(f->owner, ctx);
    } else {
        base_context.ctx = ctx;
    }
    t.current = ctx;
    return *ctx;
}

ContextState* copy_of(const ContextState& c) {
    auto* copy = new ContextState;
    copy->vars = c.vars;  // `c` is this thread's current context: this thread is its only writer
    return copy;
}

}  // namespace detail

Context Context::copy() const {
    auto* s = new detail::ContextState;
    s->vars = state_->snapshot();
    return Context(::nogil::detail::Ref<detail::ContextState>::adopt(s));
}

bool operator==(const Context& a, const Context& b) {
    if (a.is(b)) return true;
    return a.state_->snapshot() == b.state_->snapshot();
}

Context copy_context() {
    auto* s = new detail::ContextState;
    if (const detail::ContextState* c = detail::current()) s->vars = c->vars;
    return Context(::nogil::detail::Ref<detail::ContextState>::adopt(s));
}

}  // namespace nogil::contextvars
