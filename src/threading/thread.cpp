// Thread lifetime, in order:
//  1. Thread(...) makes a ThreadState holding the target; nothing runs yet.
//  2. start() registers the state as active (so active_count() counts it at once), launches a
//     detached std::thread running bootstrap(), and waits for `started`.
//  3. bootstrap() records ident/native_id, publishes itself as current_thread(), sets `started`,
//     runs the target (an escaping exception goes to excepthook), destroys the target and the
//     thread's local<T> values, leaves the registry, and sets `finished` as its last act.
//  4. join() waits for `finished`. At normal program exit an atexit hook runs the functions
//     other modules registered with detail::register_atexit (executors waiting for their work),
//     then joins every non-daemon thread still registered (repeatedly, since they may start
//     more), like threading._shutdown.
// Tests (tests/threading_thread_test.cpp): step 1 Thread.JoinBeforeStartThrows; 2
// Thread.StartTwiceThrows, Thread.ActiveCountAndEnumerateSeeRunningThreads; 3
// Thread.CurrentThreadIsTheSameHandle, Thread.UncaughtExceptionIsPrintedWithTheThreadName,
// Thread.HandleMayBeDroppedWhileTheThreadRuns; 4 Thread.TimedJoinOfABlockedThread,
// ThreadExitDeathTest.NonDaemonThreadsAreJoinedAtExit, ThreadExitDeathTest.DaemonThreadsAreNotWaitedFor.

#include "threading/detail/atexit.hpp"
#include <nogil/threading/event.hpp>
#include <nogil/threading/local.hpp>
#include <nogil/threading/lock.hpp>
#include <nogil/threading/thread.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <mutex>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>

namespace nogil::threading {

namespace detail {

enum class ThreadKind { started_by_nogil, main, dummy };

struct ThreadState : std::enable_shared_from_this<ThreadState> {
    ThreadState(ThreadKind kind, std::string name, bool daemon, std::unique_ptr<Target> target)
        : kind(kind), name(std::move(name)), daemon(daemon), target(std::move(target)) {}

    const ThreadKind kind;
    mutable Lock mutex;  // guards name and daemon
    std::string name;
    bool daemon;
    std::unique_ptr<Target> target;  // touched by start() before, and the thread itself after, `started`
    std::atomic<bool> start_called{false};
    std::atomic<unsigned long> ident{0};
    std::atomic<unsigned long> native_id{0};
    Event started;
    Event finished;
};

}  // namespace detail

namespace {

using detail::ThreadKind;
using detail::ThreadState;

unsigned long current_native_id() noexcept { return static_cast<unsigned long>(::syscall(SYS_gettid)); }

// Python's _counter: "Thread-N" and "Dummy-N" share it.
std::atomic<unsigned long> name_counter{0};
std::string next_name(const char* prefix) { return prefix + std::to_string(++name_counter); }

// Every alive thread. Never destroyed: daemon threads may still leave it during static destruction.
struct Registry {
    Lock mutex;
    std::vector<std::shared_ptr<ThreadState>> active;
    std::shared_ptr<ThreadState> main;

