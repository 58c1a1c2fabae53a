// UDP and unix datagram endpoints. Guarantees are in include/nogil/asyncio/datagram.hpp.
#include <nogil/asyncio/datagram.hpp>

#include "asyncio/detail/fd_waiter.hpp"
#include <nogil/asyncio/detail/loop_core.hpp>
#include "asyncio/detail/socket.hpp"
#include <nogil/asyncio/detail/transport.hpp>  // throw_os_error: errno -> ConnectionRefusedError...
#include <nogil/detail/unique_fd.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <memory>
#include <vector>

namespace nogil::asyncio::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


/// Shared by an endpoint and its running operations, so that moving the endpoint or closing
/// it while an operation is suspended never leaves the operation with a dangling socket.
struct DatagramState {
    UniqueFd fd;
    int family = AF_UNSPEC;
    bool connected = false;
    bool closing = false;
    bool receiving = false;
    int pending = 0;  // operations suspended on the fd; the last one out closes a closing socket

    void close() noexcept {
        if (closing) return;
        closing = true;
        if (pending == 0)
            fd.reset();
        else
            ::shutdown(fd.get(), SHUT_RDWR);  // wakes the pending operations (readable/writable)
    }
};

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

namespace {

using detail::DatagramState;

using detail::ResolvedAddress;

[[noreturn]] void throw_errno(const std::string& what) { detail::throw_os_error(errno, what); }

const sockaddr* raw(const ResolvedAddress& a) noexcept { return reinterpret_cast<const sockaddr*>(&a.addr); }

SocketAddress to_address(const sockaddr_storage& s, socklen_t len) {
    auto a = detail::to_socket_address(reinterpret_cast<const sockaddr*>(&s), len);
    return a ? std::move(*a) : SocketAddress{};
}

/// The first address getaddrinfo gives for host:port (numeric inline, names off the loop).
Coroutine<ResolvedAddress> resolve_one(std::string host, std::uint16_t port, int family, bool passive) {
    auto found = co_await detail::resolve_stream(std::move(host), port, family, passive);
    co_return found.front();  // resolve_stream throws gaierror rather than return nothing
}

/// Counts an operation as suspended on the socket; the last one out of a closing socket closes it.
struct PendingOp {
    DatagramState& s;
    explicit PendingOp(DatagramState& state) : s(state) { ++s.pending; }
    ~PendingOp() {
        if (--s.pending == 0 && s.closing) s.fd.reset();
    }
    PendingOp(const PendingOp&) = delete;
    PendingOp& operator=(const PendingOp&) = delete;
};

void check_open(const DatagramState& s, const char* what) {
    if (s.closing) throw OSError(EBADF, std::string(what) + " on a closed endpoint");
}

Coroutine<std::pair<std::string, SocketAddress>> recv_one(std::shared_ptr<DatagramState> state, std::size_t bufsize) {
    check_open(*state, "recvfrom");
    if (state->receiving)
        throw std::runtime_error("recvfrom() called while another coroutine is already waiting for a datagram");
    state->receiving = true;
    PendingOp op(*state);
    struct Receiving {
        DatagramState& s;
        ~Receiving() { s.receiving = false; }
    } receiving{*state};
    // Received into a scratch block, returned as a string of the datagram's size: a 5-byte
    // datagram must not keep `bufsize` (64 KiB) of capacity alive in the caller's hands (a
    // queue of small datagrams would hold 64 KiB each), and the block is not zero-filled.
    auto buffer = std::make_unique_for_overwrite<char[]>(bufsize ? bufsize : 1);
    for (;;) {
        check_open(*state, "recvfrom");
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(state->fd.get(), buffer.get(), bufsize, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n >= 0) {
            co_return std::pair<std::string, SocketAddress>(std::string(buffer.get(), static_cast<std::size_t>(n)),
                                                            to_address(from, len));
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            co_await detail::wait_readable(state->fd.get());
        else if (errno != EINTR)
            throw_errno("recvfrom");
    }
}

/// Sends to `to`, or to the connected peer when `to` has no host.
Coroutine<> send_one(std::shared_ptr<DatagramState> state, std::string data, std::optional<SocketAddress> to) {
    std::optional<ResolvedAddress> dest;
    if (to) {
        if (state->family == AF_UNIX)
            dest = detail::unix_address(to->host);
        else
            dest = co_await resolve_one(to->host, to->port, state->family, false);
    }
    PendingOp op(*state);
    for (;;) {
        check_open(*state, "sendto");
        ssize_t n = dest ? ::sendto(state->fd.get(), data.data(), data.size(), MSG_NOSIGNAL, raw(*dest), dest->len)
                       : ::send(state->fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) co_return;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            co_await detail::wait_writable(state->fd.get());
        else if (errno != EINTR)
            throw_errno("sendto");
    }
}

std::shared_ptr<DatagramState> make_socket(int family) {
    auto state = std::make_shared<DatagramState>();
    state->family = family;
    state->fd.reset(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!state->fd) throw_errno("socket");
    return state;
}

void set_flag(int fd, int option, const char* name) {
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, option, &one, sizeof one) != 0) throw_errno(name);
}

