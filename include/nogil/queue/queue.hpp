#pragma once
// nogil::queue::Queue<T>: Python's queue.Queue, a FIFO queue for any number of producer and
// consumer threads, with an optional size limit, task tracking (task_done/join) and 3.13's shutdown.

#include <nogil/queue/detail/base.hpp>
#include <nogil/detail/queue_storage.hpp>
#include <nogil/errors.hpp>

#include <cstddef>

namespace nogil::queue {

/// A first-in, first-out queue (Python's queue.Queue). Safe to use from any number of threads at
/// once. put/get/put_nowait/get_nowait/qsize/empty/full/task_done/join/shutdown are documented on
/// detail::basic_queue, which LifoQueue and PriorityQueue share (they are not derived from Queue,
/// so a function taking Queue<T>& does not accept them; write a template for that).
/// get() returns T by value; move-only T (std::unique_ptr) works.
///
/// Thread safety: every member may be called from any thread at once (detail::basic_queue);
/// destroying the queue while a thread is inside a member is undefined.
template <class T>
class Queue : public detail::basic_queue<nogil::detail::fifo_storage<T>> {
public:
    /// An empty queue holding at most `maxsize` items; `maxsize <= 0` means no limit.
    explicit Queue(std::ptrdiff_t maxsize = 0) : detail::basic_queue<nogil::detail::fifo_storage<T>>(maxsize) {}
};

}  // namespace nogil::queue
