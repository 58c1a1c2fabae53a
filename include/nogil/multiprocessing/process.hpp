#pragma once
// multiprocessing.Process: a function running in a child process with its own memory.
//
//   mp::Process p(work, 42, std::string("x"), mp::ProcessOptions{.name = "worker", .daemon = true});
//   p.start();
//   p.join(std::chrono::seconds(5));
//   if (p.exitcode() != 0) ...
//
// The target is a plain function or captureless lambda; its arguments are serialized at start()
// (docs/api.md, rule 5) and rebuilt in the child, whatever the start method. A Process is a shared
// handle: copies refer to the same child (as Python's objects are references). All members are
// safe to call from any thread.

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::multiprocessing::detail {
/// True when the last of Args is T once decayed; false for no Args at all (a target without
/// arguments: Process(f)).
template <class T, class... Args>
constexpr bool last_arg_is() {
    if constexpr (sizeof...(Args) == 0) {
        return false;
    } else {
        return std::is_same_v<std::decay_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>, T>;
    }
}
}  // namespace nogil::multiprocessing::detail

namespace nogil::multiprocessing {

/// Python's Process keyword arguments. Pass as the last constructor argument.
struct ProcessOptions {
    // Default member initializers: designated initializers may name only some fields under -Wextra.
    std::string name{};            ///< "" = "Process-N" (N counts this process's children)
    std::optional<bool> daemon{};  ///< nullopt = inherit the creating process's daemon flag
    std::string start_method{};    ///< "" = get_start_method(); else "fork", "spawn" or "forkserver"
};

/// Thread safety: every member may be called from any thread of the parent at once. The target runs
/// in the child process.
class Process {
public:
    /// A process that will run target(args...) once started. If the last argument is a
    /// ProcessOptions it configures the process instead of being passed to target.
    /// Compile error (in words) if target captures or an argument is not serializable.
    template <class F, class... Args>
        requires(!std::is_same_v<std::decay_t<F>, ProcessOptions>)
    explicit Process(F&& target, Args&&... args) {
        constexpr std::size_t n = sizeof...(Args);
        auto all = std::forward_as_tuple(args...);
        if constexpr (detail::last_arg_is<ProcessOptions, Args...>()) {
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                init(std::get<n - 1>(all), make_encoder(target, std::get<I>(all)...));
            }(std::make_index_sequence<n - 1>{});
        } else {
            init(ProcessOptions{}, make_encoder(target, args...));
        }
    }

    /// Starts the child. Throws std::runtime_error if already started, std::invalid_argument if
    /// closed, ProcessError if the child could not be created.
    void start();

    /// Waits for the child to end (no limit). Throws std::runtime_error if never started.
    void join();
    /// Waits at most `timeout`; check exitcode() or is_alive() to know whether it ended.
    template <class Rep, class Period>
    void join(std::chrono::duration<Rep, Period> timeout) {
        join_until(detail::Deadline(nogil::detail::checked_deadline_after(timeout)));  // NaN: ValueError, as Python
    }

    /// True between start() and the child's end.
    bool is_alive() const;
    /// The child's pid once started (Python's pid and ident).
    std::optional<int> pid() const;
    std::optional<int> ident() const { return pid(); }
    /// nullopt while running (or never started); the exit status once ended; -N if killed by signal N.
    std::optional<int> exitcode() const;

    /// Sends SIGTERM. (No effect once the child has ended.)
    void terminate();
    /// Sends SIGKILL.
    void kill();
    /// Releases the process's resources. Throws std::invalid_argument while it is still running.
    void close();

    /// A descriptor that becomes readable when the child ends (for poll/select with others).
    int sentinel() const;

    const std::string& name() const;
    void set_name(std::string name);
    bool daemon() const;
    /// Must be set before start(); a daemon is terminated when its parent exits.
    void set_daemon(bool daemon);

    struct State;

private:
    friend std::vector<Process> active_children();
    explicit Process(std::shared_ptr<State> state) : state_(std::move(state)) {}

    template <class F, class... Args>
    static std::function<detail::EncodedCall()> make_encoder(F& target, Args&... args) {
        if constexpr (detail::check_task<F, Args...>()) {
            return [fn = +target, values = std::make_tuple(std::decay_t<Args>(args)...)] {
                return std::apply([&](const auto&... a) { return detail::encode_call(fn, a...); }, values);
            };
        } else {
            return {};
        }
    }

    void init(const ProcessOptions& options, std::function<detail::EncodedCall()> encode);
    void start_locked();
    void join_until(detail::Deadline deadline);

    std::shared_ptr<State> state_;
};

/// What Python's current_process() offers: this process's name, pid and daemon flag.
struct ProcessInfo {
    std::string name;  ///< "MainProcess" in the main process
    int pid = 0;
    bool daemon = false;
    int ident = 0;  ///< = pid
};

/// This process (the main process, or a child started by nogil).
ProcessInfo current_process();

/// The children started by this process that are still running (reaps those that ended).
std::vector<Process> active_children();

/// The number of CPUs in the system (os.cpu_count()).
int cpu_count();

}  // namespace nogil::multiprocessing
