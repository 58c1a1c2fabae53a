// Socket plumbing for asyncio streams; see src/asyncio/detail/socket.hpp.
#include "asyncio/detail/socket.hpp"

#include <nogil/asyncio/threads.hpp>
#include "asyncio/detail/fd_waiter.hpp"
#include <nogil/asyncio/detail/transport.hpp>
#include <nogil/errors.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

FdGuard::~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
}

std::optional<asyncio::SocketAddress> to_socket_address(const sockaddr* sa, socklen_t len) {
    char host[INET6_ADDRSTRLEN] = {};
    switch (sa->sa_family) {
        case AF_INET: {
            const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
            ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            return asyncio::SocketAddress{AF_INET, host, ntohs(in->sin_port)};
        }
        case AF_INET6: {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
            ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
            return asyncio::SocketAddress{AF_INET6, host, ntohs(in6->sin6_port)};
        }
        case AF_UNIX: {
            const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
            const std::size_t offset = offsetof(sockaddr_un, sun_path);
            std::size_t n = len > offset ? len - offset : 0;
            // A filesystem path ends at its NUL; an abstract name (leading NUL) uses every byte.
            if (n > 0 && un->sun_path[0] != '\0') n = ::strnlen(un->sun_path, n);
            return asyncio::SocketAddress{AF_UNIX, std::string(un->sun_path, n), 0};
        }
        default:
            return std::nullopt;
    }
}

std::string describe_address(const asyncio::SocketAddress& a) {
    if (a.family == AF_UNIX) return a.host;
    if (a.family == AF_INET6) return "[" + a.host + "]:" + std::to_string(a.port);
    return a.host + ":" + std::to_string(a.port);
}

std::uint16_t check_port(int port) {
    if (port < 0 || port > 65535) throw std::invalid_argument("port must be 0-65535, got " + std::to_string(port));
    return static_cast<std::uint16_t>(port);
}

// ----------------------------------------------------------------------------- resolution

namespace {

struct Lookup {
    std::vector<ResolvedAddress> addresses;
    std::exception_ptr error;
};

Lookup lookup(const std::string& host, std::uint16_t port, int family, bool passive, bool numeric_only) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) | (numeric_only ? AI_NUMERICHOST : 0);
    if (!passive && !numeric_only) hints.ai_flags |= AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    Lookup out;
    if (rc != 0) {
        std::string msg = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        out.error = std::make_exception_ptr(gaierror(rc, "getaddrinfo('" + host + "'): " + msg));
        return out;
    }
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        ResolvedAddress a;
        a.family = ai->ai_family;
        a.socktype = ai->ai_socktype;
        a.protocol = ai->ai_protocol;
        a.len = ai->ai_addrlen;
        std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
        out.addresses.push_back(a);
    }
    ::freeaddrinfo(res);
    return out;
}

}  // namespace

asyncio::Coroutine<std::vector<ResolvedAddress>> resolve_stream(std::string host, std::uint16_t port, int family,
                                                                bool passive) {
    // Numeric hosts and the wildcard never touch DNS: resolve them here, without a thread.
    Lookup numeric = lookup(host, port, family, passive, true);
    if (!numeric.error) co_return std::move(numeric.addresses);

    // A name: getaddrinfo() may block on DNS, so it runs in the loop's default executor
    // (Python's loop.getaddrinfo is run_in_executor(None, socket.getaddrinfo, ...)).
    Lookup found = co_await asyncio::get_running_loop().run_in_executor(nullptr, &lookup, host, port, family, passive,
                                                                        false);
    if (found.error) std::rethrow_exception(found.error);
    co_return std::move(found.addresses);
}

// ----------------------------------------------------------------------------- connect / bind

asyncio::Coroutine<int> connect_stream(ResolvedAddress address) {
    FdGuard fd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, address.protocol));
    if (fd.get() < 0) throw_os_error(errno, "socket()");
    if (address.family == AF_INET || address.family == AF_INET6) {
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Python's default
    }
    const auto where = to_socket_address(reinterpret_cast<const sockaddr*>(&address.addr), address.len);
    const std::string what = "connect to " + (where ? describe_address(*where) : std::string("?"));
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.len);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        if (errno != EINPROGRESS) throw_os_error(errno, what);
        co_await wait_writable(fd.get());
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err != 0) throw_os_error(err, what);
    }
    co_return fd.release();
}

ResolvedAddress unix_address(const std::string& path) {
    if (path.empty()) throw std::invalid_argument("path must not be empty");
    ResolvedAddress a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.addr);
    if (path.size() >= sizeof un->sun_path)
        throw std::invalid_argument("path is too long for a unix socket (" + std::to_string(path.size()) + " bytes)");
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    a.family = AF_UNIX;
    a.socktype = SOCK_STREAM;
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '\0' ? 0 : 1));
    return a;
}

int bind_stream(const ResolvedAddress& address, bool reuse_address, bool reuse_port) {
    FdGuard fd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, address.protocol));
    if (fd.get() < 0) throw_os_error(errno, "socket()");
    int one = 1;
    if (address.family != AF_UNIX) {
        if (reuse_address) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            throw_os_error(errno, "setsockopt(SO_REUSEPORT)");
        // Python's rule: a v6 socket serves v6 only, so that "" can bind 0.0.0.0 and :: both.
        if (address.family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.len) < 0) {
        const int err = errno;
        const auto where = to_socket_address(reinterpret_cast<const sockaddr*>(&address.addr), address.len);
        throw_os_error(err, "error while attempting to bind on address " +
                                (where ? describe_address(*where) : std::string("?")));
    }
    return fd.release();
}

}  // namespace nogil::asyncio::detail
