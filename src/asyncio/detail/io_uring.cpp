// io_uring readiness backend: see src/asyncio/detail/io_uring.hpp for the design.
#include "asyncio/detail/io_uring.hpp"

#include <nogil/errors.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

namespace {
// user_data: bits 62-63 the kind (0 a poll, 1 a receive, 2 a send, 3 an accept or one of the
// two constants below), bits
// 32-61 a generation, bits 0-31 the fd (poll) or the op's index (receive).
constexpr std::uint64_t ignore_tag = ~std::uint64_t(0);  // POLL_REMOVE's and ASYNC_CANCEL's own completions
constexpr std::uint64_t wake_tag = ~std::uint64_t(0) - 1;  // the eventfd read
constexpr std::uint64_t recv_kind = std::uint64_t(1) << 62;
constexpr std::uint64_t send_kind = std::uint64_t(2) << 62;
// An accept's kind is 3, as the two constants': their index part (all ones) names no op.
constexpr std::uint64_t accept_kind = std::uint64_t(3) << 62;
constexpr std::uint64_t kind_mask = std::uint64_t(3) << 62;
constexpr std::uint32_t gen_limit = std::uint32_t(1) << 30;
constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 8192;
// A buffer holds what one read() of the epoll path takes (FdTransport::max_read_size), so a
// turn moves as much per socket on both backends. 4 MiB of address space per loop, mapped on
// first use; touched as the ring cycles.
constexpr unsigned recv_buffers = 64;  // a power of two (the ring's mask)
constexpr unsigned recv_buffer_size = 64 * 1024;
constexpr unsigned short recv_group = 0;

// ThreadSanitizer: liburing maps and unmaps the rings with raw system calls, which TSan does not
// see; a ring mapped where another thread's finished ring was looks like a race on that memory.
// Ring teardown releases and set-up acquires one token, so that TSan orders them as the kernel does.
#if defined(__SANITIZE_THREAD__)
#define NOGIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NOGIL_TSAN 1
#endif
#endif
#ifdef NOGIL_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
char ring_token;
void ring_mapped() noexcept { __tsan_acquire(&ring_token); }
void ring_unmapped() noexcept { __tsan_release(&ring_token); }
#else
void ring_mapped() noexcept {}
void ring_unmapped() noexcept {}
#endif

std::uint64_t tag(int fd, std::uint32_t gen) noexcept {
    return (std::uint64_t(gen) << 32) | static_cast<std::uint32_t>(fd);
}
std::uint32_t next(std::uint32_t& gen) noexcept {
    std::uint32_t g = gen++;
    if (gen >= gen_limit) gen = 1;
    return g;
}

std::string read_sysctl(const char* path) {
    std::string out;
    if (FILE* f = std::fopen(path, "re")) {
        char buf[32] = {};
        if (std::fgets(buf, sizeof buf, f)) out = buf;
        std::fclose(f);
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    }
    return out;
}

/// A sentence naming why io_uring_setup failed with `err`.
std::string explain_setup_error(int err) {
    const std::string base = std::string("io_uring_setup failed: ") + std::strerror(err);
    switch (err) {
        case ENOSYS:
            return base + " (the kernel has no io_uring: older than 5.1, built without it, or a seccomp profile answers ENOSYS)";
        case EPERM:
        case EACCES: {
            const std::string disabled = read_sysctl("/proc/sys/kernel/io_uring_disabled");
            if (disabled == "2") return base + " (kernel.io_uring_disabled=2: io_uring is off for every process)";
            if (disabled == "1")
                return base + " (kernel.io_uring_disabled=1: only processes in kernel.io_uring_group may create rings)";
            return base + " (blocked: typically a seccomp profile, as container runtimes install)";
        }
        case EINVAL:
            return base + " (the kernel does not know the ring set-up flags: older than 5.19)";
        case ENOMEM:
            return base + " (could not allocate the ring: RLIMIT_MEMLOCK on kernels older than 5.12)";
        default:
            return base;
    }
}
}  // namespace

