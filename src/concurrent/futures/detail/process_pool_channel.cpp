// The shared-memory rings of ProcessPoolExecutor: see include/nogil/concurrent/futures/detail/process_pool_channel.hpp.

#include <nogil/concurrent/futures/detail/process_pool_channel.hpp>
#include <nogil/errors.hpp>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <unistd.h>

namespace nogil::concurrent::futures::detail {
// multiprocessing's machinery: frames, calls, function ids, shared blocks.
using ::nogil::multiprocessing::detail::SharedBlock;
using ::nogil::multiprocessing::detail::check_os;

// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


namespace {

constexpr std::size_t length_bytes = sizeof(std::uint32_t);

// A ring's size is a power of two (indices wrap with a mask) of at least 64 bytes.
bool valid_ring_bytes(std::uint64_t n) { return n >= 64 && (n & (n - 1)) == 0; }

[[noreturn]] void corrupt(const char* why) {
    throw std::runtime_error(std::string("ProcessPoolExecutor: corrupt shared ring: ") + why);
}

}  // namespace

// ---- RingWriter -------------------------------------------------------------------------------

std::size_t RingWriter::free_space() const {
    std::uint64_t head = ctl_->head.load(std::memory_order_acquire);
    // The consumer cannot have read what was not written, nor be more than a ring behind.
    if (head > tail_ || tail_ - head > capacity_) corrupt("consumer index out of bounds");
    return capacity_ - static_cast<std::size_t>(tail_ - head);
}

void RingWriter::put(const void* src, std::size_t n) noexcept {
    auto at = static_cast<std::size_t>(tail_ & (capacity_ - 1));
    std::size_t first = std::min(n, capacity_ - at);
    std::memcpy(data_ + at, src, first);
    std::memcpy(data_, static_cast<const char*>(src) + first, n - first);
    tail_ += n;
}

bool RingWriter::try_write(std::string_view bytes) {
    // Keep room for one marker behind every record: a message that must take the socket can
    // always announce itself.
    if (bytes.size() > capacity_ / 4) return false;
    if (free_space() < 2 * length_bytes + bytes.size()) return false;
    auto n = static_cast<std::uint32_t>(bytes.size());
    put(&n, length_bytes);
    put(bytes.data(), bytes.size());
    publish();
    return true;
}

bool RingWriter::try_write_marker() {
    if (free_space() < length_bytes) return false;
    std::uint32_t marker = ring_marker_length;
    put(&marker, length_bytes);
    publish();
    return true;
}

// ---- RingReader -------------------------------------------------------------------------------

void RingReader::get(void* dst, std::uint64_t at, std::size_t n) const noexcept {
    auto off = static_cast<std::size_t>(at & (capacity_ - 1));
    std::size_t first = std::min(n, capacity_ - off);
    std::memcpy(dst, data_ + off, first);
    std::memcpy(static_cast<char*>(dst) + first, data_, n - first);
}

bool RingReader::marker_pending() const {
    std::uint64_t tail = ctl_->tail.load(std::memory_order_acquire);
    if (tail < head_ || tail - head_ > capacity_) corrupt("producer index out of bounds");
    for (std::uint64_t at = head_; at != tail;) {
        if (tail - at < length_bytes) corrupt("partial record length");
        std::uint32_t n = 0;
        get(&n, at, length_bytes);
        if (n == ring_marker_length) return true;
        if (n > capacity_ / 4 || n > tail - at - length_bytes) corrupt("record length out of bounds");
        at += length_bytes + n;
    }
    return false;
}

std::size_t RingReader::head_length(std::uint32_t& n) const {
    std::uint64_t tail = ctl_->tail.load(std::memory_order_acquire);
    if (tail == head_) return 0;
    // Records are published whole: anything between head and tail is complete.
    if (tail < head_ || tail - head_ > capacity_) corrupt("producer index out of bounds");
    auto available = static_cast<std::size_t>(tail - head_);
    if (available < length_bytes) corrupt("partial record length");
    get(&n, head_, length_bytes);
    return available;
}

RingReader::Next RingReader::peek() const {
    std::uint32_t n = 0;
    if (head_length(n) == 0) return Next::empty;
    return n == ring_marker_length ? Next::marker : Next::record;
}

RingReader::Next RingReader::try_read(std::string& out) {
    std::uint32_t n = 0;
    std::size_t available = head_length(n);
    if (available == 0) return Next::empty;
    if (n == ring_marker_length) {
        head_ += length_bytes;
        ctl_->head.store(head_, std::memory_order_release);
        return Next::marker;
    }
    if (n > capacity_ / 4 || n > available - length_bytes) corrupt("record length out of bounds");
    out.resize(n);
    get(out.data(), head_ + length_bytes, n);
    head_ += length_bytes + n;
    ctl_->head.store(head_, std::memory_order_release);
    return Next::record;
}

// ---- ProcessPoolChannel -----------------------------------------------------------------------

ProcessPoolChannel ProcessPoolChannel::create(int manager_wake, std::size_t ring_bytes) {
    if (!valid_ring_bytes(ring_bytes))
        throw std::invalid_argument("ProcessPoolChannel: ring_bytes must be a power of two >= 64");
    ProcessPoolChannel c;
    c.ring_bytes_ = ring_bytes;
    c.block_ = SharedBlock::create(sizeof(Controls) + 2 * ring_bytes);  // zero-filled: both rings empty
    new (c.block_->data()) Controls{};
    c.wake_ = std::make_shared<UniqueFd>(static_cast<int>(check_os(::dup(manager_wake), "dup")));
    return c;
}

ProcessPoolChannel ProcessPoolChannel::nogil_load(serial::InputArchive& ar) {
    ProcessPoolChannel c;
    c.block_ = SharedBlock::load(ar);
    std::uint32_t wake_index = 0;
    std::uint64_t ring_bytes = 0;
    ar(wake_index, ring_bytes);
    c.wake_ = std::make_shared<UniqueFd>(serial::import_fd(wake_index));
    if (!valid_ring_bytes(ring_bytes) || c.block_->size() < sizeof(Controls) + 2 * ring_bytes)
        throw std::runtime_error("ProcessPoolChannel: block does not match its ring size");
    c.ring_bytes_ = static_cast<std::size_t>(ring_bytes);
    return c;
}

RingWriter ProcessPoolChannel::request_writer() const noexcept {
    return RingWriter(&controls()->requests, request_data(), ring_bytes_);
}
RingReader ProcessPoolChannel::response_reader() const noexcept {
    return RingReader(&controls()->responses, response_data(), ring_bytes_);
}
RingReader ProcessPoolChannel::request_reader() const noexcept {
    return RingReader(&controls()->requests, request_data(), ring_bytes_);
}
RingWriter ProcessPoolChannel::response_writer() const noexcept {
    return RingWriter(&controls()->responses, response_data(), ring_bytes_);
}

void ProcessPoolChannel::wake_manager() const noexcept {
    char one = 1;
    [[maybe_unused]] auto n = ::write(wake_->get(), &one, 1);  // EAGAIN: it is awake anyway
}

}  // namespace nogil::concurrent::futures::detail
