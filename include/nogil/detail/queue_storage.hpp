#pragma once
// Storage policies for detail::basic_queue: they decide which item get() returns, and nothing
// else (Python's _init/_qsize/_put/_get overrides). Every call happens under the queue's mutex.
//
// A policy provides: value_type, size(), push(U&&), pop() -> value_type (non-empty only), and
// take_all() which empties it and hands the old contents to the caller, so that the items can be
// destroyed after the mutex is released (their destructors may use the queue again).

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::detail {

template <class T>
inline constexpr bool queue_item_ok = std::is_object_v<T> && !std::is_const_v<T> && std::is_move_constructible_v<T>;

/// First in, first out (Queue: a deque) or, with TakeNewest, last in, first out (LifoQueue: a
/// vector), as Python's deque and list.
template <class T, bool TakeNewest>
class sequence_storage {
    static_assert(queue_item_ok<T>, "nogil::queue items must be non-const, move-constructible object types");
    using container = std::conditional_t<TakeNewest, std::vector<T>, std::deque<T>>;

public:
    using value_type = T;
    std::size_t size() const noexcept { return items_.size(); }
    template <class U>
    void push(U&& item) {
        items_.emplace_back(std::forward<U>(item));
    }
    T pop() {
        T item = std::move(TakeNewest ? items_.back() : items_.front());
        if constexpr (TakeNewest) {
            items_.pop_back();
        } else {
            items_.pop_front();
        }
        return item;
    }
    container take_all() {
        container all;
        all.swap(items_);
        return all;
    }

private:
    container items_;
};

template <class T>
using fifo_storage = sequence_storage<T, false>;
template <class T>
using lifo_storage = sequence_storage<T, true>;

/// Smallest first under `Compare`, as Python's heapq (PriorityQueue). std::*_heap build a
/// max-heap, so they are given the comparator with its arguments swapped. Equal items come out in
/// an unspecified order, as in Python.
template <class T, class Compare>
class heap_storage {
    static_assert(queue_item_ok<T>, "nogil::queue items must be non-const, move-constructible object types");
    static_assert(std::is_invocable_r_v<bool, Compare&, const T&, const T&>,
                  "PriorityQueue's Compare must be callable as bool(const T&, const T&)");

public:
    using value_type = T;
    explicit heap_storage(Compare compare = Compare()) : compare_(std::move(compare)) {}
    std::size_t size() const noexcept { return items_.size(); }
    template <class U>
    void push(U&& item) {
        items_.emplace_back(std::forward<U>(item));
        std::push_heap(items_.begin(), items_.end(), later());
    }
    T pop() {
        std::pop_heap(items_.begin(), items_.end(), later());
        T item = std::move(items_.back());
        items_.pop_back();
        return item;
    }
    std::vector<T> take_all() {
        std::vector<T> all;
        all.swap(items_);
        return all;
    }

private:
    // "a comes out after b": the max-heap's less-than for a smallest-first heap.
    auto later() {
        return [this](const T& a, const T& b) -> bool { return std::invoke(compare_, b, a); };
    }

    std::vector<T> items_;
    [[no_unique_address]] Compare compare_;
};

}  // namespace nogil::detail
