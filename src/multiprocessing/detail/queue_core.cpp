#include <nogil/multiprocessing/detail/queue_core.hpp>
#include <nogil/errors.hpp>

#include <sys/socket.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


namespace {
std::optional<multiprocessing::Semaphore> make_slots(int maxsize) {
    if (maxsize <= 0) return std::nullopt;
    return multiprocessing::Semaphore(maxsize);
}
// Remaining time as a duration for the public acquire(timeout) overloads.
std::chrono::steady_clock::duration left(Deadline deadline) {
    auto d = *deadline - std::chrono::steady_clock::now();
    return d < d.zero() ? d.zero() : d;
}
}  // namespace

QueueCore::QueueCore(int maxsize)
    : maxsize_(maxsize > 0 ? maxsize : 0), slots_(make_slots(maxsize)), count_(SharedBlock::create(sizeof(std::int32_t))) {
    auto [reader, writer] = socket_pair();
    ::shutdown(reader.get(), SHUT_WR);
    ::shutdown(writer.get(), SHUT_RD);
    reader_ = std::move(reader);
    writer_ = std::move(writer);
    new (count_->data()) std::atomic<std::int32_t>(0);
}

QueueCore::QueueCore(int maxsize, UniqueFd reader, UniqueFd writer, multiprocessing::Lock rlock,
                     multiprocessing::Lock wlock, std::optional<multiprocessing::Semaphore> slots,
                     std::shared_ptr<SharedBlock> count)
    : maxsize_(maxsize), reader_(std::move(reader)), writer_(std::move(writer)), rlock_(std::move(rlock)),
      wlock_(std::move(wlock)), slots_(std::move(slots)), count_(std::move(count)) {
    if (count_->size() < sizeof(std::int32_t)) throw std::runtime_error("Queue: received block is too small");
}

QueueCore::~QueueCore() {
    close();
    join_thread();
}

std::atomic<std::int32_t>& QueueCore::count() const {
    return *std::launder(static_cast<std::atomic<std::int32_t>*>(count_->data()));
}

void QueueCore::put(serial::Payload item, Deadline deadline) {
    {
        std::lock_guard lock(feeder_mutex_);
        if (closed_) throw std::invalid_argument("Queue is closed");
    }
    if (slots_) {
        bool got = deadline ? slots_->acquire(left(deadline)) : slots_->acquire();
        if (!got) throw queue::Full();
    }
    count().fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(feeder_mutex_);
    buffer_.push_back(std::move(item));
    if (!feeder_.joinable()) feeder_ = std::thread([this] { feed(); });
    feeder_cv_.notify_one();
}

void QueueCore::feed() {
    std::unique_lock lock(feeder_mutex_);
    for (;;) {
        feeder_cv_.wait(lock, [&] { return !buffer_.empty() || closed_; });
        if (buffer_.empty()) return;  // closed and flushed
        serial::Payload item = std::move(buffer_.front());
        buffer_.pop_front();
        lock.unlock();
        wlock_.acquire();
        try {
            send_frame(writer_.get(), FrameKind::object, item.bytes, item.fds);
        } catch (...) {
            // Nobody can read any more (every reader end closed): drop, as Python's feeder does.
        }
        wlock_.release();
        lock.lock();
    }
}

Frame QueueCore::get(Deadline deadline) {
    {
        std::lock_guard lock(feeder_mutex_);
        if (closed_) throw std::invalid_argument("Queue is closed");
    }
    bool locked = deadline ? rlock_.acquire(left(deadline)) : rlock_.acquire();
    if (!locked) throw queue::Empty();
    std::optional<Frame> frame;
    try {
        if (!wait_readable(reader_.get(), deadline)) {
            rlock_.release();
            throw queue::Empty();
        }
        // A writer holds wlock for a whole frame: once its first byte is here the rest follows.
        frame = recv_frame(reader_.get());
    } catch (const queue::Empty&) {
        throw;
    } catch (...) {
        rlock_.release();
        throw;
    }
    rlock_.release();
    if (!frame) throw EOFError("Queue: the queue's socket was closed");
    count().fetch_sub(1, std::memory_order_relaxed);
    if (slots_) slots_->release();
    return std::move(*frame);
}

int QueueCore::qsize() const { return count().load(std::memory_order_relaxed); }

bool QueueCore::full() const { return slots_ && slots_->get_value() == 0; }

void QueueCore::close() {
    std::lock_guard lock(feeder_mutex_);
    closed_ = true;
    feeder_cv_.notify_all();
}

void QueueCore::join_thread() {
    std::thread feeder;
    {
        std::lock_guard lock(feeder_mutex_);
        if (!closed_) throw std::invalid_argument("Queue.join_thread: call close() first");
        feeder = std::move(feeder_);
    }
    if (feeder.joinable()) feeder.join();
}

void QueueCore::save(serial::OutputArchive& ar) const {
    ar(maxsize_, serial::export_fd(reader_.get()), serial::export_fd(writer_.get()), rlock_, wlock_, slots_.has_value());
    if (slots_) ar(*slots_);
    SharedBlock::save(ar, count_);
}

std::shared_ptr<QueueCore> QueueCore::load(serial::InputArchive& ar) {
    int maxsize = 0;
    std::uint32_t reader = 0, writer = 0;
    ar(maxsize, reader, writer);
    auto rlock = multiprocessing::Lock::nogil_load(ar);
    auto wlock = multiprocessing::Lock::nogil_load(ar);
    bool bounded = false;
    ar(bounded);
    std::optional<multiprocessing::Semaphore> slots;
    if (bounded) slots = multiprocessing::Semaphore::nogil_load(ar);
    auto count = SharedBlock::load(ar);
    return std::shared_ptr<QueueCore>(new QueueCore(maxsize, serial::import_fd(reader), serial::import_fd(writer),
                                                    std::move(rlock), std::move(wlock), std::move(slots),
                                                    std::move(count)));
}

}  // namespace nogil::multiprocessing::detail
