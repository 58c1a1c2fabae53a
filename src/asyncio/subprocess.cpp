// asyncio subprocesses: Process, create_subprocess_exec/shell, communicate's pipe I/O.
#include <nogil/asyncio/subprocess.hpp>

#include <nogil/asyncio/gather.hpp>
#include <nogil/detail/asyncio_child.hpp>
#include <nogil/detail/asyncio_fd_waiter.hpp>

#include <cerrno>
#include <unistd.h>

namespace nogil::detail::aio {

/// What a Process owns, shared with its running wait()/communicate() coroutines so that moving
/// or destroying the Process never leaves them dangling.
struct ProcessState {
    std::shared_ptr<ChildWatch> watch;
    UniqueFd stdin_fd, stdout_fd, stderr_fd;
};

}  // namespace nogil::detail::aio

namespace nogil::asyncio::subprocess {

namespace {

using detail::ProcessState;
using detail::UniqueFd;

// Each of these coroutines holds the state, so the fd it works on stays open until it is done.

Coroutine<int> wait_exit(std::shared_ptr<detail::ChildWatch> watch) {
    auto fut = watch->waiter();
    co_return co_await fut;
}

/// Reads `fd` to EOF, then closes it (Python closes the pipe transport at EOF).
Coroutine<std::string> read_to_eof(std::shared_ptr<ProcessState> state, UniqueFd ProcessState::*which) {
    std::string data;
    UniqueFd& fd = (*state).*which;
    if (!fd) co_return data;
    std::vector<char> buf(65536);
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n > 0) {
            data.append(buf.data(), static_cast<std::size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno == EAGAIN) {
            co_await detail::wait_readable(fd.get());
        } else if (errno != EINTR) {
            throw OSError(errno, "read from child pipe");
        }
    }
    fd.reset();
    co_return data;
}

/// Writes `input` to the child's stdin, then closes it. EPIPE/ECONNRESET (the child stopped
/// reading) end the write silently, as Python's _feed_stdin does.
Coroutine<> feed_stdin(std::shared_ptr<ProcessState> state, std::string input) {
    UniqueFd& fd = state->stdin_fd;
    if (!fd) co_return;
    std::size_t done = 0;
    while (done < input.size()) {
        ssize_t n = detail::write_without_sigpipe(fd.get(), input.data() + done, input.size() - done);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
        } else if (errno == EAGAIN) {
            co_await detail::wait_writable(fd.get());
        } else if (errno == EPIPE || errno == ECONNRESET) {
            break;
        } else if (errno != EINTR) {
            throw OSError(errno, "write to child stdin");
        }
    }
    fd.reset();
}

Coroutine<std::pair<std::string, std::string>> communicate_impl(std::shared_ptr<ProcessState> state, std::string input) {
    auto [fed, out, err] = co_await gather(feed_stdin(state, std::move(input)), read_to_eof(state, &ProcessState::stdout_fd),
                                           read_to_eof(state, &ProcessState::stderr_fd));
    (void)fed;
    auto fut = state->watch->waiter();
    co_await fut;
    co_return std::pair<std::string, std::string>(std::move(out), std::move(err));
}

}  // namespace

Process::~Process() = default;

pid_t Process::pid() const noexcept { return state_->watch->pid(); }

std::optional<int> Process::returncode() const noexcept { return state_->watch->returncode(); }

Coroutine<int> Process::wait() { return wait_exit(state_->watch); }

Coroutine<std::pair<std::string, std::string>> Process::communicate(std::optional<std::string> input) {
    if (input && !state_->stdin_fd) throw std::invalid_argument("input: the process was not created with stdin=PIPE");
    return communicate_impl(state_, input ? std::move(*input) : std::string());
}

void Process::send_signal(int sig) { state_->watch->send_signal(sig); }

namespace {
Coroutine<Process> start(detail::ChildSpec spec) {
    auto& loop = detail::running_loop_or_throw();
    detail::SpawnedChild child = detail::spawn_child(spec);
    auto state = std::make_shared<ProcessState>();
    state->stdin_fd = std::move(child.stdin_fd);
    state->stdout_fd = std::move(child.stdout_fd);
    state->stderr_fd = std::move(child.stderr_fd);
    state->watch = detail::ChildWatch::start(loop, child.pid);
    co_return Process(std::move(state));
}

/// Copies everything the options refer to: the coroutine may run after the caller's views die.
detail::ChildSpec make_spec(std::string program, std::vector<std::string> argv, const Options& options) {
    detail::ChildSpec spec;
    spec.program = std::move(program);
    spec.argv = std::move(argv);
    spec.stdin_mode = options.stdin;
    spec.stdout_mode = options.stdout;
    spec.stderr_mode = options.stderr;
    if (!options.cwd.empty()) spec.cwd = std::string(options.cwd);
    if (options.env) spec.env = *options.env;
    spec.start_new_session = options.start_new_session;
    return spec;
}
}  // namespace

Coroutine<Process> create_subprocess_exec(std::string program, std::vector<std::string> args, Options options) {
    std::vector<std::string> argv;
    argv.reserve(args.size() + 1);
    argv.push_back(program);
    for (auto& a : args) argv.push_back(std::move(a));
    return start(make_spec(std::move(program), std::move(argv), options));
}

Coroutine<Process> create_subprocess_shell(std::string cmd, Options options) {
    if (cmd.empty()) throw std::invalid_argument("cmd must not be empty");
    return start(make_spec("/bin/sh", {"/bin/sh", "-c", std::move(cmd)}, options));
}

}  // namespace nogil::asyncio::subprocess
