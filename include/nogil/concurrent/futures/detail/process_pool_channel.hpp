#pragma once
// ProcessPoolExecutor's fast path between the pool and one worker: two single-producer /
// single-consumer byte rings in one shared memory block (an anonymous memfd: nothing in /dev/shm),
// requests pool -> worker, responses worker -> pool. A message is a record: u32 length, then the
// serialized batch. A message that carries descriptors, or is too large for the ring, travels as
// a frame on the worker's socket instead; its place in the ring is then a marker record
// (length = marker_length), written before the frame, so the reader keeps the order: it reads
// the socket exactly when it meets a marker.
//
// Waking up: a consumer spins briefly on the ring, then announces that it sleeps (`sleeping` = 1,
// seq_cst), re-checks the ring and sleeps. A producer publishes the tail (seq_cst) and then looks
// at `sleeping`: only when it is set does it pay for a wake-up (Dekker: one of the two sees the
// other's store). The worker sleeps on `sleeping` as a process-shared futex; the pool's manager
// thread sleeps in poll(), so a worker wakes it with a byte on the manager's wake-up pipe.
//
// Trust: the pool never trusts the block. A worker can scribble on any byte of it, so every
// index and length read from it is bounded before use (the pool keeps its own copy of the
// indices it owns), and an impossible one throws std::runtime_error: the pool then breaks.

#include <nogil/multiprocessing/detail/shared_block.hpp>
#include <nogil/detail/serial.hpp>
#include <nogil/detail/unique_fd.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace nogil::concurrent::futures::detail {
// multiprocessing's machinery: frames, calls, function ids, shared blocks.
using ::nogil::multiprocessing::detail::SharedBlock;

// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


/// The control words of one ring, each on its own cache line (they live in shared memory).
struct RingControl {
    alignas(64) std::atomic<std::uint64_t> tail{0};      // bytes written (the producer's)
    alignas(64) std::atomic<std::uint64_t> head{0};      // bytes consumed (the consumer's)
    alignas(64) std::atomic<std::uint32_t> sleeping{0};  // 1: the consumer announced it sleeps
};

/// A record length that means "the next message is a frame on the socket".
inline constexpr std::uint32_t ring_marker_length = 0xFFFF'FFFFu;

/// The producer's end of a ring. Not thread-safe (one producer at a time, as its owner ensures).
class RingWriter {
public:
    RingWriter() = default;
    RingWriter(RingControl* control, char* data, std::size_t capacity) noexcept
        : ctl_(control), data_(data), capacity_(capacity), tail_(control->tail.load(std::memory_order_relaxed)) {}

    /// Appends one record. False when it does not fit: some room is always kept for a marker.
    /// Throws std::runtime_error when the consumer's index is impossible.
    bool try_write(std::string_view bytes);
    /// Appends a marker; false when even that does not fit. Throws as try_write.
    bool try_write_marker();
    /// After writing: true when the consumer had announced it sleeps (the announcement is taken:
    /// the caller must wake it).
    bool take_sleeper() noexcept {
        return ctl_->sleeping.load(std::memory_order_seq_cst) != 0 &&
               ctl_->sleeping.exchange(0, std::memory_order_seq_cst) != 0;
    }
    /// True when the consumer has read everything written. Throws as try_write.
    bool drained() const { return free_space() == capacity_; }
    /// The word a sleeping consumer waits on.
    std::atomic<std::uint32_t>& sleep_word() const noexcept { return ctl_->sleeping; }

private:
    std::size_t free_space() const;
    void put(const void* src, std::size_t n) noexcept;
    void publish() noexcept { ctl_->tail.store(tail_, std::memory_order_seq_cst); }

    RingControl* ctl_ = nullptr;
    char* data_ = nullptr;
    std::size_t capacity_ = 0;  // a power of two
    std::uint64_t tail_ = 0;    // ours: the shared copy is only published
};

/// The consumer's end of a ring. Not thread-safe (one consumer).
class RingReader {
public:
    enum class Next { empty, record, marker };

    RingReader() = default;
    RingReader(RingControl* control, const char* data, std::size_t capacity) noexcept
        : ctl_(control), data_(data), capacity_(capacity), head_(control->head.load(std::memory_order_relaxed)) {}

    /// Takes the next record into `out` (record), or a marker, or nothing (empty). Throws
    /// std::runtime_error when the producer's index or a length is impossible.
    Next try_read(std::string& out);
    /// The kind of the next record, without taking it. Throws as try_read.
    Next peek() const;
    /// True when a marker is among the records not yet read. Throws as try_read.
    bool marker_pending() const;
    /// True when something was written since the last read (cheap: one load).
    bool ready() const noexcept { return ctl_->tail.load(std::memory_order_seq_cst) != head_; }
    /// The sleep handshake: announce, re-check ready(), then sleep (or withdraw).
    void announce_sleep() noexcept { ctl_->sleeping.store(1, std::memory_order_seq_cst); }
    void withdraw_sleep() noexcept { ctl_->sleeping.store(0, std::memory_order_relaxed); }
    /// The word the consumer sleeps on (1 while the announcement stands).
    std::atomic<std::uint32_t>& sleep_word() const noexcept { return ctl_->sleeping; }

private:
    void get(void* dst, std::uint64_t at, std::size_t n) const noexcept;
    /// The bytes published past the head (0: empty) and, when there are any, the head record's
    /// length word in `n`. Throws as try_read.
    std::size_t head_length(std::uint32_t& n) const;

