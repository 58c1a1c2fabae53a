#include "multiprocessing/detail/child.hpp"
#include "multiprocessing/detail/current.hpp"
#include <nogil/multiprocessing/detail/frame.hpp>
#include "multiprocessing/detail/resource_tracker.hpp"
#include <nogil/multiprocessing/process.hpp>
#include "threading/detail/atexit.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <unistd.h>

namespace nogil::multiprocessing {

struct Process::State {
    mutable std::mutex mutex;
    std::string name;
    std::string identity;
    bool daemon = false;
    std::string start_method;
    std::function<detail::EncodedCall()> encode;
    std::optional<detail::ChildHandle> child;
    std::optional<int> exitcode;
    bool started = false;
    bool closed = false;

    void check_open() const {
        if (closed) throw std::invalid_argument("process object is closed");
    }
    // Holding `mutex`: collects the exit code if the child has ended by `deadline`.
    bool poll_locked(detail::Deadline deadline) {
        if (exitcode) return true;
        if (!child) return false;
        exitcode = child->wait(deadline);
        return exitcode.has_value();
    }
};

namespace {

// Children started by this process and not yet seen to end: active_children() and the exit
// handler walk it (Python's _children).
struct Children {
    std::mutex mutex;
    std::vector<std::shared_ptr<Process::State>> started;
    int counter = 0;
    int owner_pid = ::getpid();
};

Children& children() { return detail::process_singleton<Children>(); }  // the exit handler uses it

// At exit of the process that started them: terminate daemonic children, then join them all
// (Python's multiprocessing.util._exit_function).
void exit_handler() {
    Children& c = children();
    if (c.owner_pid != ::getpid()) return;  // a forked child inherited the handler
    // Python's order: threading._shutdown (executors finish their work, non-daemon threads are
    // joined) before multiprocessing's _exit_function; a process pool's workers are needed there.
    threading::detail::shutdown();
    for (auto& p : active_children())
        if (p.daemon()) p.terminate();
    for (auto& p : active_children()) p.join();
}

void register_child(const std::shared_ptr<Process::State>& state) {
    detail::install_process_exit_handler();  // done already, when the launcher thread was made
    Children& c = children();
    std::lock_guard lock(c.mutex);
    if (c.owner_pid != ::getpid()) {  // we are a child that inherited our parent's list
        c.started.clear();
        c.owner_pid = ::getpid();
    }
    c.started.push_back(state);
}

}  // namespace

void Process::init(const ProcessOptions& options, std::function<detail::EncodedCall()> encode) {
    state_ = std::make_shared<State>();
    state_->encode = std::move(encode);
    const detail::CurrentProcess& me = detail::current_process_record();
    {
        Children& c = children();
        std::lock_guard lock(c.mutex);
        int n = ++c.counter;
        state_->identity = me.identity.empty() ? std::to_string(n) : me.identity + ":" + std::to_string(n);
    }
    state_->name = options.name.empty() ? "Process-" + state_->identity : options.name;
    state_->daemon = options.daemon.value_or(me.daemon);
    if (!options.start_method.empty()) detail::parse_start_method(options.start_method);  // validate now
    state_->start_method = options.start_method;
}

void Process::start() {
    // Python's _cleanup() in start(): forget the children seen to have ended, so that a program
    // that starts processes without ever calling active_children() (a pool replacing its
    // workers) does not keep every ended child's descriptors.
    (void)active_children();
    start_locked();
    register_child(state_);  // after releasing the state's lock: active_children() locks registry, then states
}

void Process::start_locked() {
    State& s = *state_;
    std::lock_guard lock(s.mutex);
    s.check_open();
    if (s.started) throw std::runtime_error("cannot start a process twice");
    if (detail::current_process_record().daemon)
        throw std::runtime_error("daemonic processes are not allowed to have children");
    detail::StartMethod method =
        s.start_method.empty() ? detail::default_start_method() : detail::parse_start_method(s.start_method);
    detail::tracker_ensure_running();  // before the child: it inherits the program's tracker
    detail::EncodedCall call = s.encode();
    detail::BootInfo boot{s.name, s.identity, s.daemon, ::getpid()};
    nogil::detail::serial::Payload request = nogil::detail::serial::dumps(boot, call);
    detail::Launched launched = detail::launch_child(method);
    s.child.emplace(std::move(launched.child));
    s.started = true;
    try {
        detail::send_frame(launched.channel.get(), detail::FrameKind::request, request.bytes, request.fds);
    } catch (const OSError&) {
        // The child died before reading its task: its exit code tells the story.
    }
    s.encode = nullptr;  // the arguments were sent: drop our copies (and their descriptors) now
}

void Process::join() { join_until(std::nullopt); }

void Process::join_until(detail::Deadline deadline) {
    State& s = *state_;
    int sentinel;
    {
        std::lock_guard lock(s.mutex);
        s.check_open();
        if (!s.started) throw std::runtime_error("can only join a started process");
        if (s.exitcode) return;
        sentinel = s.child->sentinel();
    }
    // Wait without the lock so that other threads may poll or signal meanwhile.
    if (!detail::wait_readable(sentinel, deadline)) return;
    std::lock_guard lock(s.mutex);
    s.poll_locked(std::chrono::steady_clock::now());
}

bool Process::is_alive() const {
    State& s = *state_;
    std::lock_guard lock(s.mutex);
    s.check_open();
    if (!s.started) return false;
    return !s.poll_locked(std::chrono::steady_clock::now());
}

std::optional<int> Process::pid() const {
    std::lock_guard lock(state_->mutex);
    if (!state_->child) return std::nullopt;
    return state_->child->pid();
}

std::optional<int> Process::exitcode() const {
    State& s = *state_;
    std::lock_guard lock(s.mutex);
    s.check_open();
    s.poll_locked(std::chrono::steady_clock::now());
    return s.exitcode;
}

void Process::terminate() {
    std::lock_guard lock(state_->mutex);
    state_->check_open();
    if (state_->child) state_->child->send_signal(SIGTERM);
}

void Process::kill() {
    std::lock_guard lock(state_->mutex);
    state_->check_open();
    if (state_->child) state_->child->send_signal(SIGKILL);
}

void Process::close() {
    State& s = *state_;
    std::lock_guard lock(s.mutex);
    if (s.closed) return;
    if (s.started && !s.poll_locked(std::chrono::steady_clock::now()))
        throw std::invalid_argument("Cannot close a process while it is still running. "
                                    "You should first call join() or terminate().");
    s.child.reset();
    s.encode = nullptr;
    s.closed = true;
}

int Process::sentinel() const {
    std::lock_guard lock(state_->mutex);
    state_->check_open();
    if (!state_->child) throw std::runtime_error("process not started");
    return state_->child->sentinel();
}

const std::string& Process::name() const { return state_->name; }
void Process::set_name(std::string name) {
    std::lock_guard lock(state_->mutex);
    state_->name = std::move(name);
}
bool Process::daemon() const { return state_->daemon; }
void Process::set_daemon(bool daemon) {
    std::lock_guard lock(state_->mutex);
    if (state_->started) throw std::runtime_error("process has already started");
    state_->daemon = daemon;
}

ProcessInfo current_process() {
    const detail::CurrentProcess& me = detail::current_process_record();
    int pid = ::getpid();
    return ProcessInfo{me.name, pid, me.daemon, pid};
}

std::vector<Process> active_children() {
    Children& c = children();
    std::vector<std::shared_ptr<Process::State>> snapshot;
    {
        std::lock_guard lock(c.mutex);
        if (c.owner_pid != ::getpid()) return {};
        snapshot = c.started;
    }
    std::vector<Process> alive;
    std::vector<Process::State*> ended;
    for (auto& state : snapshot) {
        bool done;
        {
            std::lock_guard lock(state->mutex);
            done = state->closed || state->poll_locked(std::chrono::steady_clock::now());
        }
        if (done) ended.push_back(state.get());
        else alive.push_back(Process(state));
    }
    // Never a state's lock under the registry's (start() takes them in the other order).
    std::lock_guard lock(c.mutex);
    std::erase_if(c.started, [&](const auto& state) {
        return std::find(ended.begin(), ended.end(), state.get()) != ended.end();
    });
    return alive;
}

int cpu_count() {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace nogil::multiprocessing

namespace nogil::multiprocessing::detail {
void install_process_exit_handler() {
    static std::once_flag once;
    std::call_once(once, [] { std::atexit(multiprocessing::exit_handler); });
}
}  // namespace nogil::multiprocessing::detail
