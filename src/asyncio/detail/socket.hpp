#pragma once
// Socket plumbing for asyncio streams: name resolution off the loop thread, non-blocking
// connect, listening sockets, address conversion. Loop thread only, except where noted.
//
// Resolution (Python's loop.getaddrinfo): a numeric host ("127.0.0.1", "::1") or an empty one
// is resolved inline with AI_NUMERICHOST, which never blocks. A name is resolved by
// getaddrinfo() in the loop's default executor (run_in_executor), and the awaiting task is
// resumed on the loop's thread once the answer is handed back. Cancelling the task abandons the
// answer (a lookup that started runs to its end on its worker thread, as in Python).

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/detail/socket_address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace nogil::asyncio::detail {

/// One getaddrinfo() result.
struct ResolvedAddress {
    int family = 0;
    int socktype = 0;
    int protocol = 0;
    sockaddr_storage addr{};
    socklen_t len = 0;
};

/// Converts a socket address (AF_INET, AF_INET6, AF_UNIX); nullopt for other families.
std::optional<asyncio::SocketAddress> to_socket_address(const sockaddr* sa, socklen_t len);
/// "host:port", "[v6]:port" or the unix path, for messages.
std::string describe_address(const asyncio::SocketAddress& a);

/// Checks 0 <= port <= 65535 (std::invalid_argument naming `port` otherwise).
std::uint16_t check_port(int port);

/// getaddrinfo(host, port) for SOCK_STREAM, off the loop thread unless numeric (see above).
/// `passive`: for binding (an empty host means every interface). Throws gaierror.
asyncio::Coroutine<std::vector<ResolvedAddress>> resolve_stream(std::string host, std::uint16_t port, int family,
                                                                bool passive);

/// Connects a new non-blocking socket to `address`, waiting for writability; returns the fd
/// (the caller owns it). Cancelling closes the socket. Throws the OSError subclass for the
/// errno (ConnectionRefusedError...).
asyncio::Coroutine<int> connect_stream(ResolvedAddress address);

/// A unix socket address for `path` (a leading '\0' selects the abstract namespace).
/// std::invalid_argument if the path is empty or too long.
ResolvedAddress unix_address(const std::string& path);

/// A bound (not yet listening) non-blocking stream socket. Throws OSError naming the address.
int bind_stream(const ResolvedAddress& address, bool reuse_address, bool reuse_port);

/// Closes an fd on scope exit unless released.
class FdGuard {
public:
    explicit FdGuard(int fd) noexcept : fd_(fd) {}
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    ~FdGuard();
    int release() noexcept {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

}  // namespace nogil::asyncio::detail
