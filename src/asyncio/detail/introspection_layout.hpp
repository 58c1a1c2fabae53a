#pragma once
// DebugLayout: the one friend of the classes the call graph and `nogil ps` read (FutureBase,
// TaskBase, FutureWaiter, TaskGroup, LoopCore). It reads; it never changes anything.

#include <nogil/asyncio/detail/debug_offsets.hpp>
#include <nogil/asyncio/detail/future_base.hpp>
#include <nogil/asyncio/detail/introspection.hpp>
#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

namespace nogil::asyncio::detail {

struct DebugLayout {
    /// Rule 1 and rule 2 of introspection.hpp: FutureWaiter's and TaskGroup's callbacks.
    static LinkKind waiter_kind;
    static LinkKind group_kind;
    /// The exported record (debug_offsets.hpp).
    static DebugOffsets record() noexcept;

    /// fn(link) for each internal done callback registered on `f` (user callbacks skipped).
    template <class Fn>
    static void for_each_link(const FutureBase& f, Fn&& fn) {
        if (const FutureBase::Extras* x = f.extras_if_any()) {
            for (const auto& e : x->callbacks)
                if (e.link) fn(*e.link);
        } else if (const DoneLink* one = f.single_link()) {
            fn(*one);
        }
    }
    /// The registry of loops (introspection.cpp holds the head and its mutex).
    static void link_loop(LoopCore& loop, LoopCore*& head) noexcept {
        loop.debug_next_ = head;
        if (head) head->debug_prev_ = &loop;
        head = &loop;
    }
    static void unlink_loop(LoopCore& loop, LoopCore*& head) noexcept {
        if (loop.debug_prev_)
            loop.debug_prev_->debug_next_ = loop.debug_next_;
        else
            head = loop.debug_next_;
        if (loop.debug_next_) loop.debug_next_->debug_prev_ = loop.debug_prev_;
        loop.debug_prev_ = loop.debug_next_ = nullptr;
    }
    /// The root frame's promise, or null once the frame is gone.
    static const PromiseBase* root_promise(const TaskBase& t) noexcept {
        return t.frame_alive() ? &t.root_promise() : nullptr;
    }
};

}  // namespace nogil::asyncio::detail
