// The core's TLS hook: the default factory's registration, the handshake wait, start_tls
// (StreamWriter's and EventLoop's).
// See include/nogil/asyncio/detail/transport_layer.hpp for the transport/layer protocol.
#include <nogil/asyncio/detail/transport_layer.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/stream_reader.hpp>
#include <nogil/asyncio/stream_writer.hpp>
#include <nogil/errors.hpp>

#include "asyncio/detail/tls_start.hpp"
#include <atomic>
#include <stdexcept>

namespace nogil::asyncio::detail {

namespace {
// Written at static initialisation by every translation unit that includes <nogil/ssl.hpp>
// (always the same function), read when a connection asks for `ssl = true`.
std::atomic<DefaultTlsFactoryMaker> default_maker{nullptr};

void check_positive(const OptionalSeconds& timeout, const char* name) {
    if (timeout && !(timeout->count() > 0))
        throw std::invalid_argument(std::string(name) + " should be a positive number, got " +
                                    std::to_string(timeout->count()));
}
}  // namespace

void set_default_tls_factory_maker(DefaultTlsFactoryMaker maker) noexcept {
    default_maker.store(maker, std::memory_order_release);
}

std::shared_ptr<const TlsFactory> default_tls_factory() {
    DefaultTlsFactoryMaker maker = default_maker.load(std::memory_order_acquire);
    if (!maker) throw std::runtime_error("ssl=true needs nogil::ssl: link nogil::ssl and #include <nogil/ssl.hpp>");
    return maker();
}

void check_ssl_arguments(const SSLOption& ssl, bool has_server_hostname, const OptionalSeconds& handshake_timeout,
                         const OptionalSeconds& shutdown_timeout) {
    if (!ssl) {
        if (has_server_hostname) throw std::invalid_argument("server_hostname is only meaningful with ssl");
        if (handshake_timeout) throw std::invalid_argument("ssl_handshake_timeout is only meaningful with ssl");
        if (shutdown_timeout) throw std::invalid_argument("ssl_shutdown_timeout is only meaningful with ssl");
    }
    check_positive(handshake_timeout, "ssl_handshake_timeout");
    check_positive(shutdown_timeout, "ssl_shutdown_timeout");
}

TlsParams make_tls_params(bool server_side, std::string server_hostname, const OptionalSeconds& handshake_timeout,
                          const OptionalSeconds& shutdown_timeout) {
    TlsParams p;
    p.server_side = server_side;
    p.server_hostname = std::move(server_hostname);
    if (handshake_timeout) p.handshake_timeout = *handshake_timeout;
    if (shutdown_timeout) p.shutdown_timeout = *shutdown_timeout;
    return p;
}

asyncio::Future<> attach_layer(FdTransport& t, const TlsFactory& factory, const TlsParams& params) {
    asyncio::Future<> done(*t.loop().owner());
    // The layer reports once; a future already done (cancelled with its task) ignores it.
    HandshakeCallback report = [done](std::exception_ptr error) {
        if (done.done()) return;
        if (error)
            done.set_exception(error);
        else
            done.set_result();
    };
    t.set_layer(factory.make_layer(params, std::move(report)));
    return done;
}

Coroutine<> wait_handshake(Ref<FdTransport> t, asyncio::Future<> handshake) {
    try {
        co_await handshake;
    } catch (const CancelledError&) {
        t->abort();  // nothing half-done: the fd is closed, the layer's timers cancelled
        throw;
    }
}

Coroutine<> start_layer(Ref<FdTransport> t, std::shared_ptr<const TlsFactory> factory, TlsParams params) {
    asyncio::Future<> handshake = attach_layer(*t, *factory, params);
    co_await wait_handshake(std::move(t), std::move(handshake));
}

Coroutine<> start_tls(Ref<FdTransport> transport, SSLOption sslcontext, StartTlsOptions options) {
    if (!sslcontext || sslcontext.is_default())
        throw std::invalid_argument("sslcontext is expected to be an instance of ssl.SSLContext");
    check_ssl_arguments(sslcontext, options.server_hostname.has_value(), options.ssl_handshake_timeout,
                        options.ssl_shutdown_timeout);
    std::shared_ptr<const TlsFactory> factory = sslcontext.factory();  // before the context may go
    std::string server_hostname(options.server_hostname.value_or(""));
    co_await TransportAwaiter(transport, TransportAwaiter::Kind::drain);
    TlsParams params = make_tls_params(transport->server_side(), std::move(server_hostname),
                                       options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
    co_await start_layer(transport, std::move(factory), std::move(params));
}

namespace {
std::string not_a_context(const SSLOption& sslcontext) {
    return std::string("sslcontext is expected to be an instance of ssl.SSLContext, got ") +
           (sslcontext ? "True" : "None");
}

/// EventLoop::start_tls's body (a free coroutine: everything by value). `loop` is the loop it
/// was called on; the transport must belong to it.
Coroutine<StreamWriter> loop_start_tls(Ref<LoopCore> loop, StreamWriter transport, StreamReader protocol,
                                       SSLOption sslcontext, LoopStartTlsOptions options) {
    // Python's checks, in Python's order: the context, then the transport.
    if (!sslcontext || sslcontext.is_default()) throw std::invalid_argument(not_a_context(sslcontext));
    Ref<FdTransport> t(&transport.transport());
    if (!t->is_socket() || t->layer() || t->reader() != protocol.state())
        throw std::invalid_argument(std::string("transport is not supported by start_tls()") +
                                    (!t->is_socket() ? ": not a socket"
                                     : t->layer()    ? ": it already carries TLS"
                                                     : ": protocol is not its reader"));
    if (&t->loop() != loop.get()) throw std::runtime_error("start_tls: the transport belongs to another event loop");
    check_ssl_arguments(sslcontext, options.server_hostname.has_value(), options.ssl_handshake_timeout,
                        options.ssl_shutdown_timeout);
    std::shared_ptr<const TlsFactory> factory = sslcontext.factory();  // before the context may go
    TlsParams params = make_tls_params(options.server_side, std::string(options.server_hostname.value_or("")),
                                       options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
    co_await start_layer(t, std::move(factory), std::move(params));
    co_return StreamWriter(TransportUse(std::move(t)));
}
}  // namespace

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

Coroutine<StreamWriter> EventLoop::start_tls(StreamWriter transport, StreamReader protocol, SSLOption sslcontext,
                                             LoopStartTlsOptions options) {
    return detail::loop_start_tls(core_, std::move(transport), std::move(protocol), std::move(sslcontext),
                                  std::move(options));
}

}  // namespace nogil::asyncio
