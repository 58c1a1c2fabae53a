#pragma once
// UDP and unix datagram endpoints: Python's loop.create_datagram_endpoint, with awaitable
// recvfrom / sendto instead of a protocol class.
//
//   auto ep = co_await asyncio::open_datagram_endpoint({.local_addr = {{"127.0.0.1", 0}}});
//   co_await ep.sendto("ping", "127.0.0.1", ep.sockname().port);
//   auto [data, addr] = co_await ep.recvfrom();      // data == "ping", addr a SocketAddress
//   co_await ep.sendto("pong", addr);
//
//   auto u = co_await asyncio::open_unix_datagram_endpoint({.local_path = "/tmp/a.sock"});
//
// Guarantees:
//   - recvfrom() suspends the task until one datagram arrives (its whole payload up to
//     `bufsize` bytes; longer datagrams are truncated, as with recvfrom(2)); it is resumed by
//     the loop on the loop's thread in the iteration that saw the socket readable.
//     Cancelling it unregisters the socket and throws CancelledError: no datagram is consumed
//     and the endpoint stays usable. One recvfrom at a time per endpoint (a second concurrent
//     one throws std::runtime_error, as Python's streams do).
//   - sendto() sends one datagram; it only suspends when the socket buffer is full (or to
//     resolve a host name). Errors are OSError from the await, with the streams' subclasses:
//     an ICMP port-unreachable answer on a connected endpoint is ConnectionRefusedError from
//     the next recvfrom/sendto (Python hands it to protocol.error_received).
//   - close() (also the destructor) ends pending operations: their await throws OSError(EBADF).
//
// Addresses are SocketAddress, as the streams report them: {family, numeric host, port}; for
// unix sockets host is the path and port 0 (an unbound peer has an empty path). Host names
// are resolved as the streams do it (numeric inline, names in the default executor).
//
// Threading: an endpoint belongs to the loop it was opened on; use it from that loop's tasks.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/detail/socket_address.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nogil::asyncio::detail {
struct DatagramState;
}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

/// A host and port in options (a view: copied when the endpoint is opened).
struct HostPort {
    /// Numeric address or name; empty: the wildcard address (local_addr only).
    std::string_view host{};
    /// 0: any free port (local_addr).
    std::uint16_t port{0};
};

/// The keyword arguments of Python's create_datagram_endpoint. Views only (g++ 12 miscompiles
/// aggregate temporaries with owning members inside co_await expressions).
struct DatagramOptions {
    /// bind() to this address.
    std::optional<HostPort> local_addr{};
    /// connect() to this address: sendto() without an address goes there, and only its
    /// datagrams are received.
    std::optional<HostPort> remote_addr{};
    /// AF_INET, AF_INET6, or 0 (AF_UNSPEC): chosen from the addresses.
    int family{0};
    /// SO_REUSEPORT: several endpoints may bind the same address and port.
    bool reuse_port{false};
    /// SO_BROADCAST: sending to broadcast addresses is allowed.
    bool allow_broadcast{false};
};

/// Options of open_unix_datagram_endpoint (Python: family=AF_UNIX with paths as addresses).
struct UnixDatagramOptions {
    /// bind() to this path; an existing socket file there is removed first (as Python does).
    std::string_view local_path{};
    /// connect() to this path.
    std::string_view remote_path{};
};

/// One datagram socket (UDP or unix). Move-only; the destructor closes it.
///
/// Thread safety: loop thread only (the loop it was opened on).
class DatagramEndpoint {
public:
    DatagramEndpoint(DatagramEndpoint&&) noexcept = default;
    DatagramEndpoint& operator=(DatagramEndpoint&& other) noexcept;
    ~DatagramEndpoint();

    /// Waits for one datagram; returns {payload, sender}. See the header comment.
    Coroutine<std::pair<std::string, SocketAddress>> recvfrom(std::size_t bufsize = 65536);
    /// Sends `data` to the connected remote address (remote_addr / remote_path). Throws
    /// std::runtime_error at once if the endpoint is not connected.
    Coroutine<> sendto(std::string_view data);
    /// Sends `data` to `addr` (e.g. what recvfrom returned).
    Coroutine<> sendto(std::string_view data, const SocketAddress& addr);
    /// Sends `data` to host:port (a unix endpoint: host is the path, port ignored).
    Coroutine<> sendto(std::string_view data, std::string_view host, std::uint16_t port = 0);

    /// The local address (Python's get_extra_info('sockname')).
    SocketAddress sockname() const;
    /// The connected peer (Python's get_extra_info('peername')); throws OSError if none.
    SocketAddress peername() const;
    /// The socket's file descriptor, or -1 once closed.
    int fileno() const noexcept;
    /// Closes the socket; pending recvfrom/sendto throw OSError(EBADF). Idempotent.
    void close() noexcept;
    /// True once close() was called (Python's transport.is_closing()).
    bool is_closing() const noexcept;

    /// The machinery; not part of the public API.
    explicit DatagramEndpoint(std::shared_ptr<detail::DatagramState> state) noexcept : state_(std::move(state)) {}

private:
    std::shared_ptr<detail::DatagramState> state_;
};

/// Opens a UDP endpoint (Python's loop.create_datagram_endpoint). At least one of local_addr
/// and remote_addr is needed. Throws std::invalid_argument for bad options, OSError (e.g.
/// EADDRINUSE) if the socket cannot be created, bound or connected.
Coroutine<DatagramEndpoint> open_datagram_endpoint(DatagramOptions options);

/// Opens a unix datagram endpoint (AF_UNIX, SOCK_DGRAM). An endpoint with neither path is
/// unbound (it can send to a path, but nobody can answer it).
Coroutine<DatagramEndpoint> open_unix_datagram_endpoint(UnixDatagramOptions options);

}  // namespace nogil::asyncio
