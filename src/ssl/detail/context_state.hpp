#pragma once
// SSLContext::State: the OpenSSL SSL_CTX and the settings Python keeps beside it; the factory
// asyncio's `.ssl = ctx` uses to make each connection's SSLProtocol.
#include <nogil/ssl/ssl_context.hpp>

#include <memory>
#include <openssl/ssl.h>
#include <string>

namespace nogil::ssl {

struct SSLContext::State final : asyncio::detail::TlsFactory, std::enable_shared_from_this<SSLContext::State> {
    explicit State(Protocol protocol);
    ~State() override;
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    std::unique_ptr<asyncio::detail::TransportLayer> make_layer(const asyncio::detail::TlsParams& params,
                                                                asyncio::detail::HandshakeCallback done) const override;
    std::shared_ptr<const asyncio::detail::TlsFactory> share() const override { return shared_from_this(); }

    SSL_CTX* ctx = nullptr;
    bool server = false;
    bool check_hostname = false;
    VerifyMode verify_mode = VerifyMode::CERT_NONE;
    std::string alpn_wire;  // the ALPN list in wire form (length-prefixed names)
};

}  // namespace nogil::ssl
