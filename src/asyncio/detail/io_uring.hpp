#pragma once
// io_uring implementation of IoBackend (readiness, the same contract as epoll's): every watched
// fd has one one-shot IORING_OP_POLL_ADD in flight; when it completes the fd is reported and,
// if still watched, re-armed at the start of the next poll(), after the loop ran the callbacks.
// A poll armed on an fd that is still ready completes at once, so this is level-triggered like
// the epoll backend (a reader that took 64 KiB of a larger backlog is told again). The re-arms,
// interest changes and removals of a loop turn go to the kernel with the wait, in one
// io_uring_enter: a turn costs one system call for the ring, like epoll_wait.
//
// Stale completions: each arming carries a generation in its user_data; a completion whose
// generation is no longer the fd's current one (the fd was unwatched, maybe closed and its
// number reused) is dropped. unwatching submits IORING_OP_POLL_REMOVE with the next enter.
//
// Cross-thread wake-up: an eventfd with an IORING_OP_READ always in flight (wakeup() writes it;
// the read completing ends the wait; no extra system call to drain it).
//
// Completion-based receive (start_recv, used by stream transports on sockets): an
// IORING_OP_RECV per socket into a provided buffer ring (io_uring_register_buf_ring; liburing
// 2.3 has no io_uring_setup_buf_ring): the kernel receives when bytes arrive, the completion
// comes with the loop's wait, the bytes are handed to the sink and the buffer given back at
// once. No read() per message. One-shot (re-armed by the sink's owner with the next enter),
// not multishot: see submit_recvs. A receive is prepared at the next poll(), after the turn's
// sends: the kernel runs a turn's SQEs in order, and a receive that finds the socket empty arms a
// poll before the next SQE runs, so a re-arm queued before the send it answers would hold that
// send back (0.5-1 us of p50 at one connection: bench/echo/RESULTS.md).
//
// Completion-based send (queue_send, used by stream transports on sockets): a transport's
// writes of a loop turn are queued in its buffer; at the next poll() the backend takes the whole
// queue (swapping buffers, no copy) and prepares one IORING_OP_SEND, which goes to the kernel
// with the turn's single io_uring_enter. The backend owns the bytes until the send's last
// completion (a transport closed meanwhile cannot free them); a partial send goes on with the
// rest at the next enter. No send() per message.
//
// Completion-based accept (start_accept, used by servers): one multishot IORING_OP_ACCEPT per
// listening socket (io_uring_prep_multishot_accept, kernel 5.19): every connection the kernel
// accepts comes with the loop's wait, no accept4() per connection and no readiness report.
// When the kernel ends it (an error such as EMFILE, or for its own reasons) the sink is told
// and starts another.
//
// Ring set-up: IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL (the
// kernel does a completion's work - the copy of a receive, the rest of a send - only inside our
// io_uring_enter, never by interrupting the loop's thread or in another context), created with
// IORING_SETUP_R_DISABLED: an EventLoop may be created on one thread and run on another, and
// SINGLE_ISSUER binds the ring to the thread that enables it, so the ring is enabled by
// bind_thread() at the loop's first run, on the thread that runs it. A later run on another
// thread is a RuntimeError (the kernel refuses its submissions with EEXIST). Until then SQEs are
// only prepared (they are user memory); wakeup() never submits (it writes the eventfd). When the
// kernel refuses the flags (EINVAL: older than 6.1), or NOGIL_ASYNCIO_IO_URING_SETUP=coop, the
// ring is IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL and any thread may run the loop.

#include <nogil/asyncio/detail/io_backend.hpp>
#include <nogil/asyncio/detail/transport_buffer.hpp>

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <thread>
#include <unordered_map>
#include <vector>

namespace nogil::asyncio::detail {

class IoUringBackend final : public IoBackend {
public:
    /// Creates the ring and the wake-up eventfd. On failure returns null and sets `why` (a
    /// sentence naming the cause: seccomp, kernel.io_uring_disabled, an old kernel...) and `err`.
    static std::unique_ptr<IoUringBackend> create(std::string& why, int& err);
    ~IoUringBackend() override;
    IoUringBackend(const IoUringBackend&) = delete;
    IoUringBackend& operator=(const IoUringBackend&) = delete;

