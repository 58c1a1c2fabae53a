#pragma once
// A watchdog for long-running test programs and the tour's steps: when a step overruns, it writes
// the stack of every thread of the process to stderr, once, and lets the step go on (ctest's
// timeout, or the user, ends it). A hang then leaves evidence in the log instead of a bare
// "Timeout".
//
// The stacks come from gdb (`gdb -batch -p <pid> -ex "thread apply all bt"`, build.sh installs
// it); without gdb, or if it cannot attach, each thread's name, state, wait channel and kernel
// stack from /proc. Header-only: the test programs and the nogil tool include it.
//
// NOGIL_WATCHDOG_SECONDS overrides every limit; 0 turns the watchdog off.

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace nogil_watchdog {

/// The limit for a step: NOGIL_WATCHDOG_SECONDS if set, else `fallback`; zero or less: off.
inline std::chrono::seconds limit_from_environment(std::chrono::seconds fallback) {
    const char* value = std::getenv("NOGIL_WATCHDOG_SECONDS");
    if (value == nullptr || *value == '\0') return fallback;
    char* end = nullptr;
    long seconds = std::strtol(value, &end, 10);
    if (end == value || *end != '\0' || seconds < 0 || seconds > 86400) return fallback;
    return std::chrono::seconds(seconds);
}

/// Writes every thread's stack to stderr, headed by `why`. Any thread may call it.
inline void print_all_stacks(const std::string& why) {
    const pid_t self = ::getpid();
    std::fprintf(stderr, "\n==== watchdog: %s; the stacks of every thread of process %d ====\n", why.c_str(),
                 static_cast<int>(self));
    std::fflush(stderr);
    // Let a debugger attach even where Yama restricts ptrace to ancestors.
    ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    const std::string pid = std::to_string(self);
    // Everything the child needs is built before fork(): it only calls async-signal-safe functions.
    const char* argv[] = {"gdb", "-batch", "-nx", "-q", "-p", pid.c_str(), "-ex", "thread apply all bt", nullptr};
    const pid_t child = ::fork();
    if (child == 0) {
        ::dup2(STDERR_FILENO, STDOUT_FILENO);
        ::execvp("gdb", const_cast<char* const*>(argv));
        ::_exit(127);
    }
    int status = 0;
    bool gdb_ok = child > 0 && ::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!gdb_ok) {
        std::ostringstream out;
        out << "(gdb unavailable: each thread's state and kernel stack from /proc)\n";
        for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
            auto read = [&](const char* file) {
                std::ifstream in(task.path() / file);
                std::stringstream text;
                text << in.rdbuf();
                return text.str();
            };
            out << "-- thread " << task.path().filename().string() << " " << read("comm") << "   stat: " << read("stat")
                << "   wchan: " << read("wchan") << "\n"
                << read("stack") << "\n";
        }
        std::fputs(out.str().c_str(), stderr);
    }
    std::fprintf(stderr, "==== watchdog: end of stacks ====\n\n");
    std::fflush(stderr);
}

/// Watches one step at a time: begin(label, limit) arms it, the next begin() or end() disarms
/// it. If a step is still running after its limit, every stack is printed once.
class StepWatchdog {
public:
    StepWatchdog() = default;
    StepWatchdog(const StepWatchdog&) = delete;
    StepWatchdog& operator=(const StepWatchdog&) = delete;
    ~StepWatchdog() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    void begin(std::string label, std::chrono::seconds limit) {
        {
            std::lock_guard lock(mutex_);
            label_ = std::move(label);
            ++step_;
            deadline_ = limit.count() > 0 ? std::chrono::steady_clock::now() + limit
                                          : std::chrono::steady_clock::time_point::max();
            limit_ = limit;
            if (!thread_.joinable() && limit.count() > 0) thread_ = std::thread([this] { watch(); });
        }
        changed_.notify_all();
    }
    void end() {
        {
            std::lock_guard lock(mutex_);
            ++step_;
            deadline_ = std::chrono::steady_clock::time_point::max();
        }
        changed_.notify_all();
    }

private:
    void watch() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            const auto step = step_;
            if (changed_.wait_until(lock, deadline_, [&] { return stopping_ || step_ != step; })) continue;
            // Overran: report once for this step, without holding the lock (the step may end meanwhile).
            const std::string why = "\"" + label_ + "\" still running after " + std::to_string(limit_.count()) + " s";
            deadline_ = std::chrono::steady_clock::time_point::max();
            lock.unlock();
            print_all_stacks(why);
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::thread thread_;
    bool stopping_ = false;
    unsigned long step_ = 0;
    std::string label_;
    std::chrono::seconds limit_{0};
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

}  // namespace nogil_watchdog
