#pragma once
// threading.Thread and the module functions about threads: current_thread, main_thread,
// get_ident, get_native_id, active_count, enumerate, excepthook.

#include <nogil/threading/detail/timeout.hpp>

#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::threading {

namespace detail {
struct ThreadState;

/// What a Thread runs: a type-erased, move-only call (std::function would require copyable
/// arguments; std::move_only_function is C++23).
struct Target {
    virtual ~Target() = default;
    virtual void operator()() = 0;
};

template <class F, class... Args>
struct BoundTarget final : Target {
    template <class G, class... A>
    explicit BoundTarget(G&& fn, A&&... args) : fn_(std::forward<G>(fn)), args_(std::forward<A>(args)...) {}
    void operator()() override {
        std::apply([this](Args&... args) { std::invoke(std::move(fn_), std::move(args)...); }, args_);
    }
    F fn_;
    std::tuple<Args...> args_;
};

/// Decay-copies `fn` and `args` in the calling thread, as std::thread does (std::ref to share).
template <class F, class... Args>
std::unique_ptr<Target> make_target(F&& fn, Args&&... args) {
    return std::make_unique<BoundTarget<std::decay_t<F>, std::decay_t<Args>...>>(std::forward<F>(fn),
                                                                                 std::forward<Args>(args)...);
}
}  // namespace detail

/// Python's Thread(name=..., daemon=...) keywords.
struct ThreadOptions {
    /// The thread's name; empty gives Python's default "Thread-N".
    std::string name{};
    /// Daemon threads are not waited for at program exit. Unset: inherit the creating thread's
    /// flag (the main thread is not a daemon; a thread nogil did not start counts as one).
    std::optional<bool> daemon{};
};

class Thread;

/// A callable type a Thread can run with these arguments (after decay-copying them).
template <class F, class... Args>
concept ThreadTarget = !std::same_as<std::remove_cvref_t<F>, ThreadOptions> &&
                       !std::derived_from<std::remove_cvref_t<F>, Thread> &&
                       std::invocable<std::decay_t<F>, std::decay_t<Args>...>;

/// Python's threading.Thread, as a handle: copies refer to the same thread, and
/// current_thread() returns a handle equal to the one that started it. Destroying every handle
/// of a running thread is fine (it keeps its own reference while it runs; it is never a
/// joinable std::thread waiting to std::terminate).
///
/// An exception escaping the target goes to threading::excepthook (by default printed to stderr
/// as "Exception in thread NAME:"), never to std::terminate. Non-daemon threads still running
/// when the program exits normally (return from main or std::exit) are joined first, as
/// Python's threading._shutdown does; daemon threads are not waited for.
///
/// A moved-from Thread refers to no thread: it may only be assigned to or destroyed.
///
/// Python's subclassing with an overridden run() is not offered: a handle may be destroyed
/// while its thread runs, so the thread could not call back into it. Pass a target instead.
///
/// Thread safety: every member may be called from any thread (the thread's state is under its own
/// lock); join() from any thread but the thread itself. One handle object must not be assigned
/// while another thread uses that same object (copies are independent, like shared_ptr's). The
/// target runs on the new thread; an exception escaping it goes to threading::excepthook, called on
/// that thread.
class Thread {
public:
    /// A not-yet-started thread that will call fn(args...) (copies of them, made now).
    template <class F, class... Args>
        requires ThreadTarget<F, Args...>
    explicit Thread(F&& fn, Args&&... args)
        : Thread(ThreadOptions{}, detail::make_target(std::forward<F>(fn), std::forward<Args>(args)...)) {}

    /// As above, with a name and daemon flag: Thread({.name = "worker", .daemon = true}, fn).
    template <class F, class... Args>
        requires ThreadTarget<F, Args...>
    Thread(ThreadOptions options, F&& fn, Args&&... args)
        : Thread(std::move(options), detail::make_target(std::forward<F>(fn), std::forward<Args>(args)...)) {}

    /// Starts the thread and returns once it runs (ident() and native_id() are then known).
    /// Throws std::runtime_error("threads can only be started once") on a second call, and
    /// std::system_error if the system cannot create a thread.
    void start();

