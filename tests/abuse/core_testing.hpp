#pragma once
// What the core's attack tests measure: open fds, resident memory, processes, /dev/shm names, and
// a bounded wait for a state that has no signal of its own to wait on (a thread's exit, a
// process reaped by someone else).
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <sys/types.h>
#include <unistd.h>

namespace core_testing {

inline constexpr auto kBound = std::chrono::seconds(60);

/// Waits (bounded by kBound) until `done()` holds; false if it never did.
template <class F>
bool eventually(F done) {
    auto deadline = std::chrono::steady_clock::now() + kBound;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

/// Open file descriptors of this process.
inline std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

/// What each open fd refers to, one per line (for a failure message).
inline std::string describe_fds() {
    std::string text;
    for (auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(entry.path(), ec);
        text += entry.path().filename().string() + " -> " + (ec ? "?" : target.string()) + "\n";
    }
    return text;
}

/// Resident set size of this process, in bytes.
inline std::size_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// True once `pid` no longer runs: no such process, or a zombie waiting to be reaped.
inline bool process_gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    auto close_paren = line.rfind(')');
    return close_paren == std::string::npos || line.size() < close_paren + 3 || line[close_paren + 2] == 'Z';
}

/// The names in /dev/shm.
inline std::set<std::string> shm_names() {
    std::set<std::string> names;
    for (auto& entry : std::filesystem::directory_iterator("/dev/shm")) names.insert(entry.path().filename());
    return names;
}

}  // namespace core_testing