    RingControl* ctl_ = nullptr;
    const char* data_ = nullptr;
    std::size_t capacity_ = 0;
    std::uint64_t head_ = 0;  // ours
};

/// Brief spinning that stops paying for itself at once. A spin that ends without its event
/// (the budget was spent, or the spinner found it was descheduled midway: two looks at the
/// clock far apart) makes the next few waits skip spinning (1, 2, 4, ... up to 64; one spin
/// that succeeds resets that). Spinning pays on an idle machine, where a sleeper's wake-up
/// means waking an idle virtual CPU (tens of microseconds) and the event comes within
/// microseconds; on a busy machine the event comes late, a wake-up is cheap, and the spinning
/// only takes the CPU (and the scheduler's favour) from the threads that would end it.
class Spinner {
public:
    explicit Spinner(std::chrono::nanoseconds budget) noexcept : budget_(budget) {}

    /// Calls `ready` until it returns true (then true), or the budget is spent or the spin was
    /// descheduled (then false: the caller sleeps).
    template <class Ready>
    bool spin(Ready&& ready) {
        using Clock = std::chrono::steady_clock;
        if (budget_.count() <= 0) return false;
        if (skip_ > 0) {
            --skip_;
            return false;
        }
        auto last = Clock::now();
        const auto until = last + budget_;
        for (unsigned i = 0;; ++i) {
            if (ready()) {
                backoff_ = 0;
                return true;
            }
            __builtin_ia32_pause();
            if ((i & 7) != 7) continue;
            auto now = Clock::now();
            if (now - last > descheduled_gap || now >= until) {
                backoff_ = backoff_ == 0 ? 1 : std::min(2 * backoff_, max_backoff);
                skip_ = backoff_;
                return false;
            }
            last = now;
        }
    }

private:
    // Eight pauses take well under a microsecond; this much means another thread had the CPU.
    static constexpr std::chrono::microseconds descheduled_gap{20};
    static constexpr unsigned max_backoff = 64;
    std::chrono::nanoseconds budget_;
    unsigned skip_ = 0;
    unsigned backoff_ = 0;
};

/// One worker's channel: the shared block (both rings) and the descriptor a worker writes to
/// wake the pool's manager (the write end of its non-blocking wake-up pipe). Travels to the worker as a process argument.
class ProcessPoolChannel {
public:
    /// Each ring's capacity (a power of two). Messages above a quarter of it take the socket.
    static constexpr std::size_t default_ring_bytes = std::size_t{1} << 20;

    ProcessPoolChannel() = default;
    /// A new channel with rings of `ring_bytes` (a power of two ≥ 64) waking the manager through
    /// `manager_wake` (duplicated).
    static ProcessPoolChannel create(int manager_wake, std::size_t ring_bytes = default_ring_bytes);

    std::size_t ring_bytes() const noexcept { return ring_bytes_; }
    /// The largest message the rings take (larger ones travel on the socket).
    std::size_t max_record() const noexcept { return ring_bytes_ / 4; }

    RingWriter request_writer() const noexcept;   // the pool's end
    RingReader response_reader() const noexcept;  // the pool's end
    RingReader request_reader() const noexcept;   // the worker's end
    RingWriter response_writer() const noexcept;  // the worker's end

    /// The worker's wake-up call to the manager (one byte on its pipe; never blocks).
    void wake_manager() const noexcept;

    /// For tests that play a misbehaving worker: the rings' control words and data.
    RingControl& request_control() const noexcept { return controls()->requests; }
    RingControl& response_control() const noexcept { return controls()->responses; }
    char* response_data() const noexcept { return raw() + sizeof(Controls) + ring_bytes_; }

    /// The word the worker notes its task in (a relaxed store before and after each call), which
    /// `nogil ps` reads through the pool's mapping of the block: id << 1 | 1 while it runs task
    /// `id`, id << 1 once it finished it, 0 before its first task. Never read by the pool.
    std::atomic<std::uint64_t>& running_word() const noexcept { return controls()->running; }

    template <class Archive>
    void save(Archive& ar) const {
        SharedBlock::save(ar, block_);
        ar(serial::export_fd(wake_->get()), static_cast<std::uint64_t>(ring_bytes_));
    }
    static ProcessPoolChannel nogil_load(serial::InputArchive& ar);

private:
    struct Controls {
        RingControl requests;
        RingControl responses;
        // What the worker runs, for `nogil ps` (concurrent/futures/detail/debug_offsets.hpp):
        // id << 1 | 1 while it runs the task `id`, id << 1 once it finished it; 0 before its first.
        alignas(64) std::atomic<std::uint64_t> running{0};
    };
    Controls* controls() const noexcept { return static_cast<Controls*>(block_->data()); }
    char* raw() const noexcept { return static_cast<char*>(block_->data()); }
    char* request_data() const noexcept { return raw() + sizeof(Controls); }

    std::shared_ptr<SharedBlock> block_;
    std::shared_ptr<UniqueFd> wake_;  // shared: the channel is copied into the worker's call
    std::size_t ring_bytes_ = 0;
};

}  // namespace nogil::concurrent::futures::detail
