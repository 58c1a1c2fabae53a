#pragma once
// The machinery shared by Queue, LifoQueue and PriorityQueue, written once: Python's
// queue.Queue algorithm (one mutex, three condition variables, a count of unfinished tasks and
// 3.13's shutdown), parameterised by a storage policy (detail/queue_storage.hpp) that decides
// which item get() returns.
//
// Shutdown protocol (Python 3.13 Lib/queue.py), steps 1-3 under the mutex:
//  1. is_shutdown() becomes true; from then on every put() throws ShutDown before it looks at the
//     queue, and get() throws ShutDown whenever it finds the queue empty.
//  2. immediate only: every stored item is removed and the unfinished-task count drops by that
//     many (never below zero); join() waiters are woken and return if the count reached zero
//     (items already taken by get() still need their task_done()).
//  3. every blocked put() and get() is woken: putters throw ShutDown; getters take an item if one
//     is left (non-immediate shutdown lets consumers drain the queue), else throw ShutDown.
//  4. the removed items are destroyed after the mutex is released.
// Tests (tests/queue_detail_base_test.cpp, QueueBase.*): step 1 ShutdownLetsConsumersDrainThenThrows;
// 2 ImmediateShutdownDiscardsItemsAndReleasesJoin, ImmediateShutdownKeepsTasksAlreadyTaken,
// ShutdownDoesNotReleaseJoin; 3 ShutdownWakesBlockedGetters, ShutdownWakesBlockedPutters; 4
// ItemsDiscardedByImmediateShutdownAreDestroyedOutsideTheMutex; all at once
// StressConcurrentShutdownLosesNothing.
//
// Wake-ups: a thread that changes the queue notifies the matching condition variable after it
// released the mutex, and only when a thread is counted as waiting there, so an uncontended
// put()/get() pair costs two lock/unlock pairs and no system call. Which waiter wakes is up to
// the OS: no FIFO fairness among waiters (Python does not promise it either).

#include <nogil/queue/detail/timeout.hpp>
#include <nogil/errors.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace nogil::queue::detail {

/// Python's queue.Queue over a storage policy. Every member is safe to call from any thread at
/// once. Items are moved in and out under an internal mutex: T's move constructor, destructor of
/// a moved-from T and the policy's comparator run under it and must not use the same queue.
/// Destroying the queue while a thread is still inside one of its members is undefined behaviour.
template <class Storage>
class basic_queue {
    using clock = std::chrono::steady_clock;
    using deadline_t = std::optional<clock::time_point>;

public:
    using value_type = typename Storage::value_type;

    /// An empty queue holding at most `maxsize` items; `maxsize <= 0` means no limit (Python).
    explicit basic_queue(std::ptrdiff_t maxsize = 0, Storage storage = Storage())
        : maxsize_(maxsize), capacity_(maxsize > 0 ? static_cast<std::size_t>(maxsize) : 0),
          storage_(std::move(storage)) {}

    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    /// Puts `item` in the queue, blocking while the queue is full; a blocked put is resumed by the
    /// get() that frees a slot, or by shutdown(). Throws ShutDown if the queue is shut down, also
    /// when that happens while blocked. If put throws, `item` is left untouched (a move-only value
    /// passed with std::move is still the caller's). Wakes one blocked getter.
    template <class U = value_type>
        requires std::constructible_from<value_type, U&&>
    void put(U&& item) {
        put_impl(std::forward<U>(item), true, std::nullopt);
    }

    /// Python's put(item, block): block = false is put_nowait(item).
    template <class U = value_type>
        requires std::constructible_from<value_type, U&&>
    void put(U&& item, bool block) {
        put_impl(std::forward<U>(item), block, std::nullopt);
    }

    /// Puts `item`, blocking at most `timeout` while the queue is full; throws Full when no slot
    /// became free in time, ShutDown as put(item), std::invalid_argument at once for a negative
    /// timeout (also on an unbounded queue, where Python ignores it). `item` is untouched on throw.
    template <class U = value_type, class Rep, class Period>
        requires std::constructible_from<value_type, U&&>
    void put(U&& item, std::chrono::duration<Rep, Period> timeout) {
        put_impl(std::forward<U>(item), true, queue_deadline(timeout));
    }

    /// Puts `item` only if a slot is free now; else throws Full (ShutDown after shutdown()).
    /// `item` is untouched on throw.
    template <class U = value_type>
        requires std::constructible_from<value_type, U&&>
    void put_nowait(U&& item) {
        put_impl(std::forward<U>(item), false, std::nullopt);
    }

    /// Removes and returns an item, blocking while the queue is empty; a blocked get is resumed by
    /// the put() that adds an item, or by shutdown(). Throws ShutDown once the queue is shut down
    /// and empty, also when that happens while blocked. Wakes one blocked putter.
    value_type get() { return get_impl(true, std::nullopt); }

    /// Python's get(block): block = false is get_nowait().
    value_type get(bool block) { return get_impl(block, std::nullopt); }

    /// Removes and returns an item, blocking at most `timeout` while the queue is empty; throws
    /// Empty when none arrived in time, ShutDown as get(), std::invalid_argument at once for a
    /// negative timeout.
    template <class Rep, class Period>
    value_type get(std::chrono::duration<Rep, Period> timeout) {
        return get_impl(true, queue_deadline(timeout));
    }

    /// Removes and returns an item if one is there now; else throws Empty (ShutDown if the queue
    /// is shut down).
    value_type get_nowait() { return get_impl(false, std::nullopt); }

