#pragma once
// The shared state behind concurrent::futures::Future<T>: one heap object per future, intrusively
// reference-counted, holding the status, the result or exception, and the callbacks. An executor's
// work item is the same object (TaskState derives from FutureState), so submit allocates once.
//
// Thread-safety: every member may be called from any thread. The status word is the only thing
// read without the state's lock; it is written with release order after the value is in place, so
// a reader that sees FINISHED (acquire) sees the value.

#include <nogil/detail/futex.hpp>
#include <nogil/detail/recycling_allocator.hpp>
#include <nogil/errors.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace nogil::concurrent::futures::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::RecyclingAllocator;


enum class FutureStatus : std::uint32_t { pending = 0, running = 1, cancelled = 2, finished = 3 };

std::string_view to_string(FutureStatus status) noexcept;

class FutureStateBase;

/// A link in a future's list of things to tell on completion. Two kinds share the shape:
/// user callbacks (run outside the state's lock, in the completing thread) and internal waiters
/// (wait(), as_completed(): run under the state's lock, must be short and must not throw).
struct CompletionNode {
    CompletionNode* next = nullptr;
    virtual void on_complete(FutureStateBase& state) noexcept = 0;
    virtual ~CompletionNode() = default;
};

class FutureStateBase {
public:
    FutureStateBase() = default;
    FutureStateBase(const FutureStateBase&) = delete;
    FutureStateBase& operator=(const FutureStateBase&) = delete;
    virtual ~FutureStateBase();

