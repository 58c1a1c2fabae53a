#pragma once
// Python's asyncio.queues: Queue<T> (FIFO), LifoQueue<T>, PriorityQueue<T, Compare> (smallest
// first, like heapq), with Python 3.13's shutdown().
//
//   asyncio::Queue<std::string> q(100);      // maxsize 0 (the default): unbounded
//   co_await q.put("job");                  // waits while the queue is full
//   std::string job = co_await q.get();     // waits while it is empty
//   q.task_done();  co_await q.join();
//
// Items may be move-only (std::unique_ptr...). put(item) takes the item by value; get() moves
// it out.
//
// Fairness and cancellation. Getters and putters are served in FIFO order. When an item
// arrives and a getter waits, the item is promised to the oldest getter, which is resumed by
// the loop one turn later and takes it then; until then the item is not available to other
// gets (get_nowait() throws QueueEmpty and empty() is true even though qsize() counts it).
// Likewise a slot freed by a get is promised to the oldest waiting putter (full() stays true).
// If a getter or putter is cancelled while waiting, it just leaves. If it is cancelled after
// being promised an item or slot but before it ran, the promise goes to the next waiter (or
// back to the queue): a cancelled get never loses an item, a cancelled put never adds one.
//
// Shutdown (Python 3.13): after shutdown(), put() and put_nowait() throw QueueShutDown; get()
// and get_nowait() keep returning items until the queue is empty, then throw QueueShutDown.
// shutdown(true) also discards the items (counting them as done for join()), so gets throw at
// once. Blocked putters, and getters with nothing to get, are woken with QueueShutDown.
//
// Threading: belongs to the loop's thread, like every asyncio object. For a queue between
// threads use nogil::queue, or loop.call_soon_threadsafe().

#include <nogil/asyncio/locks.hpp>
#include <nogil/asyncio/detail/waitqueue.hpp>
#include <nogil/detail/queue_storage.hpp>
#include <nogil/detail/ring_storage.hpp>
#include <nogil/errors.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace nogil::asyncio::detail {

/// The queue itself, shared by Queue, LifoQueue and PriorityQueue. The item order is the
/// storage policy's (detail/queue_storage.hpp, shared with nogil::queue).
template <class Storage>
class BasicQueue {
    using T = typename Storage::value_type;
    enum Reason : std::uint8_t { granted = 1, shut_down = 2 };

public:
    /// The item type.
    using value_type = T;

    /// The awaitable of put(): co_await stores the item. If it suspends, the task is resumed by
    /// the loop one turn after a get freed a slot for it (or shutdown() woke it).
    class [[nodiscard]] PutAwaiter : public WaitNode {
    public:
        PutAwaiter(BasicQueue& q, T item) : q_(&q), item_(std::move(item)) {}
        PutAwaiter(PutAwaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
            : WaitNode(std::move(o)), q_(o.q_), item_(std::move(o.item_)) {}
        bool await_ready() const noexcept { return q_->shutdown_ || q_->has_free_slot(); }
        template <class P>
        void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
            detail::note_suspension(h, at);
            suspend_task(h);
        }
        void suspend_task(std::coroutine_handle<> h) { suspend_in(q_->putters_, h, "Queue.put()"); }
        [[gnu::always_inline]] void await_resume() {  // the fast path belongs in the caller's loop
            if (!suspended() && !q_->shutdown_)
                q_->store(std::move(item_));  // the fast path
            else
                resume_slow();
        }

    private:
        void resume_slow() {
            if (suspended()) {
                resume_or_throw();
                if (reason() == granted) --q_->promised_slots_;
            }
            if (q_->shutdown_) throw asyncio::QueueShutDown();
            q_->store(std::move(item_));
        }

        BasicQueue* q_;
        T item_;
    };

    /// The awaitable of get(): co_await gives the item. If it suspends, the task is resumed by
    /// the loop one turn after a put promised it an item (or shutdown() woke it).
    class [[nodiscard]] GetAwaiter : public WaitNode {
    public:
        explicit GetAwaiter(BasicQueue& q) noexcept : q_(&q) {}
        GetAwaiter(GetAwaiter&& o) noexcept : WaitNode(std::move(o)), q_(o.q_) {}
        bool await_ready() const noexcept { return q_->has_free_item() || q_->shutdown_; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
            detail::note_suspension(h, at);
            suspend_task(h);
        }
        void suspend_task(std::coroutine_handle<> h) { suspend_in(q_->getters_, h, "Queue.get()"); }
        [[gnu::always_inline]] T await_resume() {
            if (!suspended() && q_->has_free_item()) return q_->take();  // the fast path
            return resume_slow();
        }

    private:
        T resume_slow() {
            if (suspended()) {
                resume_or_throw();
                if (reason() == granted) {
                    --q_->promised_items_;
                    if (q_->count_ != 0) return q_->take();
                    throw asyncio::QueueShutDown();  // shutdown(immediate) discarded it
                }
            }
            if (!q_->has_free_item()) throw asyncio::QueueShutDown();
            return q_->take();
        }

        BasicQueue* q_;
    };

    /// maxsize 0 means unbounded (as Python's maxsize <= 0).
    explicit BasicQueue(std::size_t maxsize = 0) : maxsize_(maxsize) { finished_.set(); }
    BasicQueue(const BasicQueue&) = delete;
    BasicQueue& operator=(const BasicQueue&) = delete;