std::unique_ptr<IoUringBackend> IoUringBackend::create(std::string& why, int& err) {
    std::unique_ptr<IoUringBackend> b(new IoUringBackend);
    constexpr unsigned common = IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    const char* setup = std::getenv("NOGIL_ASYNCIO_IO_URING_SETUP");
    const bool coop_only = setup && std::strcmp(setup, "coop") == 0;
    io_uring_params p{};
    int r = -EINVAL;
    if (!coop_only) {
        // Bound to one thread, which the loop's first run picks (bind_thread): created disabled.
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED | common;
        p.cq_entries = cq_entries;
        r = io_uring_queue_init_params(sq_entries, &b->ring_, &p);
        b->single_issuer_ = r >= 0;
    }
    if (r == -EINVAL) {  // a kernel older than 6.1 refuses SINGLE_ISSUER | DEFER_TASKRUN
        p = io_uring_params{};
        p.flags = IORING_SETUP_COOP_TASKRUN | common;
        p.cq_entries = cq_entries;
        r = io_uring_queue_init_params(sq_entries, &b->ring_, &p);
    }
    if (r < 0) {
        err = -r;
        why = explain_setup_error(err);
        return nullptr;
    }
    b->ring_ok_ = true;
    b->enabled_ = !b->single_issuer_;
    ring_mapped();
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        err = ENOSYS;
        why = "io_uring lacks IORING_FEAT_EXT_ARG or IORING_FEAT_NODROP (kernel older than 5.11)";
        return nullptr;
    }
    // Blocking eventfd: an io_uring read of a non-blocking one would complete at once with EAGAIN.
    b->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (b->wake_fd_ < 0) {
        err = errno;
        why = std::string("eventfd: ") + std::strerror(err);
        return nullptr;
    }
    b->arm_wake_read();
    // Probe io_uring_enter now, so that a filter on it (seccomp) fails here. A disabled ring
    // answers EBADFD without submitting (the wake-up read goes with the first run's enter).
    r = b->enabled_ ? io_uring_submit(&b->ring_) : io_uring_enter(b->ring_.ring_fd, 0, 0, 0, nullptr);
    if (r < 0 && !(r == -EBADFD && !b->enabled_)) {
        err = -r;
        why = std::string("io_uring_enter failed: ") + std::strerror(err);
        return nullptr;
    }
    return b;
}

namespace {

// The error of a SINGLE_ISSUER ring used from another thread than its own (the kernel: EEXIST).
[[noreturn]] void throw_not_the_rings_thread() {
    throw std::runtime_error(
        "this event loop's io_uring ring is bound to the thread that first ran it "
        "(IORING_SETUP_SINGLE_ISSUER): run the loop on that thread, or set "
        "NOGIL_ASYNCIO_IO_URING_SETUP=coop, or use the epoll backend");
}

}  // namespace

void IoUringBackend::bind_thread() {
    if (!single_issuer_) return;
    // The kernel's thread id, not std::thread::id: a pthread_t is the address of a thread's stack,
    // which glibc hands to the next thread once one is joined, while the ring stays bound to the
    // kernel task that enabled it (a second thread with the old pthread_t gets EEXIST).
    const pid_t me = ::gettid();
    if (enabled_) {
        if (owner_ != me) throw_not_the_rings_thread();
        return;
    }
    // The first run: the ring takes this thread as its only submitter.
    // (liburing 2.3 declares io_uring_enable_rings but does not export it: the raw call.)
    const int r = io_uring_register(static_cast<unsigned>(ring_.ring_fd), IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    if (r < 0) throw OSError(-r, "io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
    enabled_ = true;
    owner_ = me;
}

IoUringBackend::~IoUringBackend() {
    if (ring_ok_) {
        finish_ops();
        ring_unmapped();  // before: a ring mapped at these addresses right after must see it
        io_uring_queue_exit(&ring_);  // cancels what is in flight (the eventfd read too)
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (buf_ring_) ::munmap(buf_ring_, recv_buffers * sizeof(io_uring_buf));
    if (buffers_) ::munmap(buffers_, std::size_t(recv_buffers) * recv_buffer_size);
}

// ----------------------------------------------------------------------------- receiving

bool IoUringBackend::can_recv() noexcept {
    if (recv_state_ != 0) return recv_state_ > 0;
    recv_state_ = -1;
    // Multishot receive is in 6.0 and later (registered buffer rings in 5.19).
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2 || major < 6) return false;
    void* ring_mem = ::mmap(nullptr, recv_buffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                            MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) return false;
    void* bufs = ::mmap(nullptr, std::size_t(recv_buffers) * recv_buffer_size, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (bufs == MAP_FAILED) {
        ::munmap(ring_mem, recv_buffers * sizeof(io_uring_buf));
        return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
    buffers_ = static_cast<char*>(bufs);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem);
    reg.ring_entries = recv_buffers;
    reg.bgid = recv_group;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) return false;  // unmapped by the destructor
    io_uring_buf_ring_init(buf_ring_);
    for (unsigned i = 0; i < recv_buffers; ++i)
        io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(i) * recv_buffer_size, recv_buffer_size,
                              static_cast<unsigned short>(i), io_uring_buf_ring_mask(recv_buffers), static_cast<int>(i));
    io_uring_buf_ring_advance(buf_ring_, recv_buffers);
    recv_state_ = 1;
    return true;
}

void IoUringBackend::give_back_buffer(unsigned bid) noexcept {
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(bid) * recv_buffer_size, recv_buffer_size,
                          static_cast<unsigned short>(bid), io_uring_buf_ring_mask(recv_buffers), 0);
    io_uring_buf_ring_advance(buf_ring_, 1);
}

