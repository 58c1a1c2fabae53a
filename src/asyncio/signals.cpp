// Unix signals for asyncio: EventLoop::add_signal_handler / remove_signal_handler and the
// Ctrl-C guard of asyncio::run(). The protocol is written at the top of
// include/nogil/asyncio/signals.hpp.
#include <nogil/asyncio/signals.hpp>

#include <nogil/detail/asyncio_child.hpp>  // UniqueFd
#include <nogil/detail/asyncio_task_base.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace nogil::detail {

namespace {

/// The write end of the active hub's pipe; read by the C handler (any thread, any moment).
std::atomic<int> wakeup_fd{-1};

void on_signal(int sig) {
    const int saved = errno;
    const int fd = wakeup_fd.load(std::memory_order_relaxed);
    if (fd >= 0) {
        const auto byte = static_cast<unsigned char>(sig);
        [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);  // full pipe: the signal coalesces
    }
    errno = saved;
}

void set_disposition(int sig, void (*handler)(int)) noexcept {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = handler == SIG_DFL ? 0 : SA_RESTART;
    ::sigaction(sig, &sa, nullptr);
}

/// The loop side of signal handling. Owned by the loop's callback on the pipe's read end: when
/// the loop drops that callback (last handler removed, or loop closed) the hub is destroyed and
/// every disposition it set goes back to SIG_DFL.
struct SignalHub {
    LoopCore* loop;
    UniqueFd read_end, write_end;
    std::map<int, std::function<void()>> handlers;

    explicit SignalHub(LoopCore& l) : loop(&l) {}
    ~SignalHub();

    /// Loop thread: reads the signal numbers and queues their handlers.
    void drain() {
        unsigned char buf[64];
        for (;;) {
            ssize_t n = ::read(read_end.get(), buf, sizeof buf);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                return;  // EAGAIN: drained
            }
            for (ssize_t i = 0; i < n; ++i) {
                auto it = handlers.find(buf[i]);
                if (it != handlers.end() && !loop->is_closed()) loop->call_soon(it->second);
            }
        }
    }
};

/// The hub of the loop that handles signals (main thread only, so no lock).
SignalHub* active_hub = nullptr;

SignalHub::~SignalHub() {
    for (const auto& [sig, fn] : handlers) set_disposition(sig, SIG_DFL);
    wakeup_fd.store(-1, std::memory_order_relaxed);
    if (active_hub == this) active_hub = nullptr;
}

void check_signal_number(int sig) {
    if (sig <= 0 || sig >= NSIG) throw std::invalid_argument("sig: invalid signal number " + std::to_string(sig));
}

SignalHub& hub_for(LoopCore& core) {
    if (active_hub) {
        if (active_hub->loop != &core) throw std::runtime_error("another event loop already handles signals");
        return *active_hub;
    }
    auto hub = std::make_shared<SignalHub>(core);
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw OSError(errno, "pipe2 (signal wakeup)");
    hub->read_end.reset(fds[0]);
    hub->write_end.reset(fds[1]);
    core.set_fd_callback(fds[0], false, [hub] { hub->drain(); });
    wakeup_fd.store(fds[1], std::memory_order_relaxed);
    active_hub = hub.get();
    return *hub;
}

/// Drops the hub when it has no handler left (destroys it: see SignalHub).
void release_if_unused(SignalHub& hub) {
    if (hub.handlers.empty()) hub.loop->clear_fd_callback(hub.read_end.get(), false);
}

}  // namespace

}  // namespace nogil::detail

namespace nogil::asyncio {

void EventLoop::add_signal_handler(int sig, std::function<void()> fn) {
    core_->check_thread();
    detail::check_signal_number(sig);
    if (sig == SIGKILL || sig == SIGSTOP) throw std::invalid_argument("sig: SIGKILL and SIGSTOP cannot be caught");
    if (!fn) throw std::invalid_argument("fn must not be empty");
    if (::gettid() != ::getpid()) throw std::runtime_error("add_signal_handler() only works in the main thread");
    if (core_->is_closed()) throw std::runtime_error("Event loop is closed");
    detail::SignalHub& hub = detail::hub_for(*core_);
    struct sigaction sa {};
    sa.sa_handler = &detail::on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (::sigaction(sig, &sa, nullptr) != 0) {
        const int err = errno;
        detail::release_if_unused(hub);
        throw OSError(err, "sigaction(" + std::to_string(sig) + ")");
    }
    hub.handlers[sig] = std::move(fn);
}

bool EventLoop::remove_signal_handler(int sig) {
    core_->check_thread();
    detail::check_signal_number(sig);
    detail::SignalHub* hub = detail::active_hub;
    if (!hub || hub->loop != core_.get()) return false;
    if (hub->handlers.erase(sig) == 0) return false;
    detail::set_disposition(sig, SIG_DFL);
    detail::release_if_unused(*hub);
    return true;
}

}  // namespace nogil::asyncio

namespace nogil::detail {

struct MainTaskInterrupt::State {
    asyncio::EventLoop* loop;
    Ref<TaskBase> task;
    bool installed = false;
    bool interrupted = false;
};

namespace {
/// The SIGINT handler run() installs (a named type so that the guard can recognise it).
struct CancelMainTask {
    std::shared_ptr<MainTaskInterrupt::State> state;
    void operator()() const {
        if (state->interrupted) return;
        if (!state->task->done()) {
            state->interrupted = true;
            state->task->cancel({});
        }
        // A second Ctrl-C now ends the program (SIGINT's default action).
        if (state->installed) {
            state->installed = false;
            state->loop->remove_signal_handler(SIGINT);
        }
    }
};

bool sigint_is_default() noexcept {
    struct sigaction current {};
    return ::sigaction(SIGINT, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
           current.sa_handler == SIG_DFL;
}
}  // namespace

MainTaskInterrupt::MainTaskInterrupt(asyncio::EventLoop& loop, TaskBase& main_task)
    : state_(std::make_shared<State>(State{&loop, Ref<TaskBase>(&main_task)})) {
    if (::gettid() != ::getpid() || !sigint_is_default()) return;
    if (active_hub && active_hub->loop != &loop.core()) return;  // another loop owns signals
    loop.add_signal_handler(SIGINT, CancelMainTask{state_});
    state_->installed = true;
}

MainTaskInterrupt::~MainTaskInterrupt() {
    if (!state_->installed || !active_hub || active_hub->loop != &state_->loop->core()) return;
    auto it = active_hub->handlers.find(SIGINT);
    if (it == active_hub->handlers.end()) return;
    const auto* ours = it->second.target<CancelMainTask>();
    if (!ours || ours->state != state_) return;  // the program installed its own SIGINT handler
    try {
        state_->loop->remove_signal_handler(SIGINT);
    } catch (...) {  // epoll_ctl failing on removal leaves nothing to undo
    }
}

bool MainTaskInterrupt::interrupted() const noexcept { return state_->interrupted; }

void MainTaskInterrupt::throw_if_interrupted() {
    if (state_->interrupted && state_->task->cancelled() && state_->task->uncancel() == 0) throw KeyboardInterrupt();
}

}  // namespace nogil::detail
