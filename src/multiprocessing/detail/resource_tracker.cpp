#include "multiprocessing/detail/child.hpp"
#include "multiprocessing/detail/resource_tracker.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <set>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


namespace {

struct Tracker {
    std::mutex mutex;
    UniqueFd fd;
    int owner = ::getpid();  // a forked child inherits the parent's connection: still valid there
};

Tracker& tracker() { return process_singleton<Tracker>(); }  // its descriptor stays open until exit

// Holding t.mutex.
bool ensure_running_locked(Tracker& t) {
    if (t.fd) return true;
    try {
        t.fd = start_resource_tracker().second;
        return true;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nogil::multiprocessing: cannot start the resource tracker: %s\n", e.what());
        return false;
    }
}

void send_message(char op, const std::string& name) {
    Tracker& t = tracker();
    std::lock_guard lock(t.mutex);
    if (!t.fd && op == 'U') return;  // nothing was registered from here
    if (!ensure_running_locked(t)) return;
    std::string message = op + name;
    // One datagram per message: writers in several processes never interleave.
    [[maybe_unused]] auto n = ::send(t.fd.get(), message.data(), message.size(), MSG_NOSIGNAL);
}

}  // namespace

void tracker_register(const std::string& posix_name) { send_message('R', posix_name); }
void tracker_unregister(const std::string& posix_name) { send_message('U', posix_name); }

void tracker_ensure_running() {
    Tracker& t = tracker();
    std::lock_guard lock(t.mutex);
    ensure_running_locked(t);
}

int tracker_fd() noexcept {
    Tracker& t = tracker();
    std::lock_guard lock(t.mutex);
    return t.fd.get();
}

void tracker_adopt(UniqueFd fd) {
    Tracker& t = tracker();
    std::lock_guard lock(t.mutex);
    t.fd = std::move(fd);
}

void resource_tracker_main(int fd) {
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    std::set<std::string> names;
    char buf[512];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // every holder is gone
        std::string name(buf + 1, static_cast<std::size_t>(n - 1));
        if (name.empty() || name[0] != '/' || name.find('/', 1) != std::string::npos) continue;  // not a name we track
        if (buf[0] == 'R') names.insert(name);
        else if (buf[0] == 'U') names.erase(name);
    }
    for (const auto& name : names) ::shm_unlink(name.c_str());
    ::_exit(0);
}

}  // namespace nogil::multiprocessing::detail