    // States are made and dropped at submit rate: recycle their memory per thread.
    static void* operator new(std::size_t size) { return RecyclingAllocator::allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { RecyclingAllocator::deallocate(p, size); }

    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// retain() for a state no other thread can see yet (just made, not yet published): a plain
    /// add, no atomic read-modify-write.
    void retain_unpublished() noexcept { refs_.store(refs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    FutureStatus status() const noexcept {
        return static_cast<FutureStatus>(word_.load(std::memory_order_acquire) & status_mask);
    }
    bool done() const noexcept {
        auto s = status();
        return s == FutureStatus::cancelled || s == FutureStatus::finished;
    }

    /// Finished with an exception (Python's `not f.cancelled() and f.exception() is not None`).
    /// Reads the exception only after seeing FINISHED, which published it.
    bool failed() const noexcept { return status() == FutureStatus::finished && exception_ != nullptr; }

    /// Python's Future.cancel(): true if the future is (now) cancelled; false once running or finished.
    bool cancel() noexcept;

    /// Python's set_running_or_notify_cancel(): pending → running (true); cancelled → false.
    /// Throws InvalidStateError if the future is already running or finished.
    bool set_running_or_notify_cancel();

    void set_exception(std::exception_ptr exception);

    /// Blocks until done, or until the deadline (returns false then).
    bool wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept;

    /// Called by wait_until() on a future not yet done, before it spins and sleeps: a future whose
    /// result must be fetched by someone (a process pool's, from its workers' shared rings) has the
    /// waiting thread fetch results itself for a while, rather than wait for a thread that sleeps
    /// to be woken to do it. Returns true if it spent its spin already (wait_until then goes to
    /// sleep at once), false if it did nothing. Plain futures do nothing.
    virtual bool help_wait(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept {
        (void)deadline;
        return false;
    }

    /// Throws CancelledError / the stored exception / TimeoutError as Python's result() does;
    /// returns normally once a value is available. On a future finished with a value this is one
    /// acquire load (the exception is read only after FINISHED published it).
    void check_result(std::optional<std::chrono::steady_clock::time_point> deadline) const {
        if ((word_.load(std::memory_order_acquire) & status_mask) == static_cast<std::uint32_t>(FutureStatus::finished) &&
            !exception_)
            return;
        check_result_slow(deadline);
    }
    std::exception_ptr get_exception(std::optional<std::chrono::steady_clock::time_point> deadline) const;

    /// Adds a user callback; runs it at once in this thread if already done. Takes ownership.
    void add_callback(CompletionNode* node);
    /// True while user callbacks wait for completion (a snapshot: one may be added right after).
    bool has_callbacks() const noexcept;
    /// Adds an internal waiter unless already done (then returns false and keeps no pointer).
    bool add_waiter(CompletionNode* node) noexcept;
    /// Removes a waiter added before; once this returns, the waiter is not running and will not run.
    void remove_waiter(CompletionNode* node) noexcept;

    /// Told by a work item after its call returned or threw, before the future completes: by
    /// the time anyone sees the result, the executor has done what the hook does.
    struct RunHook {
        virtual void call_returned() noexcept = 0;
    };
    /// An executor's work item: run the callable and complete the future. Plain futures do nothing.
    virtual void run(RunHook* hook = nullptr) noexcept { (void)hook; }

    /// Intrusive link for executors' run queues; owned by whichever queue holds the item.
    FutureStateBase* next_in_queue = nullptr;

protected:
    // Completes the future with `store` run under the lock (it writes the value); throws
    // InvalidStateError when the future was already finished or cancelled.
    template <class Store>
    void finish(Store&& store) {
        lock();
        auto current = static_cast<FutureStatus>(word_.load(std::memory_order_relaxed) & status_mask);
        if (current == FutureStatus::cancelled || current == FutureStatus::finished) {
            unlock();
            throw_invalid_state(current);
        }
        try {
            store();
        } catch (...) {
            unlock();
            throw;
        }
        complete_locked(FutureStatus::finished);
    }

private:
    friend struct ExecutorDebugLayout;  // the offsets `nogil ps` reads (executor_registry.cpp)

    // The state word (word_), every bit in one place:
    //
    //   bits 0-1  status   PENDING(0) → RUNNING(1) → FINISHED(3), or PENDING → CANCELLED(2).
    //                      PENDING → RUNNING: set_running_or_notify_cancel() (the executor's worker),
    //                        one CAS that waits out `locked` and keeps `sleepers`.
    //                      PENDING → CANCELLED: cancel() (any thread), under `locked`.
    //                      PENDING/RUNNING → FINISHED: finish() (set_value/set_exception), under
    //                        `locked`, after the value or exception is stored (release order).
    //                      CANCELLED and FINISHED are final: once set, the status never changes again
    //                      (finish() throws InvalidStateError, cancel() answers false/true unchanged).
    //   bit 2     locked   the spin lock guarding callbacks_, waiters_ and exception_ (and value_
    //                      while FINISHED is being published). Set by lock()/the CAS in lock(),
    //                      cleared by unlock() or by complete_locked()'s exchange. Held for a few
    //                      instructions only; nobody sleeps holding it.
    //   bit 3     sleepers a thread is (about to be) asleep in futex_wait on this word. Set by
    //                      wait_until() (CAS, only while not done); cleared only by completion
    //                      (complete_locked() exchanges the whole word), which then futex-wakes all.
    //                      Never set again once the status is final.
    //
    // Readers: status() / done() / check_result() load the word with acquire and look only at the
    // status bits; a reader that sees FINISHED sees the value and exception_ (published by the
    // release in complete_locked()). Pinned by tests/concurrent_futures_future_test.cpp: Future.
    // CancelWhilePending, CannotCancelRunningOrFinished, SetTwiceIsInvalidState (final states),
    // ResultWaitsForAnotherThread, CancelWakesWaiters (sleepers), StressOneFinalState (races).
    static constexpr std::uint32_t status_mask = 0x3;
    static constexpr std::uint32_t locked_bit = 0x4;
    static constexpr std::uint32_t sleepers_bit = 0x8;

    void lock() noexcept;
    void unlock() noexcept { word_.fetch_and(~locked_bit, std::memory_order_release); }
    // Sets the final status (cancelled or finished), releases the lock, wakes sleepers, tells the
    // waiters (under the lock) and then the callbacks (outside it, in the calling thread).
    void complete_locked(FutureStatus final_status) noexcept;
    [[noreturn]] static void throw_invalid_state(FutureStatus status);
    void check_result_slow(std::optional<std::chrono::steady_clock::time_point> deadline) const;
    static void run_callbacks(CompletionNode* reversed, FutureStateBase& state) noexcept;

    std::atomic<std::uint32_t> refs_{1};
    // status (2 bits) | locked | sleepers: one word so waiting threads can futex on it.
    mutable std::atomic<std::uint32_t> word_{0};
    CompletionNode* callbacks_ = nullptr;  // newest first; guarded by the lock
    CompletionNode* waiters_ = nullptr;    // guarded by the lock
    std::exception_ptr exception_;          // written under the lock before FINISHED is published
};

/// The value slot: T for Future<T>, nothing for Future<void>.
template <class T>
class FutureState : public FutureStateBase {
public:
    template <class... Args>
    void set_value(Args&&... args) {
        finish([&] { value_.emplace(std::forward<Args>(args)...); });
    }
    /// Only valid after check_result() returned normally.
    T& value() noexcept { return *value_; }

private:
    std::optional<T> value_;
};

template <>
class FutureState<void> : public FutureStateBase {
public:
    void set_value() {
        finish([] {});
    }
};

/// Reference-counting pointer to a state (the handle's only member).
template <class State>
class StateRef {
public:
    StateRef() noexcept = default;
    explicit StateRef(State* adopted) noexcept : p_(adopted) {}
    StateRef(const StateRef& other) noexcept : p_(other.p_) {
        if (p_) p_->retain();
    }
    StateRef(StateRef&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    StateRef& operator=(StateRef other) noexcept {
        std::swap(p_, other.p_);
        return *this;
    }
    ~StateRef() {
        if (p_) p_->release();
    }
    State* get() const noexcept { return p_; }
    State* release_ownership() noexcept { return std::exchange(p_, nullptr); }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    State* p_ = nullptr;
};

}  // namespace nogil::concurrent::futures::detail
