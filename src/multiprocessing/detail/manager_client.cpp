// The client half of the manager protocol (include/nogil/multiprocessing/detail/manager.hpp):
// each thread's connections to the managers it talks to.
#include <nogil/multiprocessing/detail/manager.hpp>

#include "multiprocessing/detail/manager_socket.hpp"
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/detail/frame.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <unistd.h>

namespace nogil::multiprocessing::detail {

namespace {

/// How many times this process shut a manager down (manager_forget), and the count at the
/// latest shutdown of each address: a connection opened before its address's latest shutdown
/// is to a dead server. The atomic is the fast path: unchanged since a connection was checked,
/// nothing to look up.
std::atomic<std::uint64_t> shutdowns{0};
std::mutex forgotten_mutex;
std::map<std::string, std::uint64_t> forgotten;  // guarded by forgotten_mutex

struct Connection {
    UniqueFd fd;
    std::uint64_t opened_at = 0;  // `shutdowns` when opened
    std::uint64_t checked_at = 0;  // `shutdowns` when last found current
};

/// The calling thread's connections, by (path, authkey). Dropped wholesale in a child made by
/// fork(): the parent's sockets must not be shared (Python's BaseProxy._after_fork).
struct Connections {
    pid_t pid = ::getpid();
    std::map<std::pair<std::string, std::string>, Connection> by_address;
    ~Connections();
};

/// True if `c` was opened before its address's latest shutdown by this process.
bool stale(Connection& c, const std::string& path) {
    std::uint64_t now = shutdowns.load(std::memory_order_acquire);  // pairs with manager_forget's release
    if (now == c.checked_at) return false;
    std::lock_guard lock(forgotten_mutex);
    auto it = forgotten.find(path);
    if (it != forgotten.end() && it->second > c.opened_at) return true;
    c.checked_at = now;
    return false;
}

// Trivially destructible, so still readable after the thread's Connections is destroyed: a
// proxy destroyed later in the thread's (or the program's) exit then uses a fresh connection.
thread_local bool connections_destroyed = false;
Connections::~Connections() { connections_destroyed = true; }

Connections& connections() {
    thread_local Connections c;
    if (c.pid != ::getpid()) {
        c.by_address.clear();  // closes this process's copies only: the parent's sockets stay open
        c.pid = ::getpid();
    }
    return c;
}

UniqueFd open_connection(const ManagerAddress& address) {
    UniqueFd fd = unix_connect(address.path);
    client_handshake(fd.get(), address.authkey);
    return fd;
}

[[noreturn]] void gone(const ManagerAddress& address, const char* how) {
    throw EOFError("manager at " + address.path + " is gone: " + how);
}

/// One request (and its response unless `one_way`) on `fd`; throws EOFError when the server
/// is gone. Leaves the connection in sync only when it returns normally.
ManagerResponse exchange(int fd, const ManagerAddress& address, const ManagerRequest& request, bool one_way) {
    try {
        send_frame(fd, FrameKind::object, to_bytes(request));
    } catch (const OSError&) {
        gone(address, "sending the request failed");
    }
    if (one_way) return ManagerResponse{true, {}, {}};
    std::optional<Frame> frame;
    try {
        frame = recv_frame(fd);
    } catch (const OSError&) {
        gone(address, "the connection was reset during the call");
    } catch (const EOFError&) {
        gone(address, "the server closed the connection during the call");
    }
    if (!frame) gone(address, "the server closed the connection during the call");
    return from_bytes<ManagerResponse>(frame->bytes);
}

std::string result_of(ManagerResponse response) {
    if (!response.ok) std::rethrow_exception(rebuild_exception(response.error));
    return std::move(response.bytes);
}

}  // namespace

std::string manager_call(const ManagerAddress& address, const ManagerRequest& request) {
    const bool one_way = request.op == ManagerOp::decref;
    if (connections_destroyed) {  // this thread is ending: a connection of its own for this call
        UniqueFd fd = open_connection(address);
        return result_of(exchange(fd.get(), address, request, one_way));
    }
    auto& table = connections().by_address;
    auto key = std::make_pair(address.path, address.authkey);
    auto it = table.find(key);
    if (it != table.end() && stale(it->second, address.path)) {
        table.erase(it);
        it = table.end();
    }
    if (it == table.end()) {
        std::uint64_t now = shutdowns.load(std::memory_order_acquire);
        it = table.emplace(key, Connection{open_connection(address), now, now}).first;
    }
    ManagerResponse response;
    try {
        response = exchange(it->second.fd.get(), address, request, one_way);
    } catch (...) {
        table.erase(key);  // out of sync or dead: the next call opens a new connection
        throw;
    }
    return result_of(std::move(response));
}

void manager_forget(const std::string& path) {
    std::lock_guard lock(forgotten_mutex);
    std::uint64_t n = shutdowns.load(std::memory_order_relaxed) + 1;
    forgotten[path] = n;
    shutdowns.store(n, std::memory_order_release);
}

void manager_decref(const ManagerAddress& address, std::uint64_t id) noexcept {
    try {
        manager_call(address, ManagerRequest{ManagerOp::decref, id, {}, {}, {}});
    } catch (...) {
        // The manager is gone (its objects with it) or refused us: nothing left to release.
    }
}

}  // namespace nogil::multiprocessing::detail
