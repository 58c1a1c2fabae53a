#pragma once
// The untyped machinery of multiprocessing::Queue and SimpleQueue.
//
// A Unix socket pair used one way (every process holding the queue holds both ends), a
// process-shared lock for readers and one for writers (so frames never interleave), a shared
// item count, and for a bounded queue a semaphore of free slots. As in Python, put() hands the
// serialized item to a feeder thread of the putting process, so put() never blocks on a full
// socket; the feeder is flushed and joined when the process's last handle to the queue goes away
// (or at join_thread()). Items put by one thread arrive in order.

#include <nogil/multiprocessing/detail/fd.hpp>
#include <nogil/multiprocessing/detail/frame.hpp>
#include <nogil/multiprocessing/detail/shared_block.hpp>
#include <nogil/detail/serial.hpp>
#include <nogil/multiprocessing/synchronize.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


class QueueCore {
public:
    /// maxsize <= 0: unbounded.
    explicit QueueCore(int maxsize);
    ~QueueCore();
    QueueCore(const QueueCore&) = delete;
    QueueCore& operator=(const QueueCore&) = delete;

    /// Queues the item; throws queue::Full if a bounded queue stays full until the deadline,
    /// std::invalid_argument after close().
    void put(serial::Payload item, Deadline deadline);
    /// Takes the next item; throws queue::Empty if none arrives by the deadline.
    Frame get(Deadline deadline);

    int qsize() const;
    bool empty() const { return qsize() == 0; }
    bool full() const;
    int maxsize() const noexcept { return maxsize_; }

    /// No more puts from this process; the feeder exits once it has flushed.
    void close();
    /// Waits for the feeder to flush (after close()).
    void join_thread();

    void save(serial::OutputArchive& ar) const;
    static std::shared_ptr<QueueCore> load(serial::InputArchive& ar);

private:
    QueueCore(int maxsize, UniqueFd reader, UniqueFd writer, multiprocessing::Lock rlock, multiprocessing::Lock wlock,
              std::optional<multiprocessing::Semaphore> slots, std::shared_ptr<SharedBlock> count);
    void feed();
    std::atomic<std::int32_t>& count() const;

    int maxsize_;
    UniqueFd reader_;
    UniqueFd writer_;
    multiprocessing::Lock rlock_;
    multiprocessing::Lock wlock_;
    std::optional<multiprocessing::Semaphore> slots_;
    std::shared_ptr<SharedBlock> count_;

    // This process's feeder.
    std::mutex feeder_mutex_;
    std::condition_variable feeder_cv_;
    std::deque<serial::Payload> buffer_;
    bool closed_ = false;
    std::thread feeder_;
};

}  // namespace nogil::multiprocessing::detail
