#pragma once
// asyncio::SocketAddress: what StreamWriter::get_extra_info("peername"/"sockname") and
// Server::sockets() report. Its own header because the transport, the writer and the server
// all need it.

#include <cstdint>
#include <string>

namespace nogil::asyncio {

/// A socket address (Python's (host, port) tuple, or the path of a unix socket).
struct SocketAddress {
    /// AF_INET, AF_INET6 or AF_UNIX.
    int family = 0;
    /// The numeric host ("127.0.0.1", "::1"); for AF_UNIX the path ("" for an unnamed socket,
    /// a leading '\0' for the abstract namespace).
    std::string host;
    /// The port (0 for AF_UNIX).
    std::uint16_t port = 0;

    friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

}  // namespace nogil::asyncio