    /// co_await puts `item`, waiting (FIFO) while the queue is full. Throws QueueShutDown if the
    /// queue is shut down (before or while waiting); CancelledError if cancelled while waiting
    /// (the item is then not in the queue).
    PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }
    /// co_await removes and returns the next item, waiting (FIFO) while there is none.
    /// Throws QueueShutDown once the queue is shut down and empty; CancelledError if cancelled
    /// while waiting (no item is lost).
    GetAwaiter get() noexcept { return GetAwaiter(*this); }
    /// Puts without waiting: QueueFull if there is no free slot, QueueShutDown after shutdown().
    void put_nowait(T item) {
        if (shutdown_) throw asyncio::QueueShutDown();
        if (!has_free_slot()) throw asyncio::QueueFull();
        store(std::move(item));
    }
    /// Gets without waiting: QueueEmpty if no item is available (QueueShutDown if shut down).
    T get_nowait() {
        if (!has_free_item()) {
            if (shutdown_) throw asyncio::QueueShutDown();
            throw asyncio::QueueEmpty();
        }
        return take();
    }

    /// Items in the queue, including those promised to woken getters that have not run yet.
    std::size_t qsize() const noexcept { return count_; }
    /// True if no item is available to a new get (see the header comment).
    bool empty() const noexcept { return !has_free_item(); }
    /// True if no slot is available to a new put (never for an unbounded queue).
    bool full() const noexcept { return !has_free_slot(); }
    /// The bound given at construction (0: unbounded).
    std::size_t maxsize() const noexcept { return maxsize_; }

    /// One item taken earlier is fully processed. Throws std::invalid_argument("task_done()
    /// called too many times") if there is none unfinished.
    void task_done() {
        if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
        if (--unfinished_ == 0) finished_.set();
    }
    /// co_await waits until every item put has been marked done with task_done() (returns at
    /// once if so; the waiting task is resumed by the loop one turn after the last task_done).
    asyncio::EventWait join() noexcept { return finished_.wait(); }
    /// Items put and not yet marked done (Python's _unfinished_tasks).
    std::size_t unfinished_tasks() const noexcept { return unfinished_; }

    /// Python 3.13's shutdown (see the header comment). Idempotent; shutdown(true) after
    /// shutdown() still discards the items.
    void shutdown(bool immediate = false) {
        shutdown_ = true;
        if (immediate) {
            const std::size_t n = count_;
            auto discarded = items_.take_all();  // destroyed at the end of this block
            count_ = 0;
            unfinished_ -= std::min(unfinished_, n);
            if (unfinished_ == 0) finished_.set();
        }
        getters_.wake_all(shut_down);
        putters_.wake_all(shut_down);
    }
    /// True once shutdown() was called.
    bool is_shutdown() const noexcept { return shutdown_; }

private:
    bool has_free_item() const noexcept { return count_ > promised_items_; }
    bool has_free_slot() const noexcept { return maxsize_ == 0 || count_ + promised_slots_ < maxsize_; }

    void store(T&& item) {
        items_.push(std::move(item));
        ++count_;
        ++unfinished_;
        finished_.clear();
        promise_items();
    }
    T take() {
        T item = items_.pop();
        --count_;
        promise_slots();
        return item;
    }
    void promise_items() noexcept {
        while (!getters_.empty() && has_free_item()) {
            getters_.wake_one(granted);
            ++promised_items_;
        }
    }
    void promise_slots() noexcept {
        while (!putters_.empty() && has_free_slot()) {
            putters_.wake_one(granted);
            ++promised_slots_;
        }
    }
    static void getter_passes_on(void* self, WaitNode& node) noexcept {
        auto* q = static_cast<BasicQueue*>(self);
        if (node.reason() != granted) return;
        --q->promised_items_;
        q->promise_items();
    }
    static void putter_passes_on(void* self, WaitNode& node) noexcept {
        auto* q = static_cast<BasicQueue*>(self);
        if (node.reason() != granted) return;
        --q->promised_slots_;
        q->promise_slots();
    }

    Storage items_;
    std::size_t count_ = 0;  // items_.size(), kept here: a storage may compute it at each call
    std::size_t maxsize_;
    std::size_t promised_items_ = 0;  // items promised to woken getters
    std::size_t promised_slots_ = 0;  // slots promised to woken putters
    std::size_t unfinished_ = 0;
    bool shutdown_ = false;
    WaitQueue getters_{&getter_passes_on, this};
    WaitQueue putters_{&putter_passes_on, this};
    asyncio::Event finished_;
};

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// Python's asyncio.Queue: first in, first out. See the header comment. The items live in one
/// ring buffer (detail/ring_storage.hpp: why not a deque).
///
/// Thread safety: loop thread only; between threads use nogil::queue or
/// loop.call_soon_threadsafe().
template <class T>
class Queue : public detail::BasicQueue<nogil::detail::ring_storage<T>> {
public:
    /// maxsize 0 (the default): unbounded.
    explicit Queue(std::size_t maxsize = 0) : detail::BasicQueue<nogil::detail::ring_storage<T>>(maxsize) {}
};

/// Python's asyncio.LifoQueue: last in, first out.
///
/// Thread safety: loop thread only (see Queue).
template <class T>
class LifoQueue : public detail::BasicQueue<nogil::detail::lifo_storage<T>> {
public:
    /// maxsize 0 (the default): unbounded.
    explicit LifoQueue(std::size_t maxsize = 0) : detail::BasicQueue<nogil::detail::lifo_storage<T>>(maxsize) {}
};

/// Python's asyncio.PriorityQueue: the smallest item (by Compare, std::less by default) first,
/// like heapq; use std::pair / std::tuple (priority, data) entries as in Python.
///
/// Thread safety: loop thread only (see Queue).
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::BasicQueue<nogil::detail::heap_storage<T, Compare>> {
public:
    /// maxsize 0 (the default): unbounded.
    explicit PriorityQueue(std::size_t maxsize = 0) : detail::BasicQueue<nogil::detail::heap_storage<T, Compare>>(maxsize) {}
};

}  // namespace nogil::asyncio
