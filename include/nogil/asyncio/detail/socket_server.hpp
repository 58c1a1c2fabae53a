#pragma once
// ServerState: the machinery behind asyncio::Server (Python's asyncio.base_events.Server plus
// the accept loop of selector_events).
//
// Accepting: each listening socket stays registered with the loop while serving; a readiness
// report accepts up to `backlog` connections (accept4, non-blocking). Each connection gets a
// transport and a StreamReader/StreamWriter, and the client_connected_cb runs as its own task.
// Out of fds (EMFILE/ENFILE/ENOBUFS/ENOMEM): the error goes to the loop's exception handler and
// accepting pauses for one second (Python's ACCEPT_RETRY_DELAY), so the loop never spins.
// On the io_uring backend a listening socket is accepted by completions instead
// (IoBackend::start_accept: one multishot accept per listening socket): the connections the
// kernel accepted are kept as the loop reaps them and a loop callback sets them up, as
// on_acceptable does; when the kernel ends the multishot (an error, or its own reasons) the
// callback handles the error as above and starts another.
//
// A callback that throws (anything but CancelledError) is reported to the loop's exception
// handler ("Unhandled exception in client_connected_cb") and its connection is closed. When the
// callback returns, its reader and writer handles go away; if it kept no copy, that closes the
// connection gracefully (see detail/transport.hpp).
//
// Lifetimes: Server handles count as users; the last one gone closes the server (listening
// sockets only; clients keep running). Client tasks hold a reference to the state, not a use.
// The state tracks its live client transports (for close_clients, abort_clients, wait_closed);
// a transport tells the state when its connection is lost.
// Loop thread only.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/stream_reader.hpp>
#include <nogil/asyncio/stream_writer.hpp>
#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/detail/socket_address.hpp>
#include <nogil/asyncio/detail/transport.hpp>
#include <nogil/asyncio/detail/transport_layer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <unordered_set>
#include <vector>

namespace nogil::asyncio::detail {

class ServerState final : public TransportObserver, private AcceptSink {
public:
    using Callback = std::function<asyncio::Coroutine<>(asyncio::StreamReader, asyncio::StreamWriter)>;

    ServerState(LoopCore& loop, Callback callback, std::size_t limit, int backlog);
    ~ServerState();
    ServerState(const ServerState&) = delete;
    ServerState& operator=(const ServerState&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    void add_user() noexcept { ++users_; }
    void remove_user() noexcept;

    /// Takes ownership of a bound socket. `unix_path`: the file to remove on close (if it is
    /// still this socket's).
    void add_listener(int fd, std::string unix_path = {});
    /// Serve TLS: every accepted connection does its handshake (with `params`) before the
    /// callback runs; one that fails is closed and the callback never sees it.
    void set_tls(std::shared_ptr<const TlsFactory> factory, TlsParams params) {
        tls_ = std::move(factory);
        tls_params_ = std::move(params);
    }
    /// listen() and register the listening sockets (idempotent). RuntimeError if closed.
    void start_serving();
    /// Stops listening and closes the listening sockets; clients keep running. Idempotent.
    void close() noexcept;
    bool is_serving() const noexcept { return serving_; }
    std::vector<asyncio::SocketAddress> sockets() const;
    /// Graceful close / abort of every live client connection.
    void close_clients();
    void abort_clients();
    std::size_t client_count() const noexcept { return clients_.size(); }
    LoopCore& loop() const noexcept { return *loop_; }

    /// Until closed and every client connection is gone.
    static asyncio::Coroutine<> wait_closed(Ref<ServerState> self);
    /// start_serving(), then until cancelled (or close()d); closes the server on the way out
    /// and re-throws the CancelledError.
    static asyncio::Coroutine<> serve_forever(Ref<ServerState> self);

    void connection_lost(FdTransport& transport) noexcept override;

private:
    struct Listener {
        int fd = -1;
        asyncio::SocketAddress address;
        bool registered = false;
        std::uint64_t accept_id = 0;  // the multishot accept in flight (io_uring; 0: none)
        int accept_end = 0;           // what ended it, for the callback (0: nothing ended)
        std::string unix_path;
        dev_t dev = 0;
        ino_t ino = 0;
    };
    static asyncio::Coroutine<> run_client(Ref<ServerState> self, asyncio::StreamReader reader,
                                           asyncio::StreamWriter writer, std::optional<asyncio::Future<>> handshake);
    void on_acceptable(int fd);
    /// An accept error: reported; out of resources pauses accepting. False: stop this round.
    bool accept_failed(int err);
    // Accepting by completions (io_uring): AcceptSink, and the loop callback it schedules.
    void on_accept(std::uint64_t id, int fd) noexcept override;
    void on_accept_end(std::uint64_t id, int res) noexcept override;
    void on_accept_callback();
    void accept_connection(int fd);
    void register_listeners();
    void unregister_listeners() noexcept;
    void wakeup() noexcept;

    std::atomic<std::uint32_t> refs_{1};
    std::uint32_t users_ = 0;
    Ref<LoopCore> loop_;
    Callback callback_;
    std::size_t limit_;
    int backlog_;
    std::vector<Listener> listeners_;
    std::unordered_set<FdTransport*> clients_;
    std::vector<asyncio::Future<>> closed_waiters_;
    std::optional<asyncio::Future<>> serving_forever_;
    Ref<HandleState> retry_accept_;
    // Accepting by completions: connections the kernel accepted, for the callback to set up.
    std::vector<int> accepted_;
    CoalescedCallback<ServerState, &ServerState::on_accept_callback> accept_callback_;
    std::shared_ptr<const TlsFactory> tls_;
    TlsParams tls_params_;
    bool serving_ = false;
    bool closed_ = false;
    bool woken_ = false;  // closed with no clients left: wait_closed() returns at once
};

}  // namespace nogil::asyncio::detail
