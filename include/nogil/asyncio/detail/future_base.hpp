#pragma once
// The untyped state shared by asyncio::Future<T>, asyncio::Task<T> and the composite futures
// (gather): Python's Future without the result value. Loop thread only, except add_ref/release.
//
// Done callbacks are never run inline: when the future completes each one is queued on the
// loop (Python's call_soon), in registration order. An internal callback is a DoneLink (a
// function pointer and a context pointer) owned by whoever registers it, which keeps it alive
// while registered: the future stores only a pointer to it (no allocation for the first one);
// user callbacks are std::functions.
//
// "exception was never retrieved" (Python's __log_traceback): a future that finished with an
// exception (not a cancellation) and is destroyed - its last reference released - before
// anything looked at the exception (result(), exception(), an await, gather, TaskGroup, wait,
// shield: every reader goes through check_result(), exception() or stored_exception(); and
// cancel(), which clears the mark first even on a done future, as Python's cancel() does) is
// reported once through its loop's exception handler, with the message "Task exception was
// never retrieved" or "Future exception was never retrieved", the exception and describe().
// If the loop is closed by then, the report goes to stderr.

#include <nogil/asyncio/detail/frame_allocator.hpp>
#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/contextvars/detail/context_state.hpp>
#include <nogil/errors.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nogil::asyncio::detail {

class FutureBase;
struct DebugLayout;

/// An internal done callback: fn(ctx, fut). Registered by address (FutureBase::add_callback):
/// the registrant owns it and keeps it alive and unchanged until it has been queued (the
/// future then copies fn and ctx into the ready queue) or removed. One DoneLink may be
/// registered on many futures at once (gather's children all share their parent's).
struct DoneLink {
    void (*fn)(void* ctx, FutureBase& fut);
    void* ctx;
};

class FutureBase : public FrameAllocated {
public:
    enum class State : std::uint8_t { pending, cancelled, finished };

    explicit FutureBase(LoopCore& loop) noexcept : loop_(&loop) { loop.add_ref(); }
    FutureBase(const FutureBase&) = delete;
    FutureBase& operator=(const FutureBase&) = delete;
    virtual ~FutureBase();

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Drops a reference; the last one reports a never retrieved exception, then destroys.
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        if (derived_flags_ & unretrieved_flag) report_unretrieved();
        destroy_self();
    }

    LoopCore& loop() const noexcept { return *loop_; }
    State state() const noexcept { return state_; }
    bool done() const noexcept { return state_ != State::pending; }
    bool cancelled() const noexcept { return state_ == State::cancelled; }

    /// Python's cancel(msg): false if already done; else cancelled, callbacks queued, true.
    /// Tasks and composite futures override it (a task forwards to what it awaits).
    virtual bool cancel(std::string msg);
    /// A short description for messages and debug output, e.g. "<Task pending name='Task-1'>".
    virtual std::string describe() const;

    /// Completes with an exception. Throws InvalidStateError if done.
    void set_exception(std::exception_ptr e);
    /// Python's exception(): null on success; throws CancelledError if cancelled,
    /// InvalidStateError("Exception is not set.") if pending.
    std::exception_ptr exception() const;
    /// Throws what result() would throw: InvalidStateError("Result is not set.") if pending,
    /// CancelledError(msg) if cancelled, the stored exception if failed. Returns on success.
    void check_result() const;
    /// The stored exception, or null (no checks). Counts as retrieving it (Python's
    /// exception()): a reader of the outcome calls this, so it is never reported.
    const std::exception_ptr& stored_exception() const noexcept {
        derived_flags_ &= static_cast<std::uint8_t>(~unretrieved_flag);
        return peek_exception();
    }
    /// The stored exception, or null, without marking it retrieved (descriptions, debugging).
    const std::exception_ptr& peek_exception() const noexcept {
        static const std::exception_ptr none;
        const Extras* x = extras_if_any();
        return x ? x->exception : none;
    }
    /// The message of the last cancel(msg) (empty if none).
    const std::string& cancel_message() const noexcept;
    void set_cancel_message(std::string msg);
    CancelledError make_cancelled_error() const { return CancelledError(cancel_message()); }
    /// What a reader of this cancelled future sees: the CancelledError its task's coroutine
    /// raised (the same object, type and message: Python's _cancelled_exc), else a new
    /// CancelledError(cancel message).
    std::exception_ptr cancelled_error() const;

    /// A scratch mark for one synchronous pass over a set of futures (gather's de-duplication);
    /// always clear outside such a pass. Loop thread only.
    bool marked() const noexcept { return derived_flags_ & scratch_mark; }
    void set_mark(bool on) noexcept {
        derived_flags_ = static_cast<std::uint8_t>(on ? derived_flags_ | scratch_mark : derived_flags_ & ~scratch_mark);
    }

    /// Internal done callback; queued at once if already done. `link` must stay alive until it
    /// has been queued or removed.
    void add_callback(const DoneLink& link);
    /// Removes one registration of `link` that has not been queued yet; false if none.
    bool remove_callback(const DoneLink& link) noexcept;
    /// User done callback (Python's add_done_callback); returns an id for remove_done_callback.
    std::uint64_t add_done_callback(std::function<void(FutureBase&)> fn);
    /// Removes the callback with this id if not yet queued; returns how many were removed (0/1).
    std::size_t remove_done_callback(std::uint64_t id) noexcept;
    /// Forgets every callback not yet queued, destroying the user ones now. Only for a future of
    /// a closed loop (close step 4), whose callbacks can never run.
    void drop_callbacks() noexcept;

