// Starting children: fork, spawn (re-exec of /proc/self/exe) and the fork server.
//
// This file also holds the static initializer that turns a re-exec'd program into a child or a
// fork server before main() runs. It lives here, next to launch_child(), on purpose: a program
// that can start a child calls launch_child(), so the linker always keeps this object file and
// therefore its initializer; the re-exec'd child is that same program.
#include "multiprocessing/detail/child.hpp"
#include <nogil/multiprocessing/detail/frame.hpp>
#include "multiprocessing/detail/resource_tracker.hpp"
#include <nogil/errors.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


namespace {

constexpr const char* spawn_marker = "NOGIL_MP_SPAWN";
constexpr const char* forkserver_marker = "NOGIL_MP_FORKSERVER";
constexpr const char* tracker_marker = "NOGIL_MP_TRACKER";

int exitcode_from_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return 255;
}

// In a freshly forked child: die with the parent. If the parent is already gone, die now.
void die_with_parent(pid_t parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
}

UniqueFd open_pidfd(pid_t pid) {
    return UniqueFd(static_cast<int>(check_os(::syscall(SYS_pidfd_open, pid, 0), "pidfd_open")));
}

// Every fork happens on one long-lived thread. PR_SET_PDEATHSIG fires when the thread that forked
// the child ends, not the process; forking from a user's short-lived thread would kill the child
// with that thread. This thread lives as long as the process (a forked child makes its own).
class Launcher {
public:
    static pid_t run(std::function<pid_t()> job) {
        Launcher& l = instance();
        std::packaged_task<pid_t()> task(std::move(job));
        auto result = task.get_future();
        {
            std::lock_guard lock(l.mutex_);
            l.jobs_.push_back(std::move(task));
        }
        l.ready_.notify_one();
        return result.get();
    }

private:
    static Launcher& instance() {
        // Never destroyed (its thread runs until the process ends). A forked child does not have
        // the parent's thread, and the parent's mutex may have been copied locked: use a new one.
        static std::atomic<Launcher*> current{nullptr};
        static std::mutex* create = [] {
            auto* m = new std::mutex;
            reinit_after_fork(m);
            return m;
        }();
        Launcher* l = current.load(std::memory_order_acquire);
        if (l != nullptr && l->owner_ == ::getpid()) return *l;
        std::lock_guard lock(*create);
        l = current.load(std::memory_order_acquire);
        if (l == nullptr || l->owner_ != ::getpid()) {
            // Before the first fork: std::atexit takes glibc's exit-handler lock, and a child forked
            // while another thread held it would block in exit() forever (fork does not reset it).
            // Once the launcher thread exists, forks can happen at any moment.
            install_process_exit_handler();
            l = new Launcher;
            std::thread([l] { l->loop(); }).detach();
            current.store(l, std::memory_order_release);
        }
        return *l;
    }
    [[noreturn]] void loop() {
        for (;;) {
            std::packaged_task<pid_t()> job;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [&] { return !jobs_.empty(); });
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    pid_t owner_ = ::getpid();
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::packaged_task<pid_t()>> jobs_;
};

// The argv[0] of this program, for the re-exec'd child (only for ps/top: the child never parses it).
const std::string& program_name() {
    static const std::string* name = [] {
        std::ifstream in("/proc/self/cmdline", std::ios::binary);
        std::string first;
        std::getline(in, first, '\0');
        return new std::string(first.empty() ? "nogil-child" : first);
    }();
    return *name;
}

// fork + exec of this very program with `marker=<fd>`; `fd` survives the exec.
pid_t spawn_self(const char* marker, int fd, bool dies_with_parent = true) {
    std::string marker_entry = std::string(marker) + "=" + std::to_string(fd);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "NOGIL_MP_", 9) != 0) envp.push_back(*e);
    }
    envp.push_back(marker_entry.data());
    envp.push_back(nullptr);
    std::string argv0 = program_name();
    char* argv[] = {argv0.data(), nullptr};
    pid_t parent = ::getpid();
    return Launcher::run([&] {
        // Only async-signal-safe calls between fork and exec: the parent may have other threads.
        pid_t pid = ::fork();
        if (pid < 0) throw ProcessError(std::string("fork failed: ") + std::strerror(errno));
        if (pid == 0) {
            if (dies_with_parent) die_with_parent(parent);
            ::fcntl(fd, F_SETFD, 0);
            ::execve("/proc/self/exe", argv, envp.data());
            ::_exit(127);
        }
        return pid;
    });
}