// ----------------------------------------------------------------------------- operations

IoUringBackend::Op& IoUringBackend::begin_op(std::uint64_t kind, int fd, std::size_t& count, std::uint64_t& id) {
    std::uint32_t index;
    if (!free_ops_.empty()) {
        index = free_ops_.back();
        free_ops_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(ops_.size());
        ops_.push_back(std::make_unique<Op>());
        ops_.back()->index = index;
    }
    Op& op = *ops_[index];
    op.gen = next(next_op_gen_);
    op.kind = kind;
    op.fd = fd;
    op.in_use = true;
    op.cancel_sent = false;
    op.submitted = false;
    op.sent = 0;
    ++count;
    id = kind | tag(static_cast<int>(index), op.gen);
    return op;
}

void IoUringBackend::free_op(Op& op) noexcept {
    op.in_use = false;
    op.sink = nullptr;
    op.source = nullptr;
    op.acceptor = nullptr;
    op.fd = -1;
    op.bytes.clear();  // keeps a small block for the next send
    free_ops_.push_back(op.index);
}

IoUringBackend::Op* IoUringBackend::find_op(std::uint64_t id, std::uint64_t kind) noexcept {
    if ((id & kind_mask) != kind) return nullptr;
    const std::uint32_t index = static_cast<std::uint32_t>(id);
    const std::uint32_t gen = static_cast<std::uint32_t>(id >> 32) & (gen_limit - 1);
    if (index >= ops_.size()) return nullptr;
    Op* op = ops_[index].get();
    return op->in_use && op->gen == gen ? op : nullptr;
}

void IoUringBackend::cancel_in_kernel(Op& op, std::uint64_t id) noexcept {
    if (op.cancel_sent) return;
    op.cancel_sent = true;
    if (!op.submitted) return;  // a queued send or receive: ended when its turn to be submitted comes
    try {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, id, 0);
        io_uring_sqe_set_data64(s, ignore_tag);
    } catch (...) {  // the ring is broken: the operation ends when the ring does
    }
}

// ----------------------------------------------------------------------------- receiving

std::uint64_t IoUringBackend::start_recv(int fd, RecvSink& sink) {
    if (!can_recv()) return IoBackend::start_recv(fd, sink);
    recv_queue_.reserve(recv_queue_.size() + 1);  // push_back below cannot throw
    std::uint64_t id;
    Op& op = begin_op(recv_kind, fd, recv_in_flight_, id);
    op.sink = &sink;
    // Prepared at the next poll(), after the turn's sends (submit_recvs; io_uring.hpp).
    recv_queue_.push_back(op.index);
    return id;
}

