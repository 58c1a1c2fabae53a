// Spawning a child for asyncio subprocesses: posix_spawn with the redirections asked for.
// See src/asyncio/detail/child.hpp for the guarantees.
#include "asyncio/detail/child.hpp"

#include <nogil/errors.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

namespace nogil::asyncio::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


namespace {

[[noreturn]] void throw_os_error(int err, const std::string& what) {
    if (err == ENOENT) throw FileNotFoundError(what);
    throw OSError(err, what);
}

/// RAII for posix_spawn's two attribute objects.
struct SpawnAttrs {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnAttrs() {
        if (int e = posix_spawn_file_actions_init(&actions)) throw_os_error(e, "posix_spawn_file_actions_init");
        if (int e = posix_spawnattr_init(&attr)) {
            posix_spawn_file_actions_destroy(&actions);
            throw_os_error(e, "posix_spawnattr_init");
        }
    }
    ~SpawnAttrs() {
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
    }
    SpawnAttrs(const SpawnAttrs&) = delete;
    SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

void check(int err, const char* what) {
    if (err) throw_os_error(err, what);
}

/// A pipe whose ends are both >= 3 and O_CLOEXEC (so dup2 onto 0/1/2 never hits itself).
void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw OSError(errno, "pipe2");
    for (int& fd : fds) {
        if (fd > 2) continue;
        int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int err = errno;
        ::close(fd);
        fd = moved;
        if (moved < 0) {
            ::close(fds[0] >= 0 ? fds[0] : fds[1]);
            throw OSError(err, "fcntl(F_DUPFD_CLOEXEC)");
        }
    }
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
}

/// Python's str(OSError) with a filename: "[Errno 2] No such file or directory: 'path'".
std::string describe(int err, const std::string& path) {
    return "[Errno " + std::to_string(err) + "] " + std::strerror(err) + ": '" + path + "'";
}

/// posix_spawn reports one errno for every step in the child; Python's child names the step
/// ("noexec:chdir") and raises for the cwd, not the program, when the chdir fails. So after a
/// failure, look at the cwd from here: the error that names it, or 0 if it looks usable.
int cwd_error(const std::string& cwd) {
    struct stat st {};
    if (::stat(cwd.c_str(), &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    if (::access(cwd.c_str(), X_OK) != 0) return errno;
    return 0;
}

}  // namespace

SpawnedChild spawn_child(const ChildSpec& spec) {
    if (spec.program.empty()) throw std::invalid_argument("program must not be empty");
    if (spec.stdin_mode == child_stdout) throw std::invalid_argument("stdin: STDOUT is only valid for stderr");
    if (spec.stdout_mode == child_stdout) throw std::invalid_argument("stdout: STDOUT is only valid for stderr");
    for (const auto* mode : {&spec.stdin_mode, &spec.stdout_mode, &spec.stderr_mode})
        if (*mode && **mode < child_devnull)
            throw std::invalid_argument("stdin/stdout/stderr: expected PIPE, DEVNULL, STDOUT, a file descriptor or "
                                        "nullopt (inherit), got " + std::to_string(**mode));

    SpawnedChild child;
    SpawnAttrs sa;
    UniqueFd child_ends[3];  // closed in the parent once the child has them

    const std::optional<int>* modes[3] = {&spec.stdin_mode, &spec.stdout_mode, &spec.stderr_mode};
    UniqueFd* ours[3] = {&child.stdin_fd, &child.stdout_fd, &child.stderr_fd};
    for (int target = 0; target < 3; ++target) {
        const auto& mode = *modes[target];
        if (!mode) continue;  // inherit
        if (*mode == child_pipe) {
            if (target == 0)
                make_pipe(child_ends[0], *ours[0]);
            else
                make_pipe(*ours[target], child_ends[target]);
            check(posix_spawn_file_actions_adddup2(&sa.actions, child_ends[target].get(), target), "adddup2");
        } else if (*mode == child_devnull) {
            check(posix_spawn_file_actions_addopen(&sa.actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0),
                  "addopen(/dev/null)");
        } else if (*mode == child_stdout) {
            check(posix_spawn_file_actions_adddup2(&sa.actions, 1, 2), "adddup2(stdout -> stderr)");
        } else if (*mode != target) {
            check(posix_spawn_file_actions_adddup2(&sa.actions, *mode, target), "adddup2");
        }
    }
    if (spec.cwd) check(posix_spawn_file_actions_addchdir_np(&sa.actions, spec.cwd->c_str()), "addchdir");
    // Python's close_fds=True: nothing but 0, 1, 2 crosses into the child.
    check(posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3), "addclosefrom");

    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    sigemptyset(&empty);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (spec.start_new_session) flags |= POSIX_SPAWN_SETSID;
    check(posix_spawnattr_setsigdefault(&sa.attr, &defaults), "setsigdefault");
    check(posix_spawnattr_setsigmask(&sa.attr, &empty), "setsigmask");
    check(posix_spawnattr_setflags(&sa.attr, flags), "setflags");

    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    if (argv.empty()) argv.push_back(const_cast<char*>(spec.program.c_str()));
    argv.push_back(nullptr);

    std::vector<std::string> env_strings;
    std::vector<char*> envp;
    if (spec.env) {
        for (const auto& [k, v] : *spec.env) {
            if (k.empty() || k.find('=') != std::string::npos)
                throw std::invalid_argument("env: illegal variable name '" + k + "'");
            env_strings.push_back(k + "=" + v);
        }
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
    }

    const bool search_path = spec.program.find('/') == std::string::npos;
    char* const* env = spec.env ? envp.data() : environ;
    int err = search_path ? posix_spawnp(&child.pid, spec.program.c_str(), &sa.actions, &sa.attr, argv.data(), env)
                          : posix_spawn(&child.pid, spec.program.c_str(), &sa.actions, &sa.attr, argv.data(), env);
    if (err && spec.cwd) {
        if (const int cwd_err = cwd_error(*spec.cwd)) {
            if (cwd_err == ENOENT) throw FileNotFoundError(describe(ENOENT, *spec.cwd));
            throw OSError(cwd_err, describe(cwd_err, *spec.cwd));
        }
    }
    if (err == ENOENT) throw FileNotFoundError(describe(ENOENT, spec.program));
    if (err) throw OSError(err, "cannot execute '" + spec.program + "'");
    return child;
}

}  // namespace nogil::asyncio::detail