// ---------------------------------------------------------------------------------------------
// The fork server (runs in its own process, single-threaded).

[[noreturn]] void forkserver_main(int control_fd) {
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigset_t old_mask;
    ::sigprocmask(SIG_BLOCK, &chld, &old_mask);
    int sig_fd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) ::_exit(3);
    std::map<pid_t, UniqueFd> status_by_pid;
    for (;;) {
        int fds[2] = {control_fd, sig_fd};
        int ready = wait_any_readable(fds, 2, std::nullopt);
        if (ready == 1) {
            signalfd_siginfo info;
            while (::read(sig_fd, &info, sizeof info) == sizeof info) {
            }
            int status = 0;
            pid_t pid;
            while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
                auto it = status_by_pid.find(pid);
                if (it == status_by_pid.end()) continue;
                std::int32_t raw = status;
                [[maybe_unused]] auto n = ::send(it->second.get(), &raw, sizeof raw, MSG_NOSIGNAL);
                status_by_pid.erase(it);
            }
            continue;
        }
        std::optional<Frame> request;
        try {
            request = recv_frame(control_fd, 1024);
        } catch (...) {
            request.reset();
        }
        if (!request) {
            // The parent process is gone (or spoke garbage): its children go with it.
            for (auto& [pid, fd] : status_by_pid) ::kill(pid, SIGKILL);
            ::_exit(0);
        }
        if (request->fds.size() != 2) continue;
        pid_t server = ::getpid();
        pid_t pid = ::fork();
        if (pid == 0) {
            die_with_parent(server);
            ::close(control_fd);
            ::close(sig_fd);
            status_by_pid.clear();
            request->fds[1].reset();
            ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
            ::signal(SIGPIPE, SIG_DFL);
            child_main(request->fds[0].release());
        }
        std::int32_t raw_pid = pid > 0 ? pid : -1;
        [[maybe_unused]] auto n = ::send(request->fds[1].get(), &raw_pid, sizeof raw_pid, MSG_NOSIGNAL);
        if (pid > 0) status_by_pid.emplace(pid, std::move(request->fds[1]));
    }
}

struct ForkServer {
    std::mutex mutex;
    UniqueFd control;
    pid_t pid = -1;

    // Holding `mutex`.
    void ensure_running() {
        if (control) {
            int status;
            if (::waitpid(pid, &status, WNOHANG) == 0) return;
            control.reset();  // it died: start a new one
        }
        auto [ours, theirs] = socket_pair();
        pid = spawn_self(forkserver_marker, theirs.get());
        control = std::move(ours);
    }
};

ForkServer& fork_server() { return process_singleton<ForkServer>(); }  // its socket closes with the process

Launched launch_via_forkserver() {
    auto [channel, child_end] = socket_pair();
    auto [status, server_end] = socket_pair();
    {
        ForkServer& server = fork_server();
        std::lock_guard lock(server.mutex);
        server.ensure_running();
        std::vector<UniqueFd> fds;
        fds.push_back(std::move(child_end));
        fds.push_back(std::move(server_end));
        send_frame(server.control.get(), FrameKind::request, "", fds);
    }
    std::int32_t pid = -1;
    // The server answers at once; the bound only turns a wedged server into an error.
    if (!wait_readable(status.get(), std::chrono::steady_clock::now() + std::chrono::seconds(60)) ||
        ::recv(status.get(), &pid, sizeof pid, MSG_WAITALL) != sizeof pid || pid <= 0)
        throw ProcessError("the fork server did not start the child");
    return Launched{ChildHandle(pid, std::move(status), true), std::move(channel)};
}