void IoUringBackend::submit_recvs() {
    for (std::size_t i = 0; i < recv_queue_.size(); ++i) {
        Op& op = *ops_[recv_queue_[i]];
        if (op.cancel_sent) {  // cancelled or detached before it reached the kernel
            RecvSink* sink = op.sink;
            --recv_in_flight_;
            free_op(op);
            if (sink) sink->on_recv_end(-ECANCELED);
            continue;
        }
        io_uring_sqe* s;
        try {
            s = sqe();
        } catch (...) {  // the ring is broken: keep the rest queued (the poll reports the error)
            recv_queue_.erase(recv_queue_.begin(), recv_queue_.begin() + static_cast<std::ptrdiff_t>(i));
            throw;
        }
        // One-shot: at most one buffer per receive, re-armed by the transport after its callback
        // ran (like one read() per readiness report), so that a reader that stopped reading holds
        // at most one buffer more than its limit. Multishot would keep moving the socket's whole
        // backlog into the loop's memory until the cancel lands (docs/asyncio-io.md, "Backends").
        io_uring_prep_recv(s, op.fd, nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = recv_group;
        io_uring_sqe_set_data64(s, recv_kind | tag(static_cast<int>(op.index), op.gen));
        op.submitted = true;
    }
    recv_queue_.clear();
}

void IoUringBackend::cancel_recv(std::uint64_t id) noexcept {
    if (Op* op = find_op(id, recv_kind)) cancel_in_kernel(*op, id);
}

void IoUringBackend::detach_recv(std::uint64_t id) noexcept {
    cancel_recv(id);
    if (Op* op = find_op(id, recv_kind)) op->sink = nullptr;
}

void IoUringBackend::complete_recv(std::uint64_t data, int res, unsigned flags) {
    Op* op = find_op(data, recv_kind);
    RecvSink* sink = op ? op->sink : nullptr;
    if (flags & IORING_CQE_F_BUFFER) {
        const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (sink && res > 0) sink->on_recv(buffers_ + std::size_t(bid) * recv_buffer_size, static_cast<std::size_t>(res));
        give_back_buffer(bid);
    }
    if (flags & IORING_CQE_F_MORE) return;
    // The receive's last completion.
    if (op) {
        --recv_in_flight_;
        free_op(*op);
    }
    if (sink) sink->on_recv_end(res > 0 ? 1 : res);
}

// ----------------------------------------------------------------------------- accepting

std::uint64_t IoUringBackend::start_accept(int fd, AcceptSink& sink) {
    if (!can_accept()) return IoBackend::start_accept(fd, sink);
    io_uring_sqe* s = sqe();
    std::uint64_t id;
    Op& op = begin_op(accept_kind, fd, accepts_, id);
    op.acceptor = &sink;
    op.submitted = true;
    io_uring_prep_multishot_accept(s, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, id);
    return id;
}

void IoUringBackend::detach_accept(std::uint64_t id) noexcept {
    if (Op* op = find_op(id, accept_kind)) {
        cancel_in_kernel(*op, id);
        op->acceptor = nullptr;
    }
}

void IoUringBackend::complete_accept(std::uint64_t data, int res, unsigned flags) {
    Op* op = find_op(data, accept_kind);
    AcceptSink* sink = op ? op->acceptor : nullptr;
    if (res >= 0) {
        if (sink)
            sink->on_accept(data, res);
        else
            ::close(res);  // accepted after the detach: nobody takes it
    }
    if (flags & IORING_CQE_F_MORE) return;
    if (op) {
        --accepts_;
        free_op(*op);
    }
    if (sink) sink->on_accept_end(data, res >= 0 ? 1 : res);
}

// ----------------------------------------------------------------------------- sending

std::uint64_t IoUringBackend::queue_send(int fd, SendSource& source) {
    if (!can_send()) return IoBackend::queue_send(fd, source);
    send_queue_.reserve(send_queue_.size() + 1);  // push_back below cannot throw
    std::uint64_t id;
    Op& op = begin_op(send_kind, fd, sends_, id);
    op.source = &source;
    send_queue_.push_back(op.index);
    return id;
}

void IoUringBackend::cancel_send(std::uint64_t id) noexcept {
    if (Op* op = find_op(id, send_kind)) cancel_in_kernel(*op, id);
}

void IoUringBackend::end_send(Op& op, long res) noexcept {
    SendSource* source = op.source;
    --sends_;
    free_op(op);
    source->on_send_end(res);
}

void IoUringBackend::submit_sends() {
    // Swapped out first: a source's on_send_end may not call the backend, but sqe() may submit.
    std::vector<std::uint32_t> queue;
    queue.swap(send_queue_);
    for (std::size_t i = 0; i < queue.size(); ++i) {
        Op& op = *ops_[queue[i]];
        // A fresh send takes its bytes now (every write of the turn); a partial one goes on.
        if (op.cancel_sent || (op.bytes.empty() && !op.source->take_send(op.bytes)) || op.bytes.empty()) {
            end_send(op, -ECANCELED);
            continue;
        }
        io_uring_sqe* s;
        try {
            s = sqe();
        } catch (...) {  // the ring is broken: keep the rest queued (the poll reports the error)
            send_queue_.insert(send_queue_.begin(), queue.begin() + static_cast<std::ptrdiff_t>(i), queue.end());
            throw;
        }
        io_uring_prep_send(s, op.fd, op.bytes.data(), op.bytes.size(), MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, send_kind | tag(static_cast<int>(op.index), op.gen));
        op.submitted = true;
    }
    if (send_queue_.empty()) {
        queue.clear();
        send_queue_.swap(queue);  // keep the capacity
    }
}

void IoUringBackend::complete_send(std::uint64_t data, int res) {
    Op* op = find_op(data, send_kind);
    if (!op) return;
    op->submitted = false;
    if (res > 0) {
        op->sent += static_cast<std::size_t>(res);
        op->bytes.consume(static_cast<std::size_t>(res));
    }
    if (res == -EAGAIN || res == -EINTR || (res > 0 && !op->bytes.empty())) {
        if (!op->cancel_sent) {  // the rest (or a retry) with the next enter
            send_queue_.push_back(op->index);
            return;
        }
        res = -ECANCELED;
    }
    end_send(*op, res < 0 ? res : static_cast<long>(op->sent));
}

void IoUringBackend::finish_ops() noexcept {
    // The ring is going. Sends in flight are cancelled and waited for (the kernel reads their
    // bytes until they end), then every source is told; accepts are cancelled and waited for
    // too, so that a connection accepted since the last wait is closed, not left open unseen.
    // Not possible, and not needed, in two cases. A ring never enabled: nothing reached the
    // kernel. A SINGLE_ISSUER ring closed on another thread than its own (the kernel refuses
    // that thread's submissions and waits): under DEFER_TASKRUN the kernel does an operation's
    // work (the rest of a send, a receive's copy, an accept) only inside its thread's
    // io_uring_enter, which is not running (a running loop cannot be closed); closing the ring
    // (io_uring_queue_exit, below) cancels them without touching our memory, or the thread's exit
    // already did; no completion (no accepted connection) is posted outside that enter either,
    // and the loop's last poll() reaped what its enter posted.
    const bool can_wait = enabled_ && (!single_issuer_ || owner_ == ::gettid());
    std::size_t waiting = 0;
    for (auto& p : ops_) {
        Op& op = *p;
        if (!can_wait) break;
        if (!op.in_use || !op.submitted || (op.kind != send_kind && op.kind != accept_kind)) continue;
        cancel_in_kernel(op, op.kind | tag(static_cast<int>(op.index), op.gen));
        ++waiting;
    }
    while (waiting > 0) {
        io_uring_cqe* cqe = nullptr;
        const int r = io_uring_submit_and_wait(&ring_, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) return;  // leak rather than free what the kernel may read
        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            const std::uint64_t data = io_uring_cqe_get_data64(cqe);
            if (data == ignore_tag || data == wake_tag) continue;
            const std::uint64_t kind = data & kind_mask;
            if (kind != send_kind && kind != accept_kind) continue;
            Op* op = find_op(data, kind);
            if (kind == accept_kind && cqe->res >= 0) ::close(cqe->res);
            if (!op || !op->submitted || (kind == accept_kind && (cqe->flags & IORING_CQE_F_MORE))) continue;
            op->submitted = false;
            --waiting;
        }
        io_uring_cq_advance(&ring_, seen);
    }
    send_queue_.clear();
    recv_queue_.clear();  // never reached the kernel
    for (auto& op : ops_)
        if (op->in_use && op->source) end_send(*op, -ECANCELED);
}

