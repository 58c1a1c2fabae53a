// asyncio subprocesses: Process, create_subprocess_exec/shell, communicate().
#include <nogil/asyncio/subprocess.hpp>

#include <nogil/asyncio/gather.hpp>
#include <nogil/asyncio/streams.hpp>
#include "asyncio/detail/child.hpp"

namespace nogil::asyncio::subprocess {

namespace {

// Coroutines take what they use by value (shared handles), so moving or destroying the
// Process while they run leaves nothing dangling.

Coroutine<int> wait_exit(std::shared_ptr<detail::ChildWatch> watch) {
    auto fut = watch->waiter();
    co_return co_await fut;
}

/// Python's _feed_stdin: write, drain, close; a child that stopped reading is not an error.
Coroutine<> feed_stdin(std::optional<StreamWriter> stdin_pipe, std::string input) {
    if (!stdin_pipe) co_return;
    try {
        if (!input.empty()) {
            stdin_pipe->write(input);
            co_await stdin_pipe->drain();
        }
    } catch (const BrokenPipeError&) {
    } catch (const ConnectionResetError&) {
    }
    stdin_pipe->close();
}

Coroutine<std::string> read_to_eof(std::optional<StreamReader> pipe) {
    if (!pipe) co_return std::string();
    co_return co_await pipe->read();
}

Coroutine<std::pair<std::string, std::string>> communicate_impl(std::shared_ptr<detail::ChildWatch> watch,
                                                                 std::optional<StreamWriter> in,
                                                                 std::optional<StreamReader> out,
                                                                 std::optional<StreamReader> err, std::string input) {
    auto [fed, out_data, err_data] =
        co_await gather(feed_stdin(std::move(in), std::move(input)), read_to_eof(std::move(out)), read_to_eof(std::move(err)));
    (void)fed;
    auto fut = watch->waiter();
    co_await fut;
    co_return std::pair<std::string, std::string>(std::move(out_data), std::move(err_data));
}

}  // namespace

Process::~Process() = default;

pid_t Process::pid() const noexcept { return watch_->pid(); }

std::optional<int> Process::returncode() const noexcept { return watch_->returncode(); }

Coroutine<int> Process::wait() { return wait_exit(watch_); }

Coroutine<std::pair<std::string, std::string>> Process::communicate(std::optional<std::string> input) {
    if (input && !stdin) throw std::invalid_argument("input: the process was not created with stdin=PIPE");
    return communicate_impl(watch_, stdin, stdout, stderr, input ? std::move(*input) : std::string());
}

void Process::send_signal(int sig) { watch_->send_signal(sig); }

namespace {
Coroutine<Process> start(detail::ChildSpec spec, std::size_t limit) {
    auto& loop = detail::running_loop_or_throw();
    detail::SpawnedChild child = detail::spawn_child(spec);
    // The child exists: watch it first, so that it is reaped whatever fails next.
    Process proc(detail::ChildWatch::start(loop, child.pid));
    if (child.stdin_fd) proc.stdin = connect_write_fd(child.stdin_fd.release());
    if (child.stdout_fd) proc.stdout = connect_read_fd(child.stdout_fd.release(), limit);
    if (child.stderr_fd) proc.stderr = connect_read_fd(child.stderr_fd.release(), limit);
    co_return std::move(proc);
}

/// Copies everything the options refer to: the coroutine may run after the caller's views die.
detail::ChildSpec make_spec(std::string program, std::vector<std::string> argv, const Options& options) {
    if (options.limit == 0) throw std::invalid_argument("limit must be positive");
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
    return start(make_spec(std::move(program), std::move(argv), options), options.limit);
}

Coroutine<Process> create_subprocess_shell(std::string cmd, Options options) {
    if (cmd.empty()) throw std::invalid_argument("cmd must not be empty");
    return start(make_spec("/bin/sh", {"/bin/sh", "-c", std::move(cmd)}, options), options.limit);
}

}  // namespace nogil::asyncio::subprocess