// Runs in every process of a program that links the launcher, before main().
struct Bootstrap {
    Bootstrap() {
        if (const char* value = std::getenv(spawn_marker)) {
            int fd = std::atoi(value);
            ::unsetenv(spawn_marker);
            child_main(fd);
        }
        if (const char* value = std::getenv(forkserver_marker)) {
            int fd = std::atoi(value);
            ::unsetenv(forkserver_marker);
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            forkserver_main(fd);
        }
        if (const char* value = std::getenv(tracker_marker)) {
            int fd = std::atoi(value);
            ::unsetenv(tracker_marker);
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            resource_tracker_main(fd);
        }
    }
} bootstrap;

}  // namespace

StartMethod parse_start_method(std::string_view method) {
    if (method == "fork") return StartMethod::fork;
    if (method == "spawn") return StartMethod::spawn;
    if (method == "forkserver") return StartMethod::forkserver;
    throw std::invalid_argument("start_method: cannot find context for '" + std::string(method) +
                                "' (expected 'fork', 'spawn' or 'forkserver')");
}

std::string_view start_method_name(StartMethod method) {
    switch (method) {
        case StartMethod::fork: return "fork";
        case StartMethod::spawn: return "spawn";
        case StartMethod::forkserver: return "forkserver";
    }
    return "?";
}

std::pair<pid_t, UniqueFd> start_resource_tracker() {
    int sv[2];
    check_os(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), "socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    pid_t pid = spawn_self(tracker_marker, theirs.get(), false);
    return {pid, std::move(ours)};
}

void ensure_forkserver_running() {
    ForkServer& server = fork_server();
    std::lock_guard lock(server.mutex);
    server.ensure_running();
}

Launched launch_child(StartMethod method) {
    if (method == StartMethod::forkserver) return launch_via_forkserver();
    auto [channel, child_end] = socket_pair();
    pid_t pid;
    if (method == StartMethod::spawn) {
        pid = spawn_self(spawn_marker, child_end.get());
    } else {
        pid_t parent = ::getpid();
        pid = Launcher::run([&] {
            snapshot_loaded_objects();  // the child must not need dl_iterate_phdr: see function.cpp
            pid_t child = ::fork();
            if (child < 0) throw ProcessError(std::string("fork failed: ") + std::strerror(errno));
            if (child == 0) {
                adopt_loaded_objects_snapshot();
                mark_forked_child();
                die_with_parent(parent);
                channel.reset();
                child_main(child_end.release());
            }
            return child;
        });
    }
    return Launched{ChildHandle(pid, open_pidfd(pid), false), std::move(channel)};
}

std::optional<int> ChildHandle::wait(Deadline deadline) {
    if (exitcode_) return exitcode_;
    if (!wait_readable(sentinel_.get(), deadline)) return std::nullopt;
    if (via_forkserver_) {
        std::int32_t status = 0;
        ssize_t n = ::recv(sentinel_.get(), &status, sizeof status, MSG_WAITALL);
        // No status: the fork server died, and its children with it (PDEATHSIG).
        exitcode_ = n == sizeof status ? exitcode_from_status(status) : -SIGKILL;
    } else {
        int status = 0;
        pid_t r;
        do {
            r = ::waitpid(pid_, &status, 0);
        } while (r < 0 && errno == EINTR);
        exitcode_ = r == pid_ ? exitcode_from_status(status) : 255;
    }
    return exitcode_;
}

void ChildHandle::send_signal(int signal) {
    if (exitcode_) return;  // reaped: the pid may belong to someone else now
    if (!via_forkserver_) {
        ::syscall(SYS_pidfd_send_signal, sentinel_.get(), signal, nullptr, 0);
    } else {
        ::kill(pid_, signal);
    }
}

}  // namespace nogil::multiprocessing::detail