io_uring_sqe* IoUringBackend::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s) return s;
    // The submission queue is full (a burst of registrations): hand them to the kernel now. A
    // ring not enabled yet (more than sq_entries registrations before the loop's first run) is
    // bound to this thread first: a disabled ring takes no submission (EBADFD), and the loop
    // then runs here (a run on another thread is bind_thread's clear error).
    if (!enabled_) bind_thread();
    int r = io_uring_submit(&ring_);
    if (r < 0) throw OSError(-r, "io_uring_submit");
    s = io_uring_get_sqe(&ring_);
    if (!s) throw OSError(EBUSY, "io_uring_get_sqe");
    return s;
}

void IoUringBackend::arm_wake_read() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(s, wake_tag);
    wake_armed_ = true;
}

void IoUringBackend::arm(int fd, Interest& in) {
    std::uint32_t gen = next(next_gen_);
    io_uring_sqe* s = sqe();
    unsigned mask = 0;
    if (in.events & io_readable) mask |= POLLIN;
    if (in.events & io_writable) mask |= POLLOUT;
    io_uring_prep_poll_add(s, fd, mask);
    io_uring_sqe_set_data64(s, tag(fd, gen));
    in.gen = gen;
    in.armed = true;
}

void IoUringBackend::disarm(int fd, Interest& in) {
    if (!in.armed) return;
    io_uring_sqe* s = sqe();
    io_uring_prep_poll_remove(s, tag(fd, in.gen));
    io_uring_sqe_set_data64(s, ignore_tag);
    in.armed = false;
}

