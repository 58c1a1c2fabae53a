#pragma once
// A Context's state and the per-thread "current context" (nogil::contextvars::detail).
//
// Each thread has a current context: the one a Context::run() (or an asyncio task step, or a
// loop callback) entered, else the thread's own base context. The hot path, ContextVar::get(),
// reads one thread_local pointer (`current`) and walks the context's map; null means "empty".
//
// Entering, step by step (Frame, pushed by Context::run, a task's step and a loop callback):
//   1. a context already entered by any thread is refused: RuntimeError "cannot enter context:
//      <Context> is already entered" (the `entered` flag, exchanged with acquire/release, also
//      orders one thread's writes before the next thread that enters it);
//   2. `current` becomes the frame's context; null means an empty context not built yet
//      (a task or callback whose creator had no variables set): the first ContextVar::set()
//      builds it, entered, and hands it to the frame's owner (a task keeps it for its later
//      steps; a callback's is dropped with the frame);
//   3. leaving restores the outer frame's context and clears `entered`.
// Tests (tests/contextvars_context_test.cpp): step 1 ContextvarsContext.RunRefusesAContextEntered*;
// 2 ContextvarsContext.ASetInAnEmptyFrameBuildsItsContext; 3 ContextvarsContext.RunRestores*.

#include <nogil/contextvars/detail/hamt.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace nogil::contextvars::detail {

/// What a Context handle points to (Python's PyContext).
///
/// The fields by what guards them:
///   refs, entered: atomics, any thread.
///   vars: written only by the thread that has the context entered (ContextVar::set/reset);
///     that thread reads it without a lock (the hot path); other threads read it through the
///     Context's mapping methods under `lock` (the writer also replaces it under `lock`).
struct ContextState {
    std::atomic<std::uint32_t> refs{1};
    std::atomic<bool> entered{false};
    std::mutex lock;
    Map vars;

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    /// A copy of the map, safe from any thread.
    Map snapshot() {
        std::lock_guard guard(lock);
        return vars;
    }
    /// The entering thread replaces the map.
    void replace(Map m) noexcept {
        std::lock_guard guard(lock);
        vars.swap_with(m);
    }
};

/// Where a context built by step 2 goes: fn(owner, ctx) takes its own reference.
using AdoptFn = void (*)(void* owner, ContextState* ctx) noexcept;

/// One entered context on a thread's stack of frames.
struct Frame {
    ContextState* ctx;  // one reference held while the frame lives; null: empty, not built
    AdoptFn adopt;
    void* owner;
    Frame* outer;
    ContextState* outer_current;
};

/// A thread's context state, in one thread_local (one address computation per use: the library
/// is position-independent, where each thread_local access may cost a call).
struct ThreadState {
    ContextState* current = nullptr;  // the current context (null: empty). ContextVar::get() reads it
    Frame* top = nullptr;             // the innermost frame, or null: the thread's base context
};
inline thread_local ThreadState thread_state;

/// The current context of this thread (null: empty).
inline ContextState* current() noexcept { return thread_state.current; }

/// Step 1: throws std::runtime_error("cannot enter context: ... is already entered").
[[noreturn]] void throw_already_entered();

/// Step 1 and 2: enters `ctx` (null: an empty context built on first set, handed to `adopt`).
/// Throws std::runtime_error if `ctx` is already entered. Inline: every task step pays it.
inline void push(Frame& frame, ContextState* ctx, AdoptFn adopt = nullptr, void* owner = nullptr) {
    if (ctx) {
        // acq_rel: this thread sees what the last thread inside the context wrote.
        if (ctx->entered.exchange(true, std::memory_order_acq_rel)) throw_already_entered();
        ctx->add_ref();
    }
    ThreadState& t = thread_state;
    frame = Frame{ctx, adopt, owner, t.top, t.current};
    t.top = &frame;
    t.current = ctx;
}
/// Step 3.
inline void pop(Frame& frame) noexcept {
    ThreadState& t = thread_state;
    t.top = frame.outer;
    t.current = frame.outer_current;
    if (frame.ctx) {
        frame.ctx->entered.store(false, std::memory_order_release);
        frame.ctx->release();
    }
}

/// RAII: enters a context for a scope (a task step, a callback).
class Entered {
public:
    explicit Entered(ContextState* ctx, AdoptFn adopt = nullptr, void* owner = nullptr) { push(frame_, ctx, adopt, owner); }
    ~Entered() { pop(frame_); }
    Entered(const Entered&) = delete;
    Entered& operator=(const Entered&) = delete;

private:
    Frame frame_;
};

/// The current context, built (and entered) if it is still empty: what set() writes to.
ContextState& current_for_write();

/// A new context holding `c`'s variables.
ContextState* copy_of(const ContextState& c);
/// A new context holding the current one's variables (Python's copy_context()), or null if the
/// current context is empty (a task or a callback then builds its own on first set).
inline ContextState* copy_current_or_null() {
    const ContextState* c = current();
    return c && !c->vars.empty() ? copy_of(*c) : nullptr;
}

}  // namespace nogil::contextvars::detail
