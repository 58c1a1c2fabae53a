#pragma once
// The FIFO waiter queue behind every asyncio synchronization primitive (Lock, Event, Condition,
// Semaphore, Barrier, Queue): written once, following THE WAITER PROTOCOL of
// task_base.hpp.
//
// A WaitNode is embedded in an awaiter, so it lives in the suspended coroutine's frame; the
// queue links nodes intrusively (no allocation). A node is in one of two lists:
//   waiting  suspended, not yet chosen: cancel() unlinks it and wakes its task at once;
//   woken    chosen by the primitive (wake_one / wake_all) and its task's step queued, but the
//            task has not run yet. This is Python's "future done, still in _waiters".
// A wake-up often carries a grant (the lock, a semaphore unit, a queue item or slot). If the
// woken task is cancelled before it runs, or its frame is destroyed before it runs, the grant
// must not be lost: the queue's pass-on hook is called, and the primitive hands the grant to
// the next waiter (or takes it back). That is how "a cancelled waiter leaves no trace" is
// implemented for every primitive, in one place.
//
// Ordering: wake_one() takes the oldest waiting node; woken tasks are resumed by the loop in
// the order they were woken, one loop turn later (task->wake(): like a future's callback).
//
// Lifetime: a queue destroyed while nodes are linked detaches them (they never touch it
// again); a node destroyed while linked (frame destroyed at loop close) unlinks itself and, if
// it was woken, passes its grant on. Loop thread only, like everything in asyncio.

#include <nogil/asyncio/detail/task_base.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>

namespace nogil::asyncio::detail {

class WaitQueue;

class WaitNode : public Waiter {
public:
    WaitNode(const WaitNode&) = delete;
    WaitNode& operator=(const WaitNode&) = delete;

    /// Step 2 of the protocol: a waiting node leaves the queue and wakes its task with
    /// CancelledError; a woken one cannot take the cancel (the task will see it pending).
    bool cancel(const std::string&) override;

    /// What the primitive said when it woke this node (0 unless the primitive uses reasons).
    std::uint8_t reason() const noexcept { return reason_; }

protected:
    WaitNode() noexcept = default;
    /// Moving is allowed before the co_await suspends (e.g. an awaitable moved into a task).
    WaitNode(WaitNode&&) noexcept {}
    ~WaitNode() {
        if (status_ != Status::idle) abandon();  // the fast path (never suspended) stops here
    }

    /// Step 1: suspends the current task at the back of `queue`. `what` names the awaitable in
    /// the error thrown when no task runs.
    void suspend_in(WaitQueue& queue, std::coroutine_handle<> h, const char* what);
    /// True once await_suspend ran (await_resume then follows a real suspension).
    bool suspended() const noexcept { return status_ != Status::idle; }
    /// Step 3, first thing in await_resume after a suspension: returns if the node was woken by
    /// its primitive and no cancel is pending. Otherwise throws CancelledError, after passing a
    /// grant it received on (the queue's hook) so that nothing is lost.
    void resume_or_throw();
    TaskBase* task() const noexcept { return task_; }

private:
    friend class WaitQueue;
    enum class Status : std::uint8_t { idle, waiting, woken, cancelled, resumed };
    bool linked() const noexcept { return (status_ == Status::waiting || status_ == Status::woken) && queue_; }
    void unlink() noexcept;
    void abandon() noexcept;

    // Only status_ is set before await_suspend: an awaiter that completes without suspending
    // (the fast path of every primitive) costs one byte store here.
    Status status_ = Status::idle;
    std::uint8_t reason_ = 0;
    TaskBase* task_;
    WaitQueue* queue_;  // valid while waiting or woken; null once detached
    WaitNode* prev_;
    WaitNode* next_;
};

class WaitQueue {
public:
    /// Called with the owner when a woken node will not use its wake-up (cancelled or destroyed
    /// before it ran): the owner passes the grant on. Must not throw.
    using PassOn = void (*)(void* owner, WaitNode& node) noexcept;

    explicit WaitQueue(PassOn pass_on = nullptr, void* owner = nullptr) noexcept : pass_on_(pass_on), owner_(owner) {}
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;
    ~WaitQueue();