struct UdpSpec {
    std::optional<std::string> local_host, remote_host;
    std::uint16_t local_port = 0, remote_port = 0;
    DatagramOptions flags;
};

Coroutine<DatagramEndpoint> open_udp(UdpSpec spec) {
    (void)detail::running_loop_or_throw();
    int family = spec.flags.family;
    std::optional<ResolvedAddress> local, remote;
    if (spec.local_host) {
        local = co_await resolve_one(*spec.local_host, spec.local_port, family, true);
        family = local->family;
    }
    if (spec.remote_host) {
        remote = co_await resolve_one(*spec.remote_host, spec.remote_port, family, false);
        family = remote->family;
    }
    auto state = make_socket(family);
    const int fd = state->fd.get();
    if (spec.flags.reuse_port) set_flag(fd, SO_REUSEPORT, "setsockopt(SO_REUSEPORT)");
    if (spec.flags.allow_broadcast) set_flag(fd, SO_BROADCAST, "setsockopt(SO_BROADCAST)");
    if (local && ::bind(fd, raw(*local), local->len) != 0) throw_errno("bind to local_addr " + *spec.local_host);
    if (remote) {
        if (::connect(fd, raw(*remote), remote->len) != 0) throw_errno("connect to remote_addr " + *spec.remote_host);
        state->connected = true;
    }
    co_return DatagramEndpoint(std::move(state));
}

struct UnixSpec {
    std::string local_path, remote_path;
};

