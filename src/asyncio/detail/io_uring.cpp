// io_uring readiness backend: see src/asyncio/detail/io_uring.hpp for the design.
#include "asyncio/detail/io_uring.hpp"

#include <nogil/errors.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

namespace {
constexpr std::uint64_t ignore_tag = ~std::uint64_t(0);  // POLL_REMOVE's own completion
constexpr std::uint64_t wake_tag = ~std::uint64_t(0) - 1;  // the eventfd read
constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 8192;

std::uint64_t tag(int fd, std::uint32_t gen) noexcept {
    return (std::uint64_t(gen) << 32) | static_cast<std::uint32_t>(fd);
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
    io_uring_params p{};
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    p.cq_entries = cq_entries;
    int r = io_uring_queue_init_params(sq_entries, &b->ring_, &p);
    if (r < 0) {
        err = -r;
        why = explain_setup_error(err);
        return nullptr;
    }
    b->ring_ok_ = true;
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
    // Submit the wake-up read now, so that a probe that fails (a filter on io_uring_enter) fails here.
    r = io_uring_submit(&b->ring_);
    if (r < 0) {
        err = -r;
        why = std::string("io_uring_enter failed: ") + std::strerror(err);
        return nullptr;
    }
    return b;
}

IoUringBackend::~IoUringBackend() {
    if (ring_ok_) io_uring_queue_exit(&ring_);  // cancels what is in flight (the eventfd read too)
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

io_uring_sqe* IoUringBackend::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s) return s;
    // The submission queue is full (a burst of registrations): hand them to the kernel now.
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
    std::uint32_t gen = next_gen_++;
    if (next_gen_ == 0 || next_gen_ == ~std::uint32_t(0)) next_gen_ = 1;
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