    /// No node is waiting (woken ones do not count).
    bool empty() const noexcept { return waiting_.head == nullptr; }
    /// Nodes waiting.
    std::size_t size() const noexcept { return waiting_.count; }
    /// Nodes woken whose task has not run yet.
    std::size_t woken() const noexcept { return woken_.count; }

    /// Wakes the oldest waiting node with `reason`; false if none waits.
    bool wake_one(std::uint8_t reason = 0) noexcept {
        WaitNode* n = waiting_.head;
        if (!n) return false;
        waiting_.remove(n);
        woken_.push_back(n);
        n->status_ = WaitNode::Status::woken;
        n->reason_ = reason;
        n->task_->wake();
        return true;
    }
    /// Wakes up to `n` waiting nodes, oldest first; returns how many.
    std::size_t wake(std::size_t n, std::uint8_t reason = 0) noexcept {
        std::size_t k = 0;
        while (k < n && wake_one(reason)) ++k;
        return k;
    }
    /// Wakes every waiting node.
    std::size_t wake_all(std::uint8_t reason = 0) noexcept { return wake(static_cast<std::size_t>(-1), reason); }

private:
    friend class WaitNode;
    struct List {
        WaitNode* head = nullptr;
        WaitNode* tail = nullptr;
        std::size_t count = 0;
        void push_back(WaitNode* n) noexcept {
            n->prev_ = tail;
            n->next_ = nullptr;
            (tail ? tail->next_ : head) = n;
            tail = n;
            ++count;
        }
        void remove(WaitNode* n) noexcept {
            (n->prev_ ? n->prev_->next_ : head) = n->next_;
            (n->next_ ? n->next_->prev_ : tail) = n->prev_;
            n->prev_ = n->next_ = nullptr;
            --count;
        }
    };
    void detach(List& list) noexcept;

    List waiting_;
    List woken_;
    PassOn pass_on_;
    void* owner_;
};

// ------------------------------------------------------------------------- inline definitions

inline void WaitNode::unlink() noexcept {
    if (!linked()) return;
    if (status_ == Status::waiting)
        queue_->waiting_.remove(this);
    else if (status_ == Status::woken)
        queue_->woken_.remove(this);
    queue_ = nullptr;
}

inline void WaitNode::suspend_in(WaitQueue& queue, std::coroutine_handle<> h, const char* what) {
    task_ = &TaskBase::current_or_throw(what);
    queue_ = &queue;
    status_ = Status::waiting;
    queue.waiting_.push_back(this);
    task_->suspend(this, h);
}

inline bool WaitNode::cancel(const std::string&) {
    if (status_ != Status::waiting) return false;
    unlink();
    status_ = Status::cancelled;
    task_->wake();
    return true;
}

inline void WaitNode::resume_or_throw() {
    const bool woken = status_ == Status::woken;
    WaitQueue* queue = linked() ? queue_ : nullptr;
    unlink();
    status_ = Status::resumed;
    try {
        task_->throw_if_cancel_requested();
    } catch (...) {
        if (woken && queue && queue->pass_on_) queue->pass_on_(queue->owner_, *this);
        throw;
    }
    if (!woken) throw task_->make_cancelled_error();
}

inline void WaitNode::abandon() noexcept {
    if (status_ == Status::woken && queue_ && queue_->pass_on_) {  // woken, never resumed
        WaitQueue* queue = queue_;
        unlink();
        queue->pass_on_(queue->owner_, *this);
    }
    unlink();
}

inline void WaitQueue::detach(List& list) noexcept {
    for (WaitNode* n = list.head; n; n = n->next_) n->queue_ = nullptr;
    list = List{};
}

inline WaitQueue::~WaitQueue() {
    detach(waiting_);
    detach(woken_);
}

/// The plainest awaiter on a WaitQueue: suspends until woken; CancelledError if cancelled.
/// Used by primitives whose waiters take no grant (Event-like waits, Barrier, Condition).
class QueueWait final : public WaitNode {
public:
    QueueWait(WaitQueue& queue, const char* what) noexcept : queue_(&queue), what_(what) {}
    QueueWait(QueueWait&& o) noexcept : WaitNode(std::move(o)), queue_(o.queue_), what_(o.what_) {}
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h) { suspend_in(*queue_, h, what_); }
    void await_resume() { resume_or_throw(); }

private:
    WaitQueue* queue_;
    const char* what_;
};

}  // namespace nogil::asyncio::detail