    /// Blocks the calling thread until this thread ends. Throws std::runtime_error if the
    /// thread was not started ("cannot join thread before it is started"), is the calling
    /// thread ("cannot join current thread") or was not started by nogil ("cannot join a
    /// dummy thread").
    void join();

    /// As join(), giving up after `timeout` (negative: at once). Python's join returns None;
    /// call is_alive() afterwards, or use the result here: true if the thread has ended.
    template <class Rep, class Period>
    bool join(std::chrono::duration<Rep, Period> timeout) {
        return join_until(detail::checked_wait_deadline(timeout));
    }

    /// Whether the thread has started and its target has not yet returned.
    bool is_alive() const noexcept;

    /// The thread's name (any thread may read or change it; the OS name is set once, at start).
    std::string name() const;
    /// Renames the thread.
    void set_name(std::string name);

    /// Whether this is a daemon thread.
    bool daemon() const noexcept;
    /// Sets the daemon flag; throws std::runtime_error("cannot set daemon status of active
    /// thread") once the thread was started.
    void set_daemon(bool daemonic);

    /// get_ident() of the thread once started; std::nullopt before. May be reused after it ends.
    std::optional<unsigned long> ident() const noexcept;
    /// The kernel's thread id (gettid) once started; std::nullopt before.
    std::optional<unsigned long> native_id() const noexcept;

    /// Two handles are equal when they refer to the same thread.
    friend bool operator==(const Thread& a, const Thread& b) noexcept { return a.state_ == b.state_; }

protected:
    /// For types built on Thread (Timer): runs `target` with these options.
    Thread(ThreadOptions options, std::unique_ptr<detail::Target> target);

private:
    friend Thread current_thread();
    friend Thread main_thread();
    friend std::vector<Thread> enumerate();
    explicit Thread(std::shared_ptr<detail::ThreadState> state) noexcept : state_(std::move(state)) {}
    bool join_until(detail::Deadline deadline);

    std::shared_ptr<detail::ThreadState> state_;
};

/// The Thread object of the calling thread. For a thread nogil did not start (other than the
/// main thread) this is a "dummy" thread named "Dummy-N": alive, daemonic, not joinable, and
/// counted by active_count() until it exits, as in Python.
Thread current_thread();

/// The thread that started the program ("MainThread").
Thread main_thread();

/// A nonzero number that identifies the calling thread among live threads (pthread_self).
unsigned long get_ident() noexcept;

/// The kernel's id for the calling thread (gettid).
unsigned long get_native_id() noexcept;

/// How many Thread objects are alive: the main thread, started nogil threads that have not
/// ended, and dummy threads that called current_thread().
std::size_t active_count();

/// Every alive Thread, as counted by active_count().
std::vector<Thread> enumerate();

/// What threading::excepthook receives: the exception that escaped a target, and its thread.
struct ExceptHookArgs {
    /// The escaped exception (Python's exc_type/exc_value/exc_traceback in one).
    std::exception_ptr exc_value;
    /// The thread whose target threw.
    Thread thread;
};

/// The hook installed at startup (Python's threading.__excepthook__): writes
/// "Exception in thread NAME:\n<type>: <what()>\n" to stderr in one write.
void default_excepthook(const ExceptHookArgs& args);

/// The type of threading::excepthook: a thread-safe slot holding a function, so that Python's
/// `threading.excepthook = hook` is `nogil::threading::excepthook = hook;` from any thread.
///
/// Thread safety: set and called from any thread (the slot is under a lock); the hook runs on the
/// thread whose target threw.
class ExceptHook {
public:
    /// The hook's signature.
    using Function = std::function<void(const ExceptHookArgs&)>;
    constexpr ExceptHook() noexcept = default;
    ExceptHook(const ExceptHook&) = delete;
    ExceptHook& operator=(const ExceptHook&) = delete;

    /// Installs `hook` for exceptions escaping any thread from now on; an empty function
    /// restores default_excepthook.
    ExceptHook& operator=(Function hook);
    /// The hook currently installed.
    Function get() const;
    /// Calls the hook currently installed, on the calling thread (the thread whose target threw).
    void operator()(const ExceptHookArgs& args) const;
};

/// Called, on the failing thread, with every exception that escapes a Thread's target. If the
/// hook itself throws, that is reported on stderr and the thread ends normally.
inline constinit ExceptHook excepthook;

}  // namespace nogil::threading
