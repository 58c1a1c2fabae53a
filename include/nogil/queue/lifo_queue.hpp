#pragma once
// nogil::queue::LifoQueue<T>: Python's queue.LifoQueue, a thread-safe stack.

#include <nogil/queue/detail/base.hpp>
#include <nogil/detail/queue_storage.hpp>
#include <nogil/errors.hpp>

#include <cstddef>

namespace nogil::queue {

/// A last-in, first-out queue (Python's queue.LifoQueue): get() returns the item put most
/// recently. Otherwise exactly Queue<T>: same members, blocking, exceptions and thread-safety
/// (documented on detail::basic_queue).
///
/// Thread safety: as Queue<T>: every member from any thread at once.
template <class T>
class LifoQueue : public detail::basic_queue<nogil::detail::lifo_storage<T>> {
public:
    /// An empty queue holding at most `maxsize` items; `maxsize <= 0` means no limit.
    explicit LifoQueue(std::ptrdiff_t maxsize = 0) : detail::basic_queue<nogil::detail::lifo_storage<T>>(maxsize) {}
};

}  // namespace nogil::queue