Coroutine<DatagramEndpoint> open_unix(UnixSpec spec) {
    (void)detail::running_loop_or_throw();
    std::optional<ResolvedAddress> local, remote;
    if (!spec.local_path.empty()) local = detail::unix_address(spec.local_path);
    if (!spec.remote_path.empty()) remote = detail::unix_address(spec.remote_path);
    auto state = make_socket(AF_UNIX);
    const int fd = state->fd.get();
    if (local) {
        struct stat st{};
        if (spec.local_path[0] != '\0' && ::stat(spec.local_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
            ::unlink(spec.local_path.c_str());
        if (::bind(fd, raw(*local), local->len) != 0) throw_errno("bind to local_path '" + spec.local_path + "'");
    }
    if (remote) {
        if (::connect(fd, raw(*remote), remote->len) != 0) throw_errno("connect to remote_path '" + spec.remote_path + "'");
        state->connected = true;
    }
    co_return DatagramEndpoint(std::move(state));
}

}  // namespace

DatagramEndpoint& DatagramEndpoint::operator=(DatagramEndpoint&& other) noexcept {
    if (this != &other) {
        close();
        state_ = std::move(other.state_);
    }
    return *this;
}

DatagramEndpoint::~DatagramEndpoint() { close(); }

void DatagramEndpoint::close() noexcept {
    if (state_) state_->close();
}

bool DatagramEndpoint::is_closing() const noexcept { return !state_ || state_->closing; }

int DatagramEndpoint::fileno() const noexcept { return state_ && !state_->closing ? state_->fd.get() : -1; }

Coroutine<std::pair<std::string, SocketAddress>> DatagramEndpoint::recvfrom(std::size_t bufsize) {
    if (!state_) throw std::runtime_error("recvfrom on a moved-from DatagramEndpoint");
    if (bufsize == 0) throw std::invalid_argument("bufsize must be positive");
    check_open(*state_, "recvfrom");
    return recv_one(state_, bufsize);
}

Coroutine<> DatagramEndpoint::sendto(std::string_view data) {
    if (!state_) throw std::runtime_error("sendto on a moved-from DatagramEndpoint");
    check_open(*state_, "sendto");
    if (!state_->connected) throw std::runtime_error("sendto() without an address needs a connected endpoint (remote_addr)");
    return send_one(state_, std::string(data), std::nullopt);
}

Coroutine<> DatagramEndpoint::sendto(std::string_view data, const SocketAddress& addr) {
    return sendto(data, addr.host, addr.port);
}

Coroutine<> DatagramEndpoint::sendto(std::string_view data, std::string_view host, std::uint16_t port) {
    if (!state_) throw std::runtime_error("sendto on a moved-from DatagramEndpoint");
    check_open(*state_, "sendto");
    if (state_->family == AF_UNIX && host.empty()) throw std::invalid_argument("host: a unix socket path is required");
    return send_one(state_, std::string(data), SocketAddress{state_->family, std::string(host), port});
}

SocketAddress DatagramEndpoint::sockname() const {
    if (!state_ || state_->closing) throw OSError(EBADF, "sockname of a closed endpoint");
    sockaddr_storage s{};
    socklen_t len = sizeof s;
    if (::getsockname(state_->fd.get(), reinterpret_cast<sockaddr*>(&s), &len) != 0) throw_errno("getsockname");
    return to_address(s, len);
}

SocketAddress DatagramEndpoint::peername() const {
    if (!state_ || state_->closing) throw OSError(EBADF, "peername of a closed endpoint");
    sockaddr_storage s{};
    socklen_t len = sizeof s;
    if (::getpeername(state_->fd.get(), reinterpret_cast<sockaddr*>(&s), &len) != 0) throw_errno("getpeername");
    return to_address(s, len);
}

Coroutine<DatagramEndpoint> open_datagram_endpoint(DatagramOptions options) {
    if (!options.local_addr && !options.remote_addr)
        throw std::invalid_argument("open_datagram_endpoint: local_addr or remote_addr must be given");
    if (options.family != 0 && options.family != AF_INET && options.family != AF_INET6)
        throw std::invalid_argument("family must be AF_INET, AF_INET6 or 0, got " + std::to_string(options.family));
    if (options.remote_addr && options.remote_addr->port == 0)
        throw std::invalid_argument("remote_addr: port must not be 0");
    UdpSpec spec;
    if (options.local_addr) {
        spec.local_host = std::string(options.local_addr->host);
        spec.local_port = options.local_addr->port;
    }
    if (options.remote_addr) {
        spec.remote_host = std::string(options.remote_addr->host);
        spec.remote_port = options.remote_addr->port;
    }
    spec.flags = options;
    spec.flags.local_addr.reset();  // the views are copied above
    spec.flags.remote_addr.reset();
    return open_udp(std::move(spec));
}

Coroutine<DatagramEndpoint> open_unix_datagram_endpoint(UnixDatagramOptions options) {
    return open_unix(UnixSpec{std::string(options.local_path), std::string(options.remote_path)});
}

}  // namespace nogil::asyncio