void IoUringBackend::watch(int fd, std::uint32_t events) {
    auto it = interest_.find(fd);
    if (events == 0) {
        if (it == interest_.end()) return;
        // The fd may be closed right after this: the poll in flight holds its file until the
        // removal reaches the kernel (with the next enter); its completion is then stale.
        disarm(fd, it->second);
        interest_.erase(it);
        return;
    }
    if (it == interest_.end()) {
        Interest in;
        in.events = events;
        arm(fd, in);
        interest_.emplace(fd, in);
        return;
    }
    Interest& in = it->second;
    if (in.events == events) return;
    in.events = events;
    if (in.armed) {
        disarm(fd, in);
        arm(fd, in);
    }
    // Not armed: its poll fired and it is queued for re-arming, with the new mask.
}

void IoUringBackend::poll(std::optional<std::chrono::nanoseconds> timeout, std::vector<IoEvent>& out) {
    if (!enabled_) bind_thread();  // a backend used without a loop (its tests): the first poll binds
    if (!send_queue_.empty()) submit_sends();
    if (!recv_queue_.empty()) submit_recvs();
    for (int fd : rearm_) {
        auto it = interest_.find(fd);
        if (it == interest_.end() || !it->second.rearm) continue;
        it->second.rearm = false;
        if (!it->second.armed) arm(fd, it->second);
    }
    rearm_.clear();
    if (!wake_armed_) arm_wake_read();

    int r;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_cq_ready(&ring_) > 0 || (timeout && timeout->count() == 0)) {
        // Completions are waiting, or we may not wait: submit (and reap what the kernel has).
        r = io_uring_submit_and_get_events(&ring_);
    } else if (!timeout) {
        r = io_uring_submit_and_wait(&ring_, 1);
    } else {
        __kernel_timespec ts{};
        ts.tv_sec = timeout->count() / 1'000'000'000;
        ts.tv_nsec = timeout->count() % 1'000'000'000;
        r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        if (r == -ETIME) r = 0;
    }
    // EEXIST: the ring's thread has exited and this one has its thread id (ids are reused).
    if (r == -EEXIST && single_issuer_) throw_not_the_rings_thread();
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) throw OSError(-r, "io_uring_enter");

    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        const std::uint64_t data = io_uring_cqe_get_data64(cqe);
        if (data == ignore_tag) continue;
        if (data == wake_tag) {
            wake_armed_ = false;  // re-armed at the next poll(): the wake-up is consumed
            continue;
        }
        if ((data & kind_mask) == recv_kind) {
            complete_recv(data, cqe->res, cqe->flags);
            continue;
        }
        if ((data & kind_mask) == send_kind) {
            complete_send(data, cqe->res);
            continue;
        }
        if ((data & kind_mask) == accept_kind) {
            complete_accept(data, cqe->res, cqe->flags);
            continue;
        }
        const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
        const std::uint32_t gen = static_cast<std::uint32_t>(data >> 32);
        auto it = interest_.find(fd);
        if (it == interest_.end() || it->second.gen != gen || !it->second.armed) continue;  // stale
        Interest& in = it->second;
        in.armed = false;
        in.rearm = true;
        rearm_.push_back(fd);
        std::uint32_t e = 0;
        if (cqe->res < 0) {
            e = io_readable | io_writable;  // e.g. EBADF: let the owner try the call and see the error
        } else {
            const unsigned m = static_cast<unsigned>(cqe->res);
            if (m & (POLLIN | POLLHUP | POLLERR | POLLPRI)) e |= io_readable;
            if (m & (POLLOUT | POLLHUP | POLLERR)) e |= io_writable;
        }
        if (e) out.push_back({fd, e});
    }
    io_uring_cq_advance(&ring_, seen);
}

void IoUringBackend::wakeup() noexcept {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace nogil::asyncio::detail
