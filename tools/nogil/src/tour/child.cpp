#include "child.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <csignal>
#include <spawn.h>
#include <stdexcept>
#include <string_view>
#include <algorithm>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace nogil_tool {

std::string find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (!path) return "";
    std::string_view dirs = path;
    while (true) {
        const std::size_t end = std::min(dirs.find(':'), dirs.size());
        const std::filesystem::path dir = end == 0 ? std::filesystem::path(".") : std::filesystem::path(dirs.substr(0, end));
        const std::filesystem::path candidate = dir / program;
        if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
        if (end == dirs.size()) return "";
        dirs.remove_prefix(end + 1);
    }
}

std::string self_path() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

int run_child(const std::vector<std::string>& argv, const std::function<void(const std::string&)>& on_line) {
    if (argv.empty()) throw std::invalid_argument("run_child: argv is empty");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);  // dup2 clears CLOEXEC
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], std::strerror(err)));
    }

    int status = 0;
    auto reap = [&] {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    };
    FILE* out = fdopen(fds[0], "r");
    try {
        std::string line;
        for (int c; (c = std::fgetc(out)) != EOF;) {
            if (c == '\n') {
                on_line(line);
                line.clear();
            } else {
                line.push_back(static_cast<char>(c));
            }
        }
        if (!line.empty()) on_line(line);
    } catch (...) {  // the reader gave up: do not leave the child running, nor a zombie
        std::fclose(out);
        kill(pid, SIGKILL);
        reap();
        throw;
    }
    std::fclose(out);
    reap();
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

}  // namespace nogil_tool