    void add(std::shared_ptr<ThreadState> state) {
        std::scoped_lock guard(mutex);
        active.push_back(std::move(state));
    }
    void remove(const ThreadState* state) {
        std::scoped_lock guard(mutex);
        for (auto it = active.begin(); it != active.end(); ++it) {
            if (it->get() == state) {
                active.erase(it);
                return;
            }
        }
    }
};

Registry& registry() {
    static Registry* const instance = [] {
        auto* r = new Registry;
        r->main = std::make_shared<ThreadState>(ThreadKind::main, "MainThread", false, nullptr);
        // The library is initialised on the main thread in any normal program; record its ids.
        r->main->ident.store(static_cast<unsigned long>(::pthread_self()));
        r->main->native_id.store(static_cast<unsigned long>(::getpid()));
        r->main->start_called.store(true);
        r->main->started.set();
        r->active.push_back(r->main);
        return r;
    }();
    return *instance;
}

// The calling thread's state. The raw pointer is trivially destructible, so it stays usable
// while the main thread runs atexit hooks and static destructors (after its thread_locals died);
// the main thread's state lives in the never-destroyed registry. The owner keeps the state of a
// nogil or dummy thread alive until the thread's very end, and ends a dummy's registration.
thread_local ThreadState* current_raw = nullptr;
struct CurrentOwner {
    std::shared_ptr<ThreadState> state;
    ~CurrentOwner() {
        if (state && state->kind == ThreadKind::dummy) {
            registry().remove(state.get());
            state->finished.set();
        }
        if (current_raw == state.get()) current_raw = nullptr;  // never left dangling
    }
};
thread_local CurrentOwner current_owner;

bool is_main_thread() noexcept { return current_native_id() == static_cast<unsigned long>(::getpid()); }

ThreadState& current_state() {
    if (current_raw) return *current_raw;
    if (is_main_thread()) {
        current_raw = registry().main.get();
    } else {
        auto dummy = std::make_shared<ThreadState>(ThreadKind::dummy, next_name("Dummy-"), true, nullptr);
        dummy->ident.store(get_ident());
        dummy->native_id.store(current_native_id());
        dummy->start_called.store(true);
        dummy->started.set();
        registry().add(dummy);
        current_raw = dummy.get();
        current_owner.state = std::move(dummy);
    }
    return *current_raw;
}
// Python's _threading_atexits. Never destroyed: read by the exit hook after static destruction began.
struct AtExitFunctions {
    std::mutex mutex;
    std::vector<std::function<void()>> functions;  // guarded by mutex
    bool shutting_down = false;                    // guarded by mutex
};
AtExitFunctions& atexit_functions() {
    static AtExitFunctions* const instance = new AtExitFunctions;
    return *instance;
}

// threading._shutdown: run the registered atexit functions (newest first), then join non-daemon
// threads until none is left, then mark the main thread ended. Once: the std::atexit hook and
// multiprocessing's exit handler (which must run after it, as Python's finalization orders them)
// both call it.
void join_non_daemon_threads_at_exit() {
    static std::atomic<bool> ran{false};
    if (ran.exchange(true)) return;
    std::vector<std::function<void()>> functions;
    {
        std::lock_guard guard(atexit_functions().mutex);
        atexit_functions().shutting_down = true;
        functions.swap(atexit_functions().functions);
    }
    for (auto it = functions.rbegin(); it != functions.rend(); ++it) (*it)();
    // Not current_state(): std::exit has already destroyed the calling thread's thread_locals.
    const ThreadState* self = current_raw;
    for (;;) {
        std::shared_ptr<ThreadState> pending;
        {
            std::scoped_lock guard(registry().mutex);
            for (auto& state : registry().active) {
                if (state->kind != ThreadKind::started_by_nogil || state.get() == self) continue;
                std::scoped_lock state_guard(state->mutex);
                if (!state->daemon) {
                    pending = state;
                    break;
                }
            }
        }
        if (!pending) break;
        pending->finished.wait();
    }
    registry().main->finished.set();
}

// fork() copies only the forking thread. As Python's _after_fork does, the child forgets the
// other threads (marked ended, so joining them returns and the exit hook does not wait for
// them) and the forking thread becomes the child's main thread. The registry lock is held
// across fork() so the child never inherits it locked by a thread that no longer exists.
void before_fork() { registry().mutex.lock(); }
void after_fork_in_parent() { registry().mutex.unlock(); }
void after_fork_in_child() {
    Registry& r = registry();
    std::shared_ptr<ThreadState> self = current_raw ? current_raw->shared_from_this() : r.main;
    for (auto& state : r.active) {
        if (state != self) state->finished.set();
    }
    r.active.assign(1, self);
    r.main = self;
    r.mutex.unlock();
}

[[maybe_unused]] const bool registered_at_startup = [] {
    registry();
    ::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
    return true;
}();

void install_exit_hook_once() {
    static std::once_flag once;
    std::call_once(once, [] { std::atexit(join_non_daemon_threads_at_exit); });
}

}  // namespace

void detail::shutdown() { join_non_daemon_threads_at_exit(); }

void detail::register_atexit(std::function<void()> fn) {
    install_exit_hook_once();
    std::lock_guard guard(atexit_functions().mutex);
    if (atexit_functions().shutting_down) throw std::runtime_error("can't register atexit after shutdown");
    atexit_functions().functions.push_back(std::move(fn));
}

namespace {

void report_hook_failure(const ExceptHookArgs& args) {
    std::fputs("Exception in threading.excepthook:\n", stderr);
    default_excepthook({std::current_exception(), args.thread});
    default_excepthook(args);
}

void bootstrap(std::shared_ptr<ThreadState> state) {
    state->ident.store(get_ident(), std::memory_order_relaxed);
    state->native_id.store(current_native_id(), std::memory_order_relaxed);
    current_raw = state.get();
    current_owner.state = state;
    {
        std::string os_name;
        {
            std::scoped_lock guard(state->mutex);
            os_name = state->name.substr(0, 15);  // Linux's limit, without the NUL
        }
        ::pthread_setname_np(::pthread_self(), os_name.c_str());
    }
    state->started.set();
    try {
        (*state->target)();
    } catch (...) {
        ExceptHookArgs args{std::current_exception(), current_thread()};
        try {
            excepthook(args);
        } catch (...) {
            report_hook_failure(args);
        }
    }
    // Python deletes _target after run(): the target's captures die on this thread, now.
    state->target.reset();
    detail::release_thread_locals();
    registry().remove(state.get());
    state->finished.set();
}

std::string type_name(const std::type_info& type) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
    std::string result = (status == 0 && demangled) ? demangled : type.name();
    std::free(demangled);
    return result;
}

Lock excepthook_mutex;
ExceptHook::Function* installed_hook = nullptr;  // guarded by excepthook_mutex; null: the default

}  // namespace

