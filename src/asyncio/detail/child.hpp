#pragma once
// The machinery behind asyncio subprocesses: spawning a child (posix_spawn) and reaping it
// with a pidfd watched by the event loop.
//
// Spawning: posix_spawn (glibc runs exec in a CLONE_VFORK child and reports exec's errno as its
// return value), so a program that cannot run is an OSError (FileNotFoundError for ENOENT)
// from the spawn call, never a child that exits 127. Every fd nogil opens is O_CLOEXEC and the
// child closes every fd >= 3 (Python's close_fds=True); SIGPIPE and SIGXFSZ are reset to their
// default and the signal mask is emptied (Python's restore_signals=True).
//
// Reaping (ChildWatch): pidfd_open(pid) is watched for readability by the loop; when the child
// exits the loop callback calls waitid(P_PIDFD, WNOHANG), records the return code and resolves
// every waiter. No SIGCHLD handler is installed, so nothing fights other code that uses one.
// If pidfd_open fails (kernel < 5.3), a timer polls waitpid(pid, WNOHANG) with a growing
// interval (1 ms .. 100 ms). The loop registration (fd callback or timer) holds a reference to
// the watch, so the child is reaped even when the Process and every wait() are gone; only
// closing the loop before the child exits leaves it unreaped (Python warns about that case).
//
// Threading: loop thread only (created and resolved there).

#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/detail/unique_fd.hpp>

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nogil::asyncio::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


/// Where one of the child's standard streams goes: Python's subprocess constants, or an fd.
enum : int { child_pipe = -1, child_stdout = -2, child_devnull = -3 };

struct ChildSpec {
    std::string program;             // searched in PATH when it contains no '/'
    std::vector<std::string> argv;   // argv[0] included
    std::optional<int> stdin_mode;   // nullopt: inherit; child_pipe / child_devnull / an fd
    std::optional<int> stdout_mode;  // same
    std::optional<int> stderr_mode;  // same, plus child_stdout
    std::optional<std::string> cwd;
    std::optional<std::map<std::string, std::string>> env;  // nullopt: inherit ours
    bool start_new_session = false;
};

struct SpawnedChild {
    pid_t pid = -1;
    UniqueFd stdin_fd, stdout_fd, stderr_fd;  // our ends of the pipes asked for
};

/// Starts the child. Throws std::invalid_argument for a bad spec (empty program, STDOUT given
/// for stdin/stdout), FileNotFoundError if the program or cwd does not exist, OSError otherwise.
SpawnedChild spawn_child(const ChildSpec& spec);

/// One child's exit, watched by the loop: returncode and the waiters of wait().
class ChildWatch : public std::enable_shared_from_this<ChildWatch> {
public:
    /// Starts watching `pid` on `loop`: a pidfd, or the polling fallback if pidfd_open fails or
    /// `use_pidfd` is false (tests exercise the fallback that way).
    static std::shared_ptr<ChildWatch> start(LoopCore& loop, pid_t pid, bool use_pidfd = true);
    ~ChildWatch();
    ChildWatch(const ChildWatch&) = delete;
    ChildWatch& operator=(const ChildWatch&) = delete;

    pid_t pid() const noexcept { return pid_; }
    /// Python's returncode: exit status, or -signal if a signal killed the child; nullopt while
    /// it runs (or has exited but the loop has not reaped it yet).
    std::optional<int> returncode() const noexcept { return returncode_; }
    /// A future resolved with the return code (done at once if already reaped). Each caller
    /// gets its own, so cancelling one wait() leaves the others and the reaping untouched.
    asyncio::Future<int> waiter();
    /// Sends `sig` (pidfd_send_signal, so a recycled pid is never hit). Throws
    /// ProcessLookupError if the child was already reaped, OSError on other failures.
    void send_signal(int sig);
    /// True if we use a pidfd (false: the polling fallback).
    bool uses_pidfd() const noexcept { return pidfd_ >= 0; }

private:
    ChildWatch(LoopCore& loop, pid_t pid) noexcept;
    void try_reap();
    void arm_poll_timer();
    void finish(int returncode);

    Ref<LoopCore> loop_;
    pid_t pid_;
    int pidfd_ = -1;
    std::optional<int> returncode_;
    std::vector<asyncio::Future<int>> waiters_;
    std::chrono::milliseconds poll_interval_{1};
};

}  // namespace nogil::asyncio::detail
