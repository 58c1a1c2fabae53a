#pragma once
// Python's asyncio.subprocess: child processes driven by the event loop.
//
//   namespace sp = nogil::asyncio::subprocess;
//   auto proc = co_await asyncio::create_subprocess_exec("sort", "-r", sp::Options{.stdin = sp::PIPE, .stdout = sp::PIPE});
//   auto [out, err] = co_await proc.communicate("b\na\nc\n");   // out == "c\nb\na\n"
//   int rc = co_await proc.wait();                               // 0
//
//   // or streamed: proc.stdin is a StreamWriter, proc.stdout / proc.stderr StreamReaders
//   auto ls = co_await asyncio::create_subprocess_exec("ls", sp::Options{.stdout = sp::PIPE});
//   for (std::string line; !(line = co_await ls.stdout->readline()).empty();) use(line);
//
// Redirections (Options::stdin / stdout / stderr), as Python's constants:
//   nullopt (Python's None)  the child inherits ours;
//   PIPE                     a pipe to us: proc.stdin (StreamWriter) / proc.stdout,
//                            proc.stderr (StreamReader), also used by communicate();
//   DEVNULL                  /dev/null;
//   STDOUT                   (stderr only) the same place as the child's stdout;
//   an fd >= 0               that file descriptor (ours stays open).
//
// Guarantees:
//   - a program that cannot be executed throws FileNotFoundError (ENOENT) or OSError from
//     create_subprocess_exec itself (posix_spawn reports exec's errno), never a silent exit 127;
//   - the child is reaped through a pidfd watched by the loop (no SIGCHLD handler); the reaping
//     goes on in the background when wait() is cancelled or the Process is destroyed, so no
//     zombie is left while the loop runs;
//   - returncode is the exit status, or -N when signal N killed the child (Python's rule);
//   - communicate() writes input and reads stdout and stderr concurrently, so large outputs in
//     both directions never deadlock; a child that stops reading its stdin early (EPIPE) is
//     not an error (Python ignores BrokenPipeError there), and writing never raises SIGPIPE;
//   - the pipe streams follow <nogil/asyncio/stream_reader.hpp> / stream_writer.hpp (flow
//     control, cancellation, errors); a pipe closes when its last stream handle is gone.
//
// Threading: a Process belongs to the loop it was created on. Its awaitables resume the
// awaiting task on that loop's thread: wait() one loop turn after the child was reaped,
// communicate() one turn after both pipes reached EOF and the child was reaped.
//
// Deviations, one line each: communicate() returns empty strings for streams that are not PIPE
// (Python: None) and throws std::invalid_argument when input is given without stdin=PIPE
// (Python ignores it).

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/stream_reader.hpp>
#include <nogil/asyncio/stream_writer.hpp>
#include <nogil/errors.hpp>

#include <sys/types.h>

#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::asyncio::detail {
class ChildWatch;
}  // namespace nogil::asyncio::detail

namespace nogil::asyncio::subprocess {

/// Python's asyncio.subprocess.PIPE: a pipe between us and the child.
inline constexpr int PIPE = -1;
/// Python's asyncio.subprocess.STDOUT: stderr goes where stdout goes.
inline constexpr int STDOUT = -2;
/// Python's asyncio.subprocess.DEVNULL: /dev/null.
inline constexpr int DEVNULL = -3;

/// The keyword arguments of create_subprocess_exec / create_subprocess_shell.
/// (glibc defines the stdin/stdout/stderr macros as themselves, so Python's names work here.)
/// Only views and pointers, no owning strings or maps: g++ 12 miscompiles an aggregate
/// temporary with owning members inside a co_await expression (it is destroyed twice). What
/// they refer to is copied when create_subprocess_* is called.
struct Options {
    /// nullopt: inherit; PIPE, DEVNULL or an fd.
    std::optional<int> stdin{};
    /// nullopt: inherit; PIPE, DEVNULL or an fd.
    std::optional<int> stdout{};
    /// nullopt: inherit; PIPE, DEVNULL, STDOUT or an fd.
    std::optional<int> stderr{};
    /// The child's working directory (empty: ours). A missing one throws FileNotFoundError
    /// naming the directory (OSError ENOTDIR / EACCES for a file / an unsearchable one).
    std::string_view cwd{};
    /// The child's whole environment (null: ours).
    const std::map<std::string, std::string>* env{nullptr};
    /// setsid() in the child (Python's start_new_session).
    bool start_new_session{false};
    /// The limit of the stdout/stderr StreamReaders (Python's limit=).
    std::size_t limit{default_stream_limit};
};

/// Python's asyncio.subprocess.Process. Movable (the streams are shared handles); copies are
/// not allowed. Destroying it neither kills nor abandons the child: it is still reaped by the
/// loop; its pipes close when their last stream handle is gone.
///
/// Thread safety: loop thread only (the loop it was created on); its awaitables resume on that
/// loop's thread.
class Process {
public:
    Process(Process&&) noexcept = default;
    Process& operator=(Process&&) noexcept = default;
    ~Process();