    /// The number of items in the queue; stale as soon as it returns if other threads use it.
    std::size_t qsize() const {
        std::lock_guard lock(mutex_);
        return storage_.size();
    }

    /// qsize() == 0, with the same caveat.
    bool empty() const { return qsize() == 0; }

    /// Whether the queue holds maxsize() items (never for an unbounded queue); same caveat.
    bool full() const { return capacity_ != 0 && qsize() >= capacity_; }

    /// The maxsize given to the constructor, unchanged (<= 0: unbounded).
    std::ptrdiff_t maxsize() const noexcept { return maxsize_; }

    /// Items put and not yet marked done by task_done() (Python's unfinished_tasks attribute).
    std::size_t unfinished_tasks() const {
        std::lock_guard lock(mutex_);
        return unfinished_;
    }

    /// Whether shutdown() was called (Python's is_shutdown attribute).
    bool is_shutdown() const {
        std::lock_guard lock(mutex_);
        return shutdown_;
    }

    /// Marks one item taken by get() as processed; when every item put has been marked, join()
    /// returns. Throws std::invalid_argument if called more times than items were put. Never blocks.
    void task_done() {
        std::unique_lock lock(mutex_);
        if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
        if (--unfinished_ != 0 || joiners_ == 0) return;
        lock.unlock();
        all_tasks_done_.notify_all();
    }

    /// Blocks until every item put has been marked by task_done() (at once if none is pending);
    /// resumed by the task_done() that marks the last one, or by shutdown(true) when the items it
    /// discards were the only ones pending. Any number of threads may join at once.
    void join() {
        std::unique_lock lock(mutex_);
        while (unfinished_ != 0) {
            ++joiners_;
            all_tasks_done_.wait(lock);
            --joiners_;
        }
    }

    /// Shuts the queue down (Python 3.13): put() throws ShutDown from now on; get() throws
    /// ShutDown once the queue is empty. immediate = true also discards the stored items (their
    /// count is subtracted from unfinished_tasks(), so join() can return) and makes get() throw at
    /// once. Blocked putters and getters are woken and throw ShutDown (a getter may instead take a
    /// remaining item after a non-immediate shutdown). May be called again, e.g. to go immediate.
    void shutdown(bool immediate = false) {
        std::unique_lock lock(mutex_);
        std::optional<decltype(storage_.take_all())> discarded;
        if (immediate) discarded.emplace(storage_.take_all());  // if this throws, nothing changed
        shutdown_ = true;
        if (discarded) unfinished_ -= std::min(unfinished_, discarded->size());
        const bool wake_joiners = immediate && joiners_ != 0;
        const bool wake_getters = getters_ != 0;
        const bool wake_putters = putters_ != 0;
        lock.unlock();
        if (wake_joiners) all_tasks_done_.notify_all();
        if (wake_getters) not_empty_.notify_all();
        if (wake_putters) not_full_.notify_all();
        // `discarded` is destroyed here, outside the mutex.
    }

private:
    // Waits on `cv` until notified or `deadline`; false when the deadline passed.
    static bool wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, const deadline_t& deadline) {
        if (!deadline || *deadline == clock::time_point::max()) {
            cv.wait(lock);
            return true;
        }
        return cv.wait_until(lock, *deadline) == std::cv_status::no_timeout;
    }

    template <class U>
    void put_impl(U&& item, bool block, const deadline_t& deadline) {
        std::unique_lock lock(mutex_);
        if (shutdown_) throw queue::ShutDown();
        if (capacity_ != 0) {
            if (!block) {
                if (storage_.size() >= capacity_) throw queue::Full();
            } else {
                while (storage_.size() >= capacity_) {
                    ++putters_;
                    const bool notified = wait(not_full_, lock, deadline);
                    --putters_;
                    if (shutdown_) throw queue::ShutDown();
                    if (!notified && storage_.size() >= capacity_) throw queue::Full();
                }
            }
        }
        storage_.push(std::forward<U>(item));  // if this throws, nothing changed
        ++unfinished_;
        const bool wake = getters_ != 0;
        lock.unlock();
        if (wake) not_empty_.notify_one();
    }

    value_type get_impl(bool block, const deadline_t& deadline) {
        std::unique_lock lock(mutex_);
        if (shutdown_ && storage_.size() == 0) throw queue::ShutDown();
        if (!block) {
            if (storage_.size() == 0) throw queue::Empty();
        } else {
            while (storage_.size() == 0) {
                ++getters_;
                const bool notified = wait(not_empty_, lock, deadline);
                --getters_;
                if (shutdown_ && storage_.size() == 0) throw queue::ShutDown();
                if (!notified && storage_.size() == 0) throw queue::Empty();
            }
        }
        value_type item = storage_.pop();
        const bool wake = putters_ != 0;
        lock.unlock();
        if (wake) not_full_.notify_one();
        return item;
    }

    const std::ptrdiff_t maxsize_;
    const std::size_t capacity_;  // 0: unbounded
    mutable std::mutex mutex_;
    std::condition_variable not_empty_;       // getters wait here
    std::condition_variable not_full_;        // putters wait here
    std::condition_variable all_tasks_done_;  // join() waits here
    // Everything below is guarded by mutex_.
    Storage storage_;
    std::size_t unfinished_ = 0;
    std::size_t getters_ = 0;  // threads waiting on not_empty_
    std::size_t putters_ = 0;  // threads waiting on not_full_
    std::size_t joiners_ = 0;  // threads waiting on all_tasks_done_
    bool shutdown_ = false;
};

}  // namespace nogil::queue::detail
