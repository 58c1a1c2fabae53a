// Reaping asyncio subprocesses: a pidfd watched by the loop, or a polling timer as fallback.
// See src/asyncio/detail/child.hpp for the guarantees.
#include "asyncio/detail/child.hpp"

#include <nogil/errors.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace nogil::asyncio::detail {

namespace {

int pidfd_open(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int pidfd_send_signal(int pidfd, int sig) noexcept {
#ifdef SYS_pidfd_send_signal
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
#else
    (void)pidfd;
    (void)sig;
    errno = ENOSYS;
    return -1;
#endif
}

/// Python's returncode from waitid's report.
int returncode_of(const siginfo_t& info) noexcept {
    return info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
}

}  // namespace

ChildWatch::ChildWatch(LoopCore& loop, pid_t pid) noexcept : loop_(&loop), pid_(pid) {}

ChildWatch::~ChildWatch() {
    if (pidfd_ >= 0) ::close(pidfd_);
}

std::shared_ptr<ChildWatch> ChildWatch::start(LoopCore& loop, pid_t pid, bool use_pidfd) {
    std::shared_ptr<ChildWatch> watch(new ChildWatch(loop, pid));
    watch->pidfd_ = use_pidfd ? pidfd_open(pid) : -1;
    if (watch->pidfd_ >= 0) {
        ::fcntl(watch->pidfd_, F_SETFD, FD_CLOEXEC);  // pidfds are CLOEXEC already; be explicit
        // The callback's reference keeps the watch alive until the child is reaped.
        loop.set_fd_callback(watch->pidfd_, false, [w = watch] { w->try_reap(); });
    } else {
        watch->arm_poll_timer();
    }
    return watch;
}

void ChildWatch::arm_poll_timer() {
    if (loop_->is_closed()) return;
    loop_->call_at(Clock::now() + poll_interval_, [w = shared_from_this()] { w->try_reap(); });
    poll_interval_ = std::min(poll_interval_ * 2, std::chrono::milliseconds(100));
}

void ChildWatch::try_reap() {
    if (returncode_) return;
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    int r = pidfd_ >= 0 ? ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG)
                        : ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG);
    if (r < 0) {
        if (errno == EINTR) return;  // level-triggered: we come back next iteration
        // ECHILD: someone else reaped it (a foreign waitpid(-1)); Python reports 255.
        finish(255);
        return;
    }
    if (info.si_pid == 0) {  // not exited yet (spurious wakeup, or the polling fallback)
        if (pidfd_ < 0) arm_poll_timer();
        return;
    }
    finish(returncode_of(info));
}

void ChildWatch::finish(int returncode) {
    returncode_ = returncode;
    if (pidfd_ >= 0) {
        // Drops the callback's reference; the caller (that callback) still holds one.
        if (!loop_->is_closed()) loop_->clear_fd_callback(pidfd_, false);
        ::close(pidfd_);
        pidfd_ = -1;
    }
    auto waiters = std::move(waiters_);
    for (auto& w : waiters)
        if (!w.done()) w.set_result(returncode);
}

asyncio::Future<int> ChildWatch::waiter() {
    loop_->check_open();
    asyncio::Future<int> fut(*loop_->owner());
    if (returncode_) {
        fut.set_result(*returncode_);
        return fut;
    }
    // Drop waiters whose wait() was cancelled, so a loop of cancelled waits does not grow this.
    std::erase_if(waiters_, [](const asyncio::Future<int>& w) { return w.done(); });
    waiters_.push_back(fut);
    return fut;
}

void ChildWatch::send_signal(int sig) {
    if (returncode_) throw ProcessLookupError("process " + std::to_string(pid_) + " has already exited");
    int r = pidfd_ >= 0 ? pidfd_send_signal(pidfd_, sig) : ::kill(pid_, sig);
    if (r < 0) {
        if (errno == ESRCH) throw ProcessLookupError("process " + std::to_string(pid_) + " has already exited");
        if (errno == EINVAL) throw std::invalid_argument("sig: invalid signal number " + std::to_string(sig));
        throw OSError(errno, "send_signal");
    }
}

}  // namespace nogil::asyncio::detail
