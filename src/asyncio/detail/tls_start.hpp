#pragma once
// The core's side of TLS (detail/transport_layer.hpp): checking the ssl arguments as Python
// does, and running a layer's handshake for open_connection, a Server's connections and
// start_tls. OpenSSL-free.
#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/detail/transport.hpp>
#include <nogil/asyncio/detail/transport_layer.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/ssl_option.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace nogil::asyncio::detail {

using OptionalSeconds = std::optional<std::chrono::duration<double>>;

/// Python's checks: the ssl-only arguments need ssl (std::invalid_argument, Python's
/// ValueError), timeouts must be positive. `what` names the call in the messages.
void check_ssl_arguments(const SSLOption& ssl, bool has_server_hostname, const OptionalSeconds& handshake_timeout,
                         const OptionalSeconds& shutdown_timeout);
/// The parameters of one connection, with Python's defaults (60 s, 30 s).
TlsParams make_tls_params(bool server_side, std::string server_hostname, const OptionalSeconds& handshake_timeout,
                          const OptionalSeconds& shutdown_timeout);

/// Puts a layer made by `factory` on `t` now (before the loop reads the fd again, so no byte
/// of the handshake reaches the reader); the future completes when the handshake is done.
asyncio::Future<> attach_layer(FdTransport& t, const TlsFactory& factory, const TlsParams& params);
/// Waits for attach_layer's future. Throws the handshake's error (the connection is lost
/// then); cancelling aborts the connection, so a cancelled handshake leaves nothing behind.
Coroutine<> wait_handshake(Ref<FdTransport> t, asyncio::Future<> handshake);
/// Both, for a connection the caller has just made.
Coroutine<> start_layer(Ref<FdTransport> t, std::shared_ptr<const TlsFactory> factory, TlsParams params);

}  // namespace nogil::asyncio::detail
