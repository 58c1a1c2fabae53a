// The client half of the manager protocol (include/nogil/multiprocessing/detail/manager.hpp):
// each thread's connections to the managers it talks to.
#include <nogil/multiprocessing/detail/manager.hpp>

#include "multiprocessing/detail/manager_socket.hpp"
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/detail/frame.hpp>

#include <map>
#include <unistd.h>

namespace nogil::multiprocessing::detail {

namespace {

/// The calling thread's connections, by (path, authkey). Dropped wholesale in a child made by
/// fork(): the parent's sockets must not be shared (Python's BaseProxy._after_fork).
struct Connections {
    pid_t pid = ::getpid();
    std::map<std::pair<std::string, std::string>, UniqueFd> by_address;
    ~Connections();
};

// Trivially destructible, so still readable after the thread's Connections is destroyed: a
// proxy destroyed later in the thread's (or the program's) exit then uses a fresh connection.
thread_local bool connections_destroyed = false;
Connections::~Connections() { connections_destroyed = true; }

Connections& connections() {
    thread_local Connections c;
    if (c.pid != ::getpid()) {
        for (auto& [key, fd] : c.by_address) (void)fd.release();  // the parent's: leave them be
        c.by_address.clear();
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
    if (it == table.end()) it = table.emplace(key, open_connection(address)).first;
    ManagerResponse response;
    try {
        response = exchange(it->second.get(), address, request, one_way);
    } catch (...) {
        table.erase(key);  // out of sync or dead: the next call opens a new connection
        throw;
    }
    return result_of(std::move(response));
}

void manager_decref(const ManagerAddress& address, std::uint64_t id) noexcept {
    try {
        manager_call(address, ManagerRequest{ManagerOp::decref, id, {}, {}, {}});
    } catch (...) {
        // The manager is gone (its objects with it) or refused us: nothing left to release.
    }
}

}  // namespace nogil::multiprocessing::detail