protected:
    /// Destroys the object once the last reference is gone. A task's state lives in front of
    /// its coroutine frame and frees that whole block instead.
    virtual void destroy_self() noexcept { delete this; }
    /// Derived classes store their value, then call this. Throws InvalidStateError if done.
    void finish();
    /// Marks cancelled with `msg` and queues callbacks; false if already done.
    bool cancel_future(std::string msg);
    /// Same, keeping `raised` (the CancelledError the coroutine ended with) for readers.
    bool cancel_future(std::string msg, std::exception_ptr raised);
    void throw_if_done(const char* what) const;

    /// What only some futures need, allocated on first use (keeps a pending task small).
    struct Entry {
        const DoneLink* link;  // internal callback, or null for a user one
        std::function<void(FutureBase&)> user;
        std::uint64_t id;
    };
    struct Extras {
        std::exception_ptr exception;
        std::exception_ptr cancelled_exception;  // the CancelledError a task's coroutine raised
        std::string cancel_message;
        std::string task_name;
        std::vector<Entry> callbacks;
        std::uint64_t next_id = 1;
        std::uint32_t num_cancels = 0;  // a task's cancelling()
        Ref<contextvars::detail::ContextState> context;  // a task's context (null: empty, not built)
    };
    /// The extras, allocated on first use (a single registered DoneLink moves into its list).
    Extras& extras();
    const Extras* extras_if_any() const noexcept {
        return (slot_ & extras_tag) ? reinterpret_cast<const Extras*>(slot_ & ~extras_tag) : nullptr;
    }
    Extras* extras_if_any() noexcept {
        return (slot_ & extras_tag) ? reinterpret_cast<Extras*>(slot_ & ~extras_tag) : nullptr;
    }
    /// Spare bits for derived classes (TaskBase keeps its flags here, in FutureBase's padding);
    /// bit 7 is the scratch mark, bit 6 "finished with an exception nobody retrieved yet".
    ///
    /// The state of an asyncio future or task, every bit in one place. All of it is plain data
    /// read and written on the loop's thread only (refs_ is the one atomic: add_ref/release may
    /// come from any thread).
    ///   state_            PENDING → FINISHED (finish(), set_exception()) or PENDING → CANCELLED
    ///                     (cancel_future()). Both are final: once done, never pending again;
    ///                     finish()/set_exception() then throw InvalidStateError, cancel() is false.
    ///   derived_flags_
    ///     bit 0 must_cancel  (TaskBase) a cancel() no waiter took (cancel protocol step 3 in
    ///                        src/asyncio/detail/task_base.cpp). Set by cancel(); cleared by
    ///                        throw_if_cancel_requested(), by uncancel() at count 0, and when the
    ///                        task completes or is cancelled before its first step.
    ///     bit 1 started      (TaskBase) the first step ran. Set once by step(); never unset.
    ///     bit 2 frame_alive  (TaskBase) the root coroutine frame exists. Set by the constructor,
    ///                        cleared once by destroy_frame() (completion, abandon() at loop
    ///                        close, destruction); never set again.
    ///     bit 3 offering_cancel (TaskBase) cancel() is offering a request to the task's waiter.
    ///     bit 4 cancel_came_back (TaskBase) ... and the request came back to this task (an
    ///                        await cycle); both cleared when the offer returns.
    ///     bit 5              free.
    ///     bit 6 unretrieved  set by set_exception(); cleared by every reader of the exception
    ///                        (stored_exception()) and by cancel(); release() of the last
    ///                        reference reports the exception if still set.
    ///     bit 7 scratch_mark one synchronous pass only (gather's de-duplication); clear outside it.
    ///   slot_             the callbacks/extras word (see below); callbacks are queued on the loop
    ///                     (call_soon), never run inline, and the slot's list is emptied when done.
    /// Pinned by tests/asyncio_future_test.cpp and tests/asyncio_task_test.cpp (the cancellation
    /// tests name their protocol step).
    static constexpr std::uint8_t scratch_mark = 0x80;
    static constexpr std::uint8_t unretrieved_flag = 0x40;

private:
    friend struct DebugLayout;  // the call graph and `nogil ps` read the callbacks (introspection.hpp)
    void schedule_callbacks();
    void report_unretrieved() noexcept;

    static constexpr std::uintptr_t extras_tag = 1;
    const DoneLink* single_link() const noexcept {
        return (slot_ & extras_tag) ? nullptr : reinterpret_cast<const DoneLink*>(slot_);
    }

    // Layout: 32 bytes with the vtable pointer; every pending task carries these.
    std::atomic<std::uint32_t> refs_{1};
    State state_ = State::pending;

protected:
    mutable std::uint8_t derived_flags_ = 0;  // mutable: reading the exception clears a bit
    /// Two spare bytes for derived classes (TaskBase: the frame's position).
    std::uint16_t derived_small_ = 0;

private:
    LoopCore* loop_;  // one reference held
    // One word for the callbacks and the extras (both 8-byte aligned):
    //   0                  no callback, no extras;
    //   DoneLink*          the one internal callback (the common case: one awaiter, or a
    //                      gather parent), no extras;
    //   Extras* | 1        the extras (owned), which then hold every callback.
    std::uintptr_t slot_ = 0;
};

}  // namespace nogil::asyncio::detail