    /// The child's process id.
    pid_t pid() const noexcept;
    /// The exit status; -N if signal N killed it; nullopt while it runs (or until the loop has
    /// noticed its exit: call wait() to be sure).
    std::optional<int> returncode() const noexcept;

    /// Waits for the child to exit and returns its returncode. Does not read the pipes: a child
    /// blocked writing to a full stdout pipe never exits; use communicate() for that (as Python
    /// warns). Resumed by the loop one turn after the child was reaped. Cancelling it cancels
    /// only this wait: the child is still reaped.
    Coroutine<int> wait();

    /// Sends `input` to stdin (then closes it), reads stdout and stderr to EOF, waits for the
    /// child to exit; returns {stdout data, stderr data}. Cancelling it stops the pipe I/O
    /// (data read so far is lost, as in Python); the child is still reaped.
    Coroutine<std::pair<std::string, std::string>> communicate(std::optional<std::string> input = std::nullopt);

    /// Sends signal `sig`. Throws ProcessLookupError if the child was already reaped.
    void send_signal(int sig);
    /// send_signal(SIGTERM).
    void terminate() { send_signal(SIGTERM); }
    /// send_signal(SIGKILL).
    void kill() { send_signal(SIGKILL); }

    /// The child's stdin if created with stdin=PIPE (Python's proc.stdin; None otherwise).
    /// close() it (or let communicate() do it) to send EOF.
    std::optional<StreamWriter> stdin;
    /// The child's stdout if created with stdout=PIPE (Python's proc.stdout).
    std::optional<StreamReader> stdout;
    /// The child's stderr if created with stderr=PIPE (Python's proc.stderr).
    std::optional<StreamReader> stderr;

    /// The machinery; not part of the public API.
    explicit Process(std::shared_ptr<detail::ChildWatch> watch) noexcept : watch_(std::move(watch)) {}

private:
    std::shared_ptr<detail::ChildWatch> watch_;
};

/// Runs `program` with arguments `args` (no shell; PATH is searched when `program` has no '/').
/// Python's create_subprocess_exec(program, *args, **options). Throws FileNotFoundError if
/// the program does not exist, OSError if it cannot be executed, std::invalid_argument for
/// bad options, std::runtime_error if no loop runs.
Coroutine<Process> create_subprocess_exec(std::string program, std::vector<std::string> args = {}, Options options = {});

}  // namespace nogil::asyncio::subprocess

namespace nogil::asyncio::detail {
template <class A>
void add_exec_argument(std::vector<std::string>& argv, subprocess::Options& options, A&& a) {
    if constexpr (std::is_same_v<std::remove_cvref_t<A>, subprocess::Options>)
        options = std::forward<A>(a);
    else
        argv.emplace_back(std::string_view(a));
}
}  // namespace nogil::asyncio::detail

namespace nogil::asyncio::subprocess {

/// Python's spelling, create_subprocess_exec(program, *args, **options):
///   create_subprocess_exec("sort", "-r", "-n", sp::Options{.stdout = sp::PIPE})
/// Each argument is string-like; an Options, if any, comes last. (Prefer this form inside
/// co_await with g++ 12, which rejects a braced list such as {"-r"} in a co_await expression.)
template <class... Args>
    requires(sizeof...(Args) > 0 &&
             ((std::is_convertible_v<Args, std::string_view> || std::is_same_v<std::remove_cvref_t<Args>, Options>) && ...))
Coroutine<Process> create_subprocess_exec(std::string program, Args&&... args) {
    std::vector<std::string> argv;
    Options options;
    (detail::add_exec_argument(argv, options, std::forward<Args>(args)), ...);
    return create_subprocess_exec(std::move(program), std::move(argv), std::move(options));
}

/// Runs `cmd` through /bin/sh -c (Python's create_subprocess_shell). Throws
/// std::invalid_argument if cmd is empty.
Coroutine<Process> create_subprocess_shell(std::string cmd, Options options = {});

}  // namespace nogil::asyncio::subprocess

namespace nogil::asyncio {
using subprocess::create_subprocess_exec;
using subprocess::create_subprocess_shell;
}  // namespace nogil::asyncio