Thread::Thread(ThreadOptions options, std::unique_ptr<detail::Target> target) {
    std::string name = options.name.empty() ? next_name("Thread-") : std::move(options.name);
    bool daemonic = options.daemon ? *options.daemon : current_thread().daemon();
    state_ = std::make_shared<ThreadState>(ThreadKind::started_by_nogil, std::move(name), daemonic, std::move(target));
}

void Thread::start() {
    if (state_->kind != ThreadKind::started_by_nogil || state_->start_called.exchange(true))
        throw std::runtime_error("threads can only be started once");
    install_exit_hook_once();
    registry().add(state_);
    try {
        std::thread(bootstrap, state_).detach();
    } catch (...) {
        registry().remove(state_.get());
        state_->start_called.store(false);
        throw;
    }
    state_->started.wait();
}

void Thread::join() { join_until(std::nullopt); }

bool Thread::join_until(detail::Deadline deadline) {
    if (!state_->started.is_set()) throw std::runtime_error("cannot join thread before it is started");
    if (state_.get() == &current_state()) throw std::runtime_error("cannot join current thread");
    if (state_->kind == ThreadKind::dummy) throw std::runtime_error("cannot join a dummy thread");
    return state_->finished.wait_until(deadline);
}

bool Thread::is_alive() const noexcept { return state_->started.is_set() && !state_->finished.is_set(); }

std::string Thread::name() const {
    std::scoped_lock guard(state_->mutex);
    return state_->name;
}

void Thread::set_name(std::string name) {
    std::scoped_lock guard(state_->mutex);
    state_->name = std::move(name);
}

bool Thread::daemon() const noexcept {
    std::scoped_lock guard(state_->mutex);
    return state_->daemon;
}

void Thread::set_daemon(bool daemonic) {
    if (state_->start_called.load()) throw std::runtime_error("cannot set daemon status of active thread");
    std::scoped_lock guard(state_->mutex);
    state_->daemon = daemonic;
}

std::optional<unsigned long> Thread::ident() const noexcept {
    if (!state_->started.is_set()) return std::nullopt;
    return state_->ident.load(std::memory_order_relaxed);
}

std::optional<unsigned long> Thread::native_id() const noexcept {
    if (!state_->started.is_set()) return std::nullopt;
    return state_->native_id.load(std::memory_order_relaxed);
}

Thread current_thread() { return Thread(current_state().shared_from_this()); }

Thread main_thread() { return Thread(registry().main); }

unsigned long get_ident() noexcept { return static_cast<unsigned long>(::pthread_self()); }

unsigned long get_native_id() noexcept { return current_native_id(); }

std::size_t active_count() {
    std::scoped_lock guard(registry().mutex);
    return registry().active.size();
}

std::vector<Thread> enumerate() {
    std::scoped_lock guard(registry().mutex);
    std::vector<Thread> threads;
    threads.reserve(registry().active.size());
    for (auto& state : registry().active) threads.push_back(Thread(state));
    return threads;
}

void default_excepthook(const ExceptHookArgs& args) {
    std::string message = "Exception in thread " + args.thread.name() + ":\n";
    try {
        std::rethrow_exception(args.exc_value);
    } catch (const std::exception& e) {
        message += type_name(typeid(e)) + ": " + e.what() + "\n";
    } catch (...) {
        const std::type_info* type = abi::__cxa_current_exception_type();
        message += (type ? type_name(*type) : std::string("unknown exception")) + "\n";
    }
    std::fputs(message.c_str(), stderr);
    std::fflush(stderr);
}

ExceptHook& ExceptHook::operator=(Function hook) {
    auto* replacement = hook ? new Function(std::move(hook)) : nullptr;
    Function* old;
    {
        std::scoped_lock guard(excepthook_mutex);
        old = installed_hook;
        installed_hook = replacement;
    }
    delete old;
    return *this;
}

ExceptHook::Function ExceptHook::get() const {
    std::scoped_lock guard(excepthook_mutex);
    return installed_hook ? *installed_hook : Function(default_excepthook);
}

void ExceptHook::operator()(const ExceptHookArgs& args) const { get()(args); }

}  // namespace nogil::threading