    void watch(int fd, std::uint32_t events) override;
    /// Watched fds and receives in flight: the loop polls while either waits for the kernel.
    std::size_t watched() const noexcept override { return interest_.size() + recv_in_flight_ + sends_ + accepts_; }
    void poll(std::optional<std::chrono::nanoseconds> timeout, std::vector<IoEvent>& out) override;
    void wakeup() noexcept override;
    IoBackendKind kind() const noexcept override { return IoBackendKind::io_uring; }
    void bind_thread() override;
    /// True if the ring is SINGLE_ISSUER | DEFER_TASKRUN (bound to the thread that first runs
    /// the loop); false for the COOP_TASKRUN ring any thread may run.
    bool single_issuer() const noexcept { return single_issuer_; }
    bool can_recv() noexcept override;
    std::uint64_t start_recv(int fd, RecvSink& sink) override;
    void cancel_recv(std::uint64_t id) noexcept override;
    void detach_recv(std::uint64_t id) noexcept override;
    bool can_send() noexcept override { return can_recv(); }
    std::uint64_t queue_send(int fd, SendSource& source) override;
    void cancel_send(std::uint64_t id) noexcept override;
    bool can_accept() noexcept override { return can_recv(); }
    std::uint64_t start_accept(int fd, AcceptSink& sink) override;
    void detach_accept(std::uint64_t id) noexcept override;

private:
    IoUringBackend() = default;
    struct Interest {
        std::uint32_t events = 0;
        std::uint32_t gen = 0;     // generation of the poll in flight (or to re-arm)
        bool armed = false;        // a POLL_ADD of generation `gen` is in flight
        bool rearm = false;        // queued in rearm_
    };
    /// An operation in flight: an IORING_OP_RECV (from start_recv() until its last
    /// completion), a send (from queue_send() until on_send_end) or a multishot accept.
    struct Op {
        RecvSink* sink = nullptr;      // a receive's; null once detached
        SendSource* source = nullptr;  // a send's
        AcceptSink* acceptor = nullptr;  // an accept's; null once detached
        ByteBuffer bytes{16 * 1024};   // a send's: what the kernel sends (the backend owns it)
        std::uint32_t index = 0;       // in ops_
        std::uint64_t kind = 0;        // its user_data's kind bits
        std::size_t sent = 0;          // a send's bytes sent so far
        int fd = -1;                   // its socket
        std::uint32_t gen = 0;
        bool in_use = false;
        bool cancel_sent = false;      // ASYNC_CANCEL submitted (or, for a queued send or receive, asked)
        bool submitted = false;        // an SQE is in flight (false while queued for the next poll)
    };
    /// Takes a free op (or makes one) for an operation of `kind` on `fd`, counts it in `count`
    /// (recv_in_flight_, sends_ or accepts_; free_op's caller uncounts it) and sets `id`.
    Op& begin_op(std::uint64_t kind, int fd, std::size_t& count, std::uint64_t& id);
    void free_op(Op& op) noexcept;
    Op* find_op(std::uint64_t id, std::uint64_t kind) noexcept;
    void cancel_in_kernel(Op& op, std::uint64_t id) noexcept;
    void submit_recvs();
    void complete_recv(std::uint64_t data, int res, unsigned flags);
    void submit_sends();
    void complete_send(std::uint64_t data, int res);
    void complete_accept(std::uint64_t data, int res, unsigned flags);
    void end_send(Op& op, long res) noexcept;
    void finish_ops() noexcept;
    void give_back_buffer(unsigned bid) noexcept;
    io_uring_sqe* sqe();
    void arm(int fd, Interest& in);
    void disarm(int fd, Interest& in);
    void arm_wake_read();

    io_uring ring_{};
    bool ring_ok_ = false;
    bool single_issuer_ = false;  // SINGLE_ISSUER | DEFER_TASKRUN, created disabled
    bool enabled_ = false;        // the kernel accepts submissions (a SINGLE_ISSUER ring: enabled by bind_thread)
    pid_t owner_ = 0;             // a SINGLE_ISSUER ring's thread (its kernel id), once enabled
    int wake_fd_ = -1;
    std::uint64_t wake_buf_ = 0;
    bool wake_armed_ = false;
    std::uint32_t next_gen_ = 1;
    std::unordered_map<int, Interest> interest_;
    std::vector<int> rearm_;  // fds whose poll fired: re-armed at the next poll() if still watched
    // Completion-based receives and sends: the ops (their index is in the user_data) and the
    // provided buffer ring receives use (set up on the first can_recv()).
    std::vector<std::unique_ptr<Op>> ops_;  // by index; an Op (its ByteBuffer) does not move
    std::vector<std::uint32_t> free_ops_;
    std::vector<std::uint32_t> send_queue_;  // sends to submit at the next poll()
    std::vector<std::uint32_t> recv_queue_;  // receives to submit at the next poll(), after the sends
    std::size_t recv_in_flight_ = 0;
    std::size_t sends_ = 0;  // sends queued or in flight
    std::size_t accepts_ = 0;  // multishot accepts in flight
    std::uint32_t next_op_gen_ = 1;
    int recv_state_ = 0;  // 0 not tried, 1 ready, -1 unavailable
    io_uring_buf_ring* buf_ring_ = nullptr;
    char* buffers_ = nullptr;
};

}  // namespace nogil::asyncio::detail
