// Signal handlers for the event loop: Python's add_signal_handler on a self-pipe.
//
// The C handler only writes the signal number to a non-blocking pipe (async-signal-safe); the
// loop watches the pipe's read end like any reader and queues the registered callbacks. The
// write end is process-global because a signal handler has no context: one loop at a time.
#include <nogil/asyncio/detail/loop_core.hpp>

#include <nogil/errors.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

namespace {
std::atomic<int> signal_write_fd{-1};
std::atomic<LoopCore*> signal_loop{nullptr};

extern "C" void forward_signal(int sig) {
    int saved = errno;
    if (LoopCore* loop = signal_loop.load(std::memory_order_relaxed)) loop->note_signal();
    int fd = signal_write_fd.load(std::memory_order_relaxed);
    if (fd >= 0) {
        unsigned char b = static_cast<unsigned char>(sig);
        [[maybe_unused]] auto r = ::write(fd, &b, 1);  // full pipe: the signal is already pending
    }
    errno = saved;
}

bool on_main_thread() { return ::getpid() == static_cast<pid_t>(::syscall(SYS_gettid)); }
}  // namespace

void LoopCore::add_signal_handler(int sig, std::function<void()> fn) {
    check_thread();
    check_open();
    if (sig <= 0 || sig >= NSIG) throw std::invalid_argument("sig " + std::to_string(sig) + " is not a signal number");
    if (sig == SIGKILL || sig == SIGSTOP) throw std::runtime_error("sig " + std::to_string(sig) + " cannot be caught");
    if (!on_main_thread()) throw std::runtime_error("add_signal_handler() must be called from the main thread");
    LoopCore* owner = signal_loop.load();
    if (owner && owner != this) throw std::runtime_error("another event loop already handles signals");
    if (signal_pipe_[0] < 0) {
        if (::pipe2(signal_pipe_, O_NONBLOCK | O_CLOEXEC) < 0) throw OSError(errno, "pipe2");
        set_fd_callback(signal_pipe_[0], false, [this] { read_signals(); });
        signal_loop.store(this);
        signal_write_fd.store(signal_pipe_[1]);
    }
    struct sigaction sa {};
    sa.sa_handler = &forward_signal;
    sa.sa_flags = SA_RESTART;  // Python's siginterrupt(sig, False)
    sigemptyset(&sa.sa_mask);
    if (::sigaction(sig, &sa, nullptr) < 0) throw OSError(errno, "sigaction");
    signal_handlers_[sig] = std::move(fn);
}

bool LoopCore::remove_signal_handler(int sig) {
    check_thread();
    auto it = signal_handlers_.find(sig);
    if (it == signal_handlers_.end()) return false;
    signal_handlers_.erase(it);
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
    return true;
}

void LoopCore::read_signals() {
    unsigned char buf[64];
    ssize_t n;
    while ((n = ::read(signal_pipe_[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
            auto it = signal_handlers_.find(buf[i]);
            if (it != signal_handlers_.end()) call_soon(it->second);
        }
    }
}

void LoopCore::close_signals() noexcept {
    while (!signal_handlers_.empty()) remove_signal_handler(signal_handlers_.begin()->first);
    if (signal_pipe_[0] >= 0) {
        if (signal_loop.load() == this) {
            signal_write_fd.store(-1);
            signal_loop.store(nullptr);
        }
        ::close(signal_pipe_[0]);
        ::close(signal_pipe_[1]);
        signal_pipe_[0] = signal_pipe_[1] = -1;
    }
}

}  // namespace nogil::asyncio::detail
