#pragma once
// nogil::queue::SimpleQueue<T>: Python's queue.SimpleQueue, an unbounded FIFO queue without task
// tracking, lighter than Queue<T>.
//
// Design: a singly linked list of heap nodes under a mutex that guards nothing but pointer
// updates, plus an event count (a futex word bumped by put() when a getter sleeps; at most one
// wake-up per sleeper, since a redundant FUTEX_WAKE per put() made a 1:1 producer/consumer pair
// twenty times slower in bench/queue_bench.cpp). An item is
// moved into its node before the mutex is taken and out of it after the mutex is released, so no
// code of T ever runs under the mutex: T's constructors and destructor may use the same queue
// (CPython's SimpleQueue is reentrant in the same sense: put() may be called from __del__).

#include <nogil/detail/futex.hpp>
#include <nogil/queue/detail/timeout.hpp>
#include <nogil/errors.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace nogil::queue {

/// An unbounded first-in, first-out queue (Python's queue.SimpleQueue): put() never blocks, there
/// is no maxsize, no task_done()/join() and no shutdown() (Python's SimpleQueue has none). Safe to
/// use from any number of threads at once. Waiting getters are not served in FIFO order.
/// Destroying the queue while a thread is still inside one of its members is undefined behaviour;
/// items still queued are destroyed with it.
///
/// Thread safety: every member may be called from any thread at once, and reentrantly: no code of T
/// runs under the queue's mutex (see the header comment).
template <class T>
class SimpleQueue {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && std::is_move_constructible_v<T>,
                  "nogil::queue items must be non-const, move-constructible object types");
    using clock = std::chrono::steady_clock;
    using deadline_t = std::optional<clock::time_point>;

public:
    using value_type = T;

    /// An empty queue.
    SimpleQueue() = default;
    SimpleQueue(const SimpleQueue&) = delete;
    SimpleQueue& operator=(const SimpleQueue&) = delete;

    /// Destroys the items still queued.
    ~SimpleQueue() {
        while (head_ != nullptr) delete std::exchange(head_, head_->next);
    }

    /// Appends `item`; never blocks (beyond the internal mutex) and never throws Full. Wakes one
    /// blocked getter if there is one. If the item cannot be stored (std::bad_alloc, or T's
    /// constructor throws) the exception propagates and the queue is unchanged. Python's ignored
    /// `block`/`timeout` arguments are left out.
    template <class U = T>
        requires std::constructible_from<T, U&&>
    void put(U&& item) {
        auto fresh = std::make_unique<node>(std::forward<U>(item));
        bool wake;
        {
            std::lock_guard lock(mutex_);
            node* n = fresh.release();
            (tail_ != nullptr ? tail_->next : head_) = n;
            tail_ = n;
            size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            // One wake per sleeper: a sleeper already signalled needs no second system call.
            wake = sleepers_ > wakes_pending_;
            if (wake) {
                ++wakes_pending_;
                // Bumped under the mutex, so a getter that read the word before sleeping sees it change.
                wake_word_.fetch_add(1, std::memory_order_relaxed);
            }
        }
        if (wake) nogil::detail::futex_wake(wake_word_, 1);
    }

    /// The same as put(item) (Python keeps it for symmetry with Queue).
    template <class U = T>
        requires std::constructible_from<T, U&&>
    void put_nowait(U&& item) {
        put(std::forward<U>(item));
    }

    /// Removes and returns the oldest item, blocking while the queue is empty; a blocked get is
    /// resumed by a put().
    T get() { return get_impl(true, std::nullopt); }

    /// Python's get(block): block = false is get_nowait().
    T get(bool block) { return get_impl(block, std::nullopt); }

    /// Removes and returns the oldest item, blocking at most `timeout` while the queue is empty;
    /// throws Empty when none arrived in time, std::invalid_argument at once for a negative timeout.
    template <class Rep, class Period>
    T get(std::chrono::duration<Rep, Period> timeout) {
        return get_impl(true, detail::queue_deadline(timeout));
    }

    /// Removes and returns the oldest item if there is one now; else throws Empty.
    T get_nowait() { return get_impl(false, std::nullopt); }

    /// The number of items in the queue; stale as soon as it returns if other threads use it.
    std::size_t qsize() const { return size_.load(std::memory_order_relaxed); }

    /// qsize() == 0, with the same caveat.
    bool empty() const { return qsize() == 0; }

private:
    struct node {
        template <class U>
        explicit node(U&& item) : value(std::forward<U>(item)) {}
        T value;
        node* next = nullptr;
    };

    T get_impl(bool block, const deadline_t& deadline) {
        std::unique_lock lock(mutex_);
        while (head_ == nullptr) {
            if (!block) throw Empty();
            ++sleepers_;
            const std::uint32_t seen = wake_word_.load(std::memory_order_relaxed);
            lock.unlock();
            // Returns at once if a put() bumped the word since we read it under the mutex.
            const bool in_time = nogil::detail::futex_wait(wake_word_, seen, deadline);
            lock.lock();
            --sleepers_;
            // Counts, not identities: whichever sleeper returns first retires one pending wake.
            if (wakes_pending_ != 0) --wakes_pending_;
            if (!in_time && head_ == nullptr) throw Empty();
        }
        std::unique_ptr<node> taken(head_);
        head_ = head_->next;
        if (head_ == nullptr) tail_ = nullptr;
        size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        lock.unlock();
        return T(std::move(taken->value));  // the node and the moved-from T die outside the mutex
    }

    std::mutex mutex_;
    std::atomic<std::uint32_t> wake_word_{0};  // bumped by put() when it wakes a sleeper
    std::atomic<std::size_t> size_{0};         // written under mutex_; qsize() reads it without
    // Guarded by mutex_.
    node* head_ = nullptr;
    node* tail_ = nullptr;
    std::size_t sleepers_ = 0;       // getters between registering and re-taking the mutex
    std::size_t wakes_pending_ = 0;  // wakes issued to sleepers that have not re-taken the mutex yet
};

}  // namespace nogil::queue
