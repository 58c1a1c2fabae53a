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
        if (current == ctx) current = nullptr;
        ctx->entered.store(false, std::memory_order_release);
        ctx->release();
    }
};
thread_local BaseContext base_context;

std::atomic<std::uint64_t> var_ids{0};

}  // namespace

std::uint64_t new_var_id() noexcept { return var_ids.fetch_add(1, std::memory_order_relaxed) + 1; }

void push(Frame& frame, ContextState* ctx, AdoptFn adopt, void* owner) {
    if (ctx) {
        // Step 1. acq_rel: this thread sees what the last thread inside the context wrote.
        if (ctx->entered.exchange(true, std::memory_order_acq_rel))
            throw std::runtime_error("cannot enter context: <Context> is already entered");
        ctx->add_ref();
    }
    frame = Frame{ctx, adopt, owner, top, current};
    top = &frame;
    current = ctx;  // step 2
}

void pop(Frame& frame) noexcept {
    top = frame.outer;  // step 3
    current = frame.outer_current;
    if (frame.ctx) {
        frame.ctx->entered.store(false, std::memory_order_release);
        frame.ctx->release();
    }
}

ContextState& current_for_write() {
    if (current) return *current;
    auto* ctx = new ContextState;  // step 2: the empty context is built now, entered
    ctx->entered.store(true, std::memory_order_relaxed);
    if (Frame* f = top) {
        f->ctx = ctx;  // the frame's reference
        if (f->adopt) f->adopt(f->owner, ctx);
    } else {
        base_context.ctx = ctx;
    }
    current = ctx;
    return *ctx;
}

ContextState* copy_current_or_null() {
    const ContextState* c = current;
    if (!c || c->vars.empty()) return nullptr;
    auto* copy = new ContextState;
    copy->vars = c->vars;  // this thread is the only writer of its current context
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
    if (const detail::ContextState* c = detail::current) s->vars = c->vars;
    return Context(::nogil::detail::Ref<detail::ContextState>::adopt(s));
}

}  // namespace nogil::contextvars
