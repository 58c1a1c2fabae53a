#pragma once
// asyncio::Server: what start_server() / start_unix_server() return (Python's asyncio.Server).
//
//   asyncio::Server server = co_await asyncio::start_server(handle, "127.0.0.1", 8888);
//   auto port = server.sockets()[0].port;
//   co_await server.serve_forever();          // until cancelled; closes the server then
//
// A shared handle. Leaving the scope of the last Server handle closes the server (Python's
// `async with server` exit, without the wait): the listening sockets close, client connections
// keep running until their callbacks finish. close() does the same explicitly; wait_closed()
// waits until the server is closed and every client connection is gone.
//
// Each accepted connection runs client_connected_cb(reader, writer) as its own task. See
// detail/socket_server.hpp for the accept loop and error reporting.
//
// Resumption: wait_closed() and serve_forever() are resumed by the loop one turn after the
// event. Cancelling serve_forever() closes the server and throws CancelledError (Python 3.12
// also waits for the clients there; nogil leaves that to wait_closed(), so that a cancelled
// serve_forever() cannot hang on a client that never leaves). Loop thread only.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/detail/socket_address.hpp>
#include <nogil/asyncio/detail/socket_server.hpp>

#include <vector>

namespace nogil::asyncio {

/// Thread safety: loop thread only; client callbacks run as tasks on the loop's thread.
class Server {
public:
    /// Stops listening and closes the listening sockets; clients keep running. Idempotent.
    void close() const noexcept { state_->close(); }
    /// Waits until the server is closed and every client connection has been closed.
    Coroutine<> wait_closed() const { return detail::ServerState::wait_closed(state_.ref()); }
    /// Starts serving if needed, then waits until cancelled or closed; see the header comment.
    /// RuntimeError if closed, or if another serve_forever() is running.
    Coroutine<> serve_forever() const { return detail::ServerState::serve_forever(state_.ref()); }
    /// Starts accepting (for servers created with start_serving = false). RuntimeError if closed.
    void start_serving() const { state_->start_serving(); }
    /// True while accepting connections.
    bool is_serving() const noexcept { return state_->is_serving(); }
    /// The listening addresses (Python returns socket objects; here their addresses). Empty
    /// once closed.
    std::vector<SocketAddress> sockets() const { return state_->sockets(); }
    /// Closes every client connection gracefully (Python 3.13).
    void close_clients() const { state_->close_clients(); }
    /// Aborts every client connection, dropping queued bytes (Python 3.13).
    void abort_clients() const { state_->abort_clients(); }
    /// The loop the server runs on.
    EventLoop& get_loop() const noexcept { return *state_->loop().owner(); }

    /// The machinery; not part of the public API.
    explicit Server(detail::UseRef<detail::ServerState> state) noexcept : state_(std::move(state)) {}

private:
    detail::UseRef<detail::ServerState> state_;
};

}  // namespace nogil::asyncio
