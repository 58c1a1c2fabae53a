#pragma once
// nogil::queue::PriorityQueue<T, Compare>: Python's queue.PriorityQueue, smallest item first.

#include <nogil/queue/detail/base.hpp>
#include <nogil/detail/queue_storage.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <functional>
#include <utility>

namespace nogil::queue {

/// A queue that returns its smallest item first under `Compare` (Python's queue.PriorityQueue,
/// which uses heapq). NOTE: this is the opposite of std::priority_queue, which returns the
/// largest: with the default std::less, get() returns the smallest item; pass std::greater<T> to
/// get the largest first. Items that compare equal come out in an unspecified order, as in
/// Python; put (priority, sequence, data) tuples for a stable order. The comparator runs under
/// the queue's mutex and must not use the queue. Otherwise exactly Queue<T> (members documented
/// on detail::basic_queue).
///
/// Thread safety: as Queue<T>: every member from any thread at once. Compare runs under the queue's
/// mutex.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::basic_queue<nogil::detail::heap_storage<T, Compare>> {
public:
    /// An empty queue holding at most `maxsize` items (`maxsize <= 0`: no limit), ordered by
    /// `compare` (a strict weak ordering; smallest first).
    explicit PriorityQueue(std::ptrdiff_t maxsize = 0, Compare compare = Compare())
        : detail::basic_queue<nogil::detail::heap_storage<T, Compare>>(
              maxsize, nogil::detail::heap_storage<T, Compare>(std::move(compare))) {}
};

}  // namespace nogil::queue
