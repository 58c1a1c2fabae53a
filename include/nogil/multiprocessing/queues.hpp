#pragma once
// multiprocessing.Queue<T> and SimpleQueue<T>: FIFO queues between processes.
//
//   mp::Queue<std::string> q;
//   mp::Process p(producer, q); p.start();     // pass the queue to the child
//   std::string item = q.get(std::chrono::seconds(5));
//
// Items are serialized (docs/api.md, rule 5). Copies of a queue are shared handles; every member is
// safe from any thread of any process. put() returns once the item is buffered for this
// process's feeder thread (Python's design): a process's buffered items are flushed when its last
// handle goes away, which in a child is when the task returns.

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/queue_core.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <memory>

namespace nogil::multiprocessing {

using nogil::queue::Empty;
using nogil::queue::Full;

namespace detail {
template <class T>
void check_item() {
    static_assert(nogil::detail::serial::Serializable<T>,
                  "multiprocessing queue: the item type must be serializable to cross a process boundary: "
                  "arithmetic, trivially copyable structs, std::string, standard containers, optional, "
                  "pair/tuple, or a type with a cereal serialize(Archive&) member");
}
}  // namespace detail

/// Thread safety: every member may be called from any thread of any process holding the queue;
/// put() hands the item to this process's feeder thread.
template <class T>
class Queue {
public:
    /// maxsize <= 0: unbounded (Python's default).
    explicit Queue(int maxsize = 0) : core_(std::make_shared<detail::QueueCore>(maxsize)) {
        detail::check_item<T>();
    }

    /// Puts `item`, waiting for a free slot if the queue is bounded and full.
    void put(const T& item) { core_->put(nogil::detail::serial::dumps(item), std::nullopt); }
    /// Puts `item`; !block: throws Full at once if there is no free slot.
    void put(const T& item, bool block) {
        core_->put(nogil::detail::serial::dumps(item), block ? detail::Deadline{} : detail::Deadline{now()});
    }
    /// Puts `item`, throwing Full if no slot frees up within `timeout`.
    template <class Rep, class Period>
    void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
        core_->put(nogil::detail::serial::dumps(item), nogil::detail::checked_deadline_after(timeout));
    }
    void put_nowait(const T& item) { put(item, false); }

    /// Removes and returns the next item, waiting as long as it takes.
    T get() { return decode(core_->get(std::nullopt)); }
    /// !block: throws Empty at once if nothing is there.
    T get(bool block) { return decode(core_->get(block ? detail::Deadline{} : detail::Deadline{now()})); }
    /// Throws Empty if nothing arrives within `timeout`.
    template <class Rep, class Period>
    T get(std::chrono::duration<Rep, Period> timeout) {
        return decode(core_->get(nogil::detail::checked_deadline_after(timeout)));
    }
    T get_nowait() { return get(false); }

    /// Items put and not yet taken, in all processes (approximate while others act).
    int qsize() const { return core_->qsize(); }
    bool empty() const { return core_->empty(); }
    bool full() const { return core_->full(); }
    /// This process will put no more; its feeder exits after flushing. In this process, put()
    /// and get() then throw std::invalid_argument("Queue is closed") (Python's ValueError).
    void close() { core_->close(); }
    /// After close(): waits until this process's buffered items are written.
    void join_thread() { core_->join_thread(); }

    template <class Archive>
    void save(Archive& ar) const {
        core_->save(ar);
    }
    static Queue nogil_load(nogil::detail::serial::InputArchive& ar) { return Queue(detail::QueueCore::load(ar)); }

private:
    explicit Queue(std::shared_ptr<detail::QueueCore> core) : core_(std::move(core)) {}
    static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }
    static T decode(detail::Frame frame) { return nogil::detail::serial::load_one<T>(frame.bytes, frame.fds); }
    std::shared_ptr<detail::QueueCore> core_;
};

/// Python's SimpleQueue: an unbounded Queue with only put, get, empty and close.
///
/// Thread safety: every member may be called from any thread of any process holding the queue.
template <class T>
class SimpleQueue {
public:
    SimpleQueue() : core_(std::make_shared<detail::QueueCore>(0)) { detail::check_item<T>(); }
    void put(const T& item) { core_->put(nogil::detail::serial::dumps(item), std::nullopt); }
    /// Blocks until an item arrives.
    T get() {
        detail::Frame frame = core_->get(std::nullopt);
        return nogil::detail::serial::load_one<T>(frame.bytes, frame.fds);
    }
    bool empty() const { return core_->empty(); }
    void close() { core_->close(); }

    template <class Archive>
    void save(Archive& ar) const {
        core_->save(ar);
    }
    static SimpleQueue nogil_load(nogil::detail::serial::InputArchive& ar) { return SimpleQueue(detail::QueueCore::load(ar)); }

private:
    explicit SimpleQueue(std::shared_ptr<detail::QueueCore> core) : core_(std::move(core)) {}
    std::shared_ptr<detail::QueueCore> core_;
};

}  // namespace nogil::multiprocessing
