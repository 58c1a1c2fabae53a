#pragma once
// TransportLayer: the core's one hook for a layer between an FdTransport's fd and its
// StreamReader/StreamWriter (Python's SSLProtocol sits there). It is OpenSSL-free: the core
// only moves bytes; the nogil::ssl target implements the layer with OpenSSL (docs/ssl.md).
//
//   fd --raw bytes--> FdTransport::on_readable --> layer.data_received(raw)
//                                                    --> plaintext into the reader's buffer
//   StreamWriter::write(plain) --> layer.write(plain) --> FdTransport::write_raw(ciphertext)
//   StreamWriter::close()      --> layer.shutdown()   --> ... FdTransport::close_raw()
//
// Protocol between a transport and its layer (loop thread only):
//   1. set_layer() attaches the layer once; attach() starts the handshake. The layer reports
//      its end exactly once through the completion callback given to the factory: null once
//      the handshake is done, the error otherwise (then the connection is already lost).
//   2. Every raw byte read from the fd goes to data_received(); the fd's EOF to eof_received().
//   3. write() gets the application's bytes; the layer hands what goes on the wire to
//      write_raw(), which keeps FdTransport's write buffer and flow control (drain()).
//   4. close() asks shutdown(): a layer that returns true owns the rest of the close (it sends
//      its close_notify, waits for the peer's up to its shutdown timeout, then close_raw());
//      false lets the transport close at once.
//   5. connection_lost() is called once, from the transport's connection-lost step; the layer
//      cancels its timers there and reports a handshake still under way as failed. The layer
//      object lives until the transport is destroyed (get_extra_info keeps working).
// Tests: step 1 SslStreams.EchoByName, GarbageInsteadOfClientHelloClosesThatConnectionOnly;
// step 2 SslStreams.MegabyteEachWay, PeerClosingWithoutCloseNotifyIsEof; step 3
// SslStreams.MegabyteEachWay; step 4 SslStreams.CloseSendsCloseNotifyAndThePeerSeesEof,
// ShutdownTimeoutEndsAWaitForAPeerThatNeverAnswers; step 5
// SslStreams.CancelledHandshakeLeavesNothingBehind, ClientHandshakeTimeoutIsConnectionAbortedError
// (tests/ssl/ssl_streams_test.cpp).

#include <any>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace nogil::asyncio::detail {

class FdTransport;

class TransportLayer {
public:
    virtual ~TransportLayer() = default;
    /// Step 1: the transport is `t` from now on; start the handshake.
    virtual void attach(FdTransport& t) = 0;
    /// Step 2: bytes read from the fd.
    virtual void data_received(std::string_view raw) = 0;
    /// Step 2: the fd reached EOF.
    virtual void eof_received() = 0;
    /// Step 3: the application's bytes.
    virtual void write(std::string_view data) = 0;
    /// Step 4: true if the layer closes the transport itself (later).
    virtual bool shutdown() = 0;
    /// Step 5: the connection is lost (`error` null for a clean close).
    virtual void connection_lost(std::exception_ptr error) noexcept = 0;
    /// Application bytes the layer holds that are not on the wire yet (before the handshake).
    virtual std::size_t pending_write_size() const noexcept = 0;
    /// get_extra_info(name) for names the layer knows ("peercert", "cipher", "ssl_object",
    /// "sslcontext"); an empty std::any for the rest (the transport answers those).
    virtual std::any extra_info(std::string_view name) const = 0;
};

/// What a TLS connection is asked for (Python's SSLProtocol arguments).
struct TlsParams {
    bool server_side = false;
    /// SNI and the name the certificate is checked against; "" for none.
    std::string server_hostname;
    std::chrono::duration<double> handshake_timeout{60.0};
    std::chrono::duration<double> shutdown_timeout{30.0};
};

/// Called once: null when the handshake is done, else why it failed (step 1).
using HandshakeCallback = std::function<void(std::exception_ptr)>;

/// What an `ssl` option carries into the core: a factory of layers (nogil::ssl::SSLContext).
class TlsFactory {
public:
    virtual ~TlsFactory() = default;
    virtual std::unique_ptr<TransportLayer> make_layer(const TlsParams& params, HandshakeCallback done) const = 0;
    /// Shared ownership of this factory (a Server keeps its context for its life).
    virtual std::shared_ptr<const TlsFactory> share() const = 0;
};

/// The factory `ssl = true` stands for (Python's ssl.create_default_context()); nogil::ssl
/// registers it (<nogil/ssl.hpp> does, in every program that includes it).
using DefaultTlsFactoryMaker = std::shared_ptr<const TlsFactory> (*)();
void set_default_tls_factory_maker(DefaultTlsFactoryMaker maker) noexcept;
/// The registered default; RuntimeError if nogil::ssl is not part of the program.
std::shared_ptr<const TlsFactory> default_tls_factory();

}  // namespace nogil::asyncio::detail
