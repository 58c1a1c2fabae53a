#pragma once
// asyncio streams: Python's open_connection / start_server and their unix-socket forms.
//
//   asyncio::Coroutine<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
//       std::string line = co_await reader.readline();
//       writer.write(line);
//       co_await writer.drain();
//       writer.close();
//       co_await writer.wait_closed();
//   }
//   auto server = co_await asyncio::start_server(handle, "127.0.0.1", 8888);
//
//   auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", 8888);
//
// Host names are resolved off the loop thread (numeric addresses inline); IPv4 and IPv6 both
// work ("::1", "127.0.0.1", "localhost"). open_connection tries each address in turn; if all
// fail it throws the first error when they all say the same (ConnectionRefusedError...), else
// an OSError listing them, as Python does. It sets TCP_NODELAY, as Python does. Cancelling it while connecting closes the socket. Lifetimes, flow control and
// errors of the streams: stream_reader.hpp, stream_writer.hpp, docs/asyncio-io.md.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/server.hpp>
#include <nogil/asyncio/ssl_option.hpp>
#include <nogil/asyncio/stream_reader.hpp>
#include <nogil/asyncio/stream_writer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace nogil::asyncio {

/// What open_connection returns: `auto [reader, writer] = co_await open_connection(...);`
struct StreamPair {
    StreamReader reader;
    StreamWriter writer;
};

/// Options of open_connection / open_unix_connection.
struct ConnectionOptions {
    /// The StreamReader's limit.
    std::size_t limit = default_stream_limit;
    /// AF_UNSPEC (0: any), AF_INET or AF_INET6.
    int family = AF_UNSPEC;
    /// TLS: `true` (the default context) or an ssl::SSLContext (docs/ssl.md). The call returns
    /// once the handshake is done.
    SSLOption ssl;
    /// SNI and the name checked against the certificate; default: the host. "" sends no SNI
    /// (the context must then not check_hostname). Only with ssl. A view (see SSLOption).
    std::optional<std::string_view> server_hostname;
    /// Default 60 s; the connection is aborted with ConnectionAbortedError after it. Only with ssl.
    std::optional<std::chrono::duration<double>> ssl_handshake_timeout;
    /// How long close() waits for the peer's close_notify; default 30 s. Only with ssl.
    std::optional<std::chrono::duration<double>> ssl_shutdown_timeout;
};

/// Options of start_server / start_unix_server.
struct ServerOptions {
    /// Each connection's StreamReader limit.
    std::size_t limit = default_stream_limit;
    /// AF_UNSPEC (0: every family the host resolves to), AF_INET or AF_INET6.
    int family = AF_UNSPEC;
    /// listen() backlog; also the most connections accepted per readiness report.
    int backlog = 100;
    /// SO_REUSEADDR (Python's default on Unix).
    bool reuse_address = true;
    /// SO_REUSEPORT.
    bool reuse_port = false;
    /// Start accepting at once (else call start_serving() or serve_forever()).
    bool start_serving = true;
    /// TLS: an ssl::SSLContext (server side; `true` is std::invalid_argument, as Python's
    /// TypeError). The callback runs once a connection's handshake is done; a failed handshake
    /// (garbage instead of a ClientHello, a bad client certificate) closes that connection only.
    SSLOption ssl;
    /// Default 60 s. Only with ssl.
    std::optional<std::chrono::duration<double>> ssl_handshake_timeout;
    /// Default 30 s. Only with ssl.
    std::optional<std::chrono::duration<double>> ssl_shutdown_timeout;
};

/// The client_connected_cb: runs as its own task for each connection.
using ClientConnectedCallback = std::function<Coroutine<>(StreamReader, StreamWriter)>;

/// Connects to host:port (TCP). Throws gaierror, ConnectionRefusedError, OSError;
/// std::invalid_argument for a port outside 0-65535.
Coroutine<StreamPair> open_connection(std::string host, int port, ConnectionOptions options = {});
/// Connects to the unix socket at `path` (a leading '\0': abstract namespace).
Coroutine<StreamPair> open_unix_connection(std::string path, ConnectionOptions options = {});
/// Listens on host:port; host "" means every interface (IPv4 and IPv6), port 0 a free port
/// (see Server::sockets()). Throws OSError naming the address if it cannot bind.
Coroutine<Server> start_server(ClientConnectedCallback client_connected_cb, std::string host, int port,
                               ServerOptions options = {});
/// Listens on a unix socket at `path`; a stale socket file there is replaced, and the file is
/// removed when the server closes (Python 3.13's cleanup_socket).
Coroutine<Server> start_unix_server(ClientConnectedCallback client_connected_cb, std::string path,
                                    ServerOptions options = {});

/// Streams over an fd the caller already has: a connected socket, or a pipe end (for
/// subprocesses). Take ownership of `fd`, make it non-blocking; need a running loop.
/// A pipe's read end: a StreamReader alone.
StreamReader connect_read_fd(int fd, std::size_t limit = default_stream_limit);
/// A pipe's write end: a StreamWriter alone (write_eof() closes it).
StreamWriter connect_write_fd(int fd);
/// A bidirectional fd (a socket, e.g. from socketpair()).
StreamPair connect_fd(int fd, std::size_t limit = default_stream_limit);

}  // namespace nogil::asyncio
