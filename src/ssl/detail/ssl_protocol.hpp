#pragma once
// SSLProtocol: one TLS connection, the TransportLayer (nogil/asyncio/detail/transport_layer.hpp)
// that nogil::ssl puts between an FdTransport and its streams - Python's sslproto.SSLProtocol:
// OpenSSL works on two BIOs (a memory BIO for the bytes in from the fd; for the bytes out, one
// that appends to out_buf_, handed to the transport's write path by flush()); this class moves
// bytes between them and drives the state machine.
//
// States (Python's SSLProtocolState), each entered once, in this order:
//   handshake  attach() .. SSL_do_handshake() == 1. Application writes wait in `pending_`.
//              Bounded by the handshake timeout (ConnectionAbortedError, Python's message).
//   wrapped    application data both ways. The peer's close_notify: the reader gets EOF and
//              our close_notify goes out (shutdown). The fd's EOF without close_notify: the
//              reader gets EOF, the transport closes (TLS has no half-close).
//   shutdown   close() sent our close_notify; application bytes that still arrive are dropped;
//              the peer's close_notify (or EOF) closes the transport, gracefully, after its
//              queued bytes. Bounded by the shutdown timeout (then aborted, Python's
//              TimeoutError case).
//   unwrapped  done: connection lost, or closed. Nothing more is read or written.
// Errors: any OpenSSL failure loses the connection with SSLError / SSLCertVerificationError
// (the alert OpenSSL wrote is sent first, when the kernel takes it); during the handshake the
// error is what open_connection / start_tls throw.
// Re-entrancy: delivering bytes to the reader may resume a task inline, which may write, close
// or abort; every step re-checks the state after it.
// Loop thread only. Tests: tests/ssl/ssl_streams_test.cpp.
#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/transport.hpp>
#include <nogil/asyncio/detail/transport_layer.hpp>
#include <nogil/ssl/ssl_context.hpp>

#include <memory>
#include <openssl/ssl.h>
#include <string>

namespace nogil::ssl::detail {

class SSLProtocol final : public asyncio::detail::TransportLayer {
public:
    /// SSLError / std::invalid_argument (check_hostname without a server_hostname).
    SSLProtocol(std::shared_ptr<SSLContext::State> context, const asyncio::detail::TlsParams& params,
                asyncio::detail::HandshakeCallback done);
    ~SSLProtocol() override;

    void attach(asyncio::detail::FdTransport& t) override;
    void data_received(std::string_view raw) override;
    void eof_received() override;
    void write(std::string_view data) override;
    bool shutdown() override;
    void connection_lost(std::exception_ptr error) noexcept override;
    std::size_t pending_write_size() const noexcept override { return pending_.size(); }
    std::any extra_info(std::string_view name) const override;

private:
    enum class State : unsigned char { handshake, wrapped, shutdown, unwrapped };

    void do_handshake();
    void do_read();
    void do_shutdown();
    void begin_shutdown();
    void finish_shutdown();
    void write_wrapped(std::string_view data);
    /// Hands what OpenSSL wrote to the transport.
    void flush();
    /// Loses the connection with `error` (its alert flushed first).
    void fail(std::exception_ptr error);
    void report(std::exception_ptr error);
    void start_timer(std::chrono::duration<double> after, bool handshake);
    void cancel_timer() noexcept;

    std::shared_ptr<SSLContext::State> context_;
    std::shared_ptr<SSL> ssl_;                           // shared with SSLObjects handed out
    BIO* in_ = nullptr;                                  // owned by ssl_
    BIO* out_ = nullptr;                                 // owned by ssl_; appends to out_buf_
    std::string out_buf_;                                // records not yet handed to the transport
    asyncio::detail::FdTransport* transport_ = nullptr;  // the transport owns this layer
    asyncio::detail::HandshakeCallback done_;
    asyncio::detail::Ref<asyncio::detail::HandleState> timer_;
    asyncio::detail::TlsParams params_;
    std::string pending_;  // application bytes written during the handshake
    State state_ = State::handshake;
};

}  // namespace nogil::ssl::detail
