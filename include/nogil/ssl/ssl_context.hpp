#pragma once
// ssl::SSLContext: Python's ssl.SSLContext - the settings and certificates TLS connections are
// made with (OpenSSL's SSL_CTX), and create_default_context().
//
//   auto client = ssl::create_default_context();            // system CAs, hostname check, TLS >= 1.2
//   client.load_verify_locations("ca.pem");                 // trust a private CA too
//   auto [r, w] = co_await asyncio::open_connection("localhost", 8443, {.ssl = client});
//
//   ssl::SSLContext server(ssl::PROTOCOL_TLS_SERVER);
//   server.load_cert_chain("cert.pem", "key.pem");
//   auto srv = co_await asyncio::start_server(handle, "127.0.0.1", 8443, {.ssl = server});
//
// A shared handle: copies are one context, as Python's objects are. Python's attributes are
// getter/setter pairs (`ctx.check_hostname(false)`, `bool b = ctx.check_hostname()`).
// Thread safety: configure a context before connections use it (as in Python and OpenSSL);
// once configured, any number of loops on any threads may use it at once.
// Errors: SSLError with OpenSSL's reason (a missing file is FileNotFoundError, as in Python).

#include <nogil/asyncio/detail/transport_layer.hpp>
#include <nogil/errors.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX: the public headers do not include OpenSSL

namespace nogil::ssl {

using ::nogil::CertificateError;
using ::nogil::SSLCertVerificationError;
using ::nogil::SSLError;
using ::nogil::SSLZeroReturnError;

/// Python's ssl.PROTOCOL_TLS_CLIENT / PROTOCOL_TLS_SERVER.
enum class Protocol { PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER };
inline constexpr Protocol PROTOCOL_TLS_CLIENT = Protocol::PROTOCOL_TLS_CLIENT;
inline constexpr Protocol PROTOCOL_TLS_SERVER = Protocol::PROTOCOL_TLS_SERVER;

/// Python's ssl.VerifyMode.
enum class VerifyMode { CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED };
inline constexpr VerifyMode CERT_NONE = VerifyMode::CERT_NONE;
inline constexpr VerifyMode CERT_OPTIONAL = VerifyMode::CERT_OPTIONAL;
inline constexpr VerifyMode CERT_REQUIRED = VerifyMode::CERT_REQUIRED;

/// Python's ssl.TLSVersion (the versions OpenSSL 3 still speaks by default).
enum class TLSVersion { MINIMUM_SUPPORTED, TLSv1_2, TLSv1_3, MAXIMUM_SUPPORTED };

/// Python's ssl.Purpose: SERVER_AUTH makes a client context (it authenticates servers).
enum class Purpose { SERVER_AUTH, CLIENT_AUTH };

/// Thread safety: see the header comment.
class SSLContext {
public:
    /// A context for one side. PROTOCOL_TLS_CLIENT: CERT_REQUIRED and check_hostname on;
    /// PROTOCOL_TLS_SERVER: CERT_NONE. Both: TLS >= 1.2, no compression, no renegotiation.
    explicit SSLContext(Protocol protocol);

    /// The certificate (chain, PEM) and its private key (`keyfile` default: in `certfile`).
    /// `password` decrypts an encrypted key. SSLError if they do not match.
    void load_cert_chain(const std::string& certfile, std::optional<std::string> keyfile = std::nullopt,
                         std::optional<std::string> password = std::nullopt);
    /// CA certificates to trust: a PEM file, a hashed directory, and/or PEM text.
    /// std::invalid_argument if all three are empty (Python's TypeError).
    void load_verify_locations(std::optional<std::string> cafile = std::nullopt,
                               std::optional<std::string> capath = std::nullopt,
                               std::optional<std::string> cadata = std::nullopt);
    /// The system's CA store (OpenSSL's default paths; SSL_CERT_FILE / SSL_CERT_DIR override).
    void load_default_certs(Purpose purpose = Purpose::SERVER_AUTH);
    void set_default_verify_paths();

    /// Whether the peer's name is checked against its certificate (client side). Turning it on
    /// makes verify_mode CERT_REQUIRED if it was CERT_NONE, as in Python.
    bool check_hostname() const noexcept;
    void check_hostname(bool on);
    /// CERT_NONE with check_hostname on is std::invalid_argument (Python's ValueError).
    VerifyMode verify_mode() const noexcept;
    void verify_mode(VerifyMode mode);
    TLSVersion minimum_version() const;
    void minimum_version(TLSVersion v);
    TLSVersion maximum_version() const;
    void maximum_version(TLSVersion v);
    /// ALPN protocols to offer (client) or accept (server), in preference order ("h2",
    /// "http/1.1"). std::invalid_argument for an empty name or one over 255 bytes.
    void set_alpn_protocols(const std::vector<std::string>& protocols);
    /// OpenSSL cipher list for TLS <= 1.2 (TLS 1.3 suites are OpenSSL's defaults).
    void set_ciphers(const std::string& ciphers);
    /// True for PROTOCOL_TLS_SERVER.
    bool server_side() const noexcept;
    /// The OpenSSL SSL_CTX (borrowed), for settings nogil does not wrap.
    ssl_ctx_st* native_handle() const noexcept;

    /// What asyncio's `.ssl = ctx` takes (asyncio::SSLOption): the factory of TLS layers
    /// (borrowed; a connection takes its own share).
    const asyncio::detail::TlsFactory* tls_factory() const noexcept;

    struct State;  // the machinery; not part of the public API
    explicit SSLContext(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
    const std::shared_ptr<State>& state() const noexcept { return state_; }

private:
    std::shared_ptr<State> state_;
};

/// Python's ssl.create_default_context(): SERVER_AUTH gives a client context with the system
/// CAs (or the given ones), hostname checking and TLS >= 1.2; CLIENT_AUTH a server context.
SSLContext create_default_context(Purpose purpose = Purpose::SERVER_AUTH,
                                  std::optional<std::string> cafile = std::nullopt,
                                  std::optional<std::string> capath = std::nullopt,
                                  std::optional<std::string> cadata = std::nullopt);

/// The OpenSSL version linked (Python's ssl.OPENSSL_VERSION), e.g. "OpenSSL 3.0.15 3 Sep 2024".
std::string openssl_version();

}  // namespace nogil::ssl
