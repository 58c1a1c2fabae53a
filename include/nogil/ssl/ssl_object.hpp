#pragma once
// ssl::SSLObject: Python's ssl.SSLObject as asyncio exposes it - get_extra_info("ssl_object")
// on a TLS stream - plus what get_extra_info("peercert") / ("cipher") give.
//
//   auto obj = std::any_cast<ssl::SSLObject>(std::get<std::any>(writer.get_extra_info("ssl_object")));
//   obj.version();                    // "TLSv1.3"
//   obj.selected_alpn_protocol();     // "http/1.1", or nullopt
//   ssl::ssl_object(writer)->cipher() // the same, without the casts (nullopt on a plain stream)
//
// An SSLObject shares the connection's OpenSSL SSL object (reference counted), so it stays
// valid after the connection closes; its answers are then those of the last session state.
// Thread safety: loop thread only (OpenSSL's SSL objects are not shared between threads).

#include <nogil/asyncio/stream_writer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

struct ssl_st;  // OpenSSL's SSL

namespace nogil::ssl {

class SSLContext;

/// Python's SSLObject.cipher(): (name, protocol version, secret bits).
struct Cipher {
    std::string name;
    std::string protocol;
    int secret_bits = 0;
};

/// Python's SSLObject.getpeercert() dict: the fields asyncio users read. Names are
/// "attribute=value" pairs in OpenSSL's short names ("CN=localhost"); dates in OpenSSL's text
/// form ("Jan  1 00:00:00 2030 GMT"), as Python prints them.
struct PeerCert {
    std::vector<std::pair<std::string, std::string>> subject;
    std::vector<std::pair<std::string, std::string>> issuer;
    /// ("DNS", "localhost"), ("IP Address", "127.0.0.1")
    std::vector<std::pair<std::string, std::string>> subjectAltName;
    std::string notBefore;
    std::string notAfter;
    std::string serialNumber;
    int version = 0;
    /// The certificate in DER (Python's getpeercert(binary_form=True)).
    std::string der;
};

/// Thread safety: see the header comment.
class SSLObject {
public:
    /// "TLSv1.3", "TLSv1.2"; nullopt before the handshake.
    std::optional<std::string> version() const;
    std::optional<Cipher> cipher() const;
    /// The peer's certificate; nullopt if it sent none (a server that did not ask for one).
    std::optional<PeerCert> getpeercert() const;
    std::optional<std::string> selected_alpn_protocol() const;
    /// The SNI name (client side: the name sent; server side: the name received).
    std::optional<std::string> server_hostname() const;
    bool server_side() const;
    /// The OpenSSL SSL object (borrowed).
    ssl_st* native_handle() const noexcept { return ssl_.get(); }

    /// The machinery; not part of the public API.
    explicit SSLObject(std::shared_ptr<ssl_st> ssl) noexcept : ssl_(std::move(ssl)) {}

private:
    std::shared_ptr<ssl_st> ssl_;
};

/// get_extra_info("ssl_object") as an SSLObject; nullopt for a plain connection.
std::optional<SSLObject> ssl_object(const asyncio::StreamWriter& writer);

}  // namespace nogil::ssl
