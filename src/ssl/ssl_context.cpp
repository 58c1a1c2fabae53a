// ssl::SSLContext and create_default_context (include/nogil/ssl/ssl_context.hpp).
#include <nogil/ssl.hpp>

#include <unistd.h>

#include "ssl/detail/context_state.hpp"
#include "ssl/detail/errors.hpp"
#include "ssl/detail/ssl_protocol.hpp"
#include <cerrno>
#include <climits>
#include <cstring>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdexcept>

namespace nogil::ssl {

namespace {

void check_readable(const std::string& path) {
    if (::access(path.c_str(), R_OK) != 0) {
        if (errno == ENOENT) throw FileNotFoundError("No such file or directory: '" + path + "'");
        throw OSError(errno, path);
    }
}

int to_openssl(TLSVersion v) {
    switch (v) {
        case TLSVersion::TLSv1_2:
            return TLS1_2_VERSION;
        case TLSVersion::TLSv1_3:
            return TLS1_3_VERSION;
        case TLSVersion::MINIMUM_SUPPORTED:
        case TLSVersion::MAXIMUM_SUPPORTED:
            return 0;  // OpenSSL's "the lowest / highest it has"
    }
    return 0;
}

TLSVersion from_openssl(long v, TLSVersion unset) {
    switch (v) {
        case TLS1_2_VERSION:
            return TLSVersion::TLSv1_2;
        case TLS1_3_VERSION:
            return TLSVersion::TLSv1_3;
        default:
            return unset;
    }
}

void apply_verify(const SSLContext::State& s) {
    int mode = SSL_VERIFY_NONE;
    if (s.verify_mode == VerifyMode::CERT_OPTIONAL) mode = SSL_VERIFY_PEER;
    if (s.verify_mode == VerifyMode::CERT_REQUIRED)
        mode = SSL_VERIFY_PEER | (s.server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(s.ctx, mode, nullptr);
}

int password_cb(char* buf, int size, int, void* userdata) {
    const auto* password = static_cast<const std::string*>(userdata);
    if (!password || password->size() > static_cast<std::size_t>(size)) return -1;
    std::memcpy(buf, password->data(), password->size());
    return static_cast<int>(password->size());
}

/// Server side ALPN: the first of the client's offers that we accept, in our preference order.
int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void* arg) {
    const auto* state = static_cast<const SSLContext::State*>(arg);
    const auto* ours = reinterpret_cast<const unsigned char*>(state->alpn_wire.data());
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, ours, static_cast<unsigned int>(state->alpn_wire.size()), in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

SSLContext::State::State(Protocol protocol) : server(protocol == Protocol::PROTOCOL_TLS_SERVER) {
    ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) detail::raise_last_error("SSL_CTX_new failed");
    // Python's defaults for PROTOCOL_TLS_CLIENT / SERVER (3.10+): TLS >= 1.2, no compression,
    // no renegotiation; clients verify the server and its name.
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // An idle connection gives OpenSSL's record buffers back (many idle TLS connections).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!server) {
        check_hostname = true;
        verify_mode = VerifyMode::CERT_REQUIRED;
    }
    apply_verify(*this);
}

SSLContext::State::~State() { SSL_CTX_free(ctx); }

std::unique_ptr<asyncio::detail::TransportLayer> SSLContext::State::make_layer(
    const asyncio::detail::TlsParams& params, asyncio::detail::HandshakeCallback done) const {
    auto self = std::const_pointer_cast<State>(shared_from_this());
    return std::make_unique<detail::SSLProtocol>(std::move(self), params, std::move(done));
}

SSLContext::SSLContext(Protocol protocol) : state_(std::make_shared<State>(protocol)) {}

void SSLContext::load_cert_chain(const std::string& certfile, std::optional<std::string> keyfile,
                                 std::optional<std::string> password) {
    check_readable(certfile);
    const std::string key = keyfile.value_or(certfile);
    check_readable(key);
    SSL_CTX* ctx = state_->ctx;
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, password ? &*password : nullptr);
    ERR_clear_error();
    const bool ok = SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) == 1 &&
                    SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) == 1 &&
                    SSL_CTX_check_private_key(ctx) == 1;
    SSL_CTX_set_default_passwd_cb(ctx, nullptr);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    if (!ok) detail::raise_last_error("load_cert_chain failed");
}

void SSLContext::load_verify_locations(std::optional<std::string> cafile, std::optional<std::string> capath,
                                       std::optional<std::string> cadata) {
    if (!cafile && !capath && !cadata) throw std::invalid_argument("cafile, capath and cadata cannot be all omitted");
    ERR_clear_error();
    if (cafile) check_readable(*cafile);
    if ((cafile || capath) && SSL_CTX_load_verify_locations(state_->ctx, cafile ? cafile->c_str() : nullptr,
                                                            capath ? capath->c_str() : nullptr) != 1)
        detail::raise_last_error("load_verify_locations failed");
    if (cadata) {
        BIO* bio = BIO_new_mem_buf(cadata->data(), static_cast<int>(cadata->size()));
        X509_STORE* store = SSL_CTX_get_cert_store(state_->ctx);
        int loaded = 0;
        while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
            X509_STORE_add_cert(store, cert);
            X509_free(cert);
            ++loaded;
        }
        BIO_free(bio);
        ERR_clear_error();  // the end of the PEM text reads as an error
        if (loaded == 0)
            throw SSLError(SSL_ERROR_SSL, "no certificate found in cadata", "X509", "NO_CERTIFICATE_OR_CRL_FOUND");
    }
}

void SSLContext::load_default_certs(Purpose) { set_default_verify_paths(); }

void SSLContext::set_default_verify_paths() {
    ERR_clear_error();
    if (SSL_CTX_set_default_verify_paths(state_->ctx) != 1) detail::raise_last_error("set_default_verify_paths failed");
}

bool SSLContext::check_hostname() const noexcept { return state_->check_hostname; }

void SSLContext::check_hostname(bool on) {
    if (on && state_->verify_mode == VerifyMode::CERT_NONE) verify_mode(VerifyMode::CERT_REQUIRED);
    state_->check_hostname = on;
}

VerifyMode SSLContext::verify_mode() const noexcept { return state_->verify_mode; }

void SSLContext::verify_mode(VerifyMode mode) {
    if (mode == VerifyMode::CERT_NONE && state_->check_hostname)
        throw std::invalid_argument("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
    state_->verify_mode = mode;
    apply_verify(*state_);
}

TLSVersion SSLContext::minimum_version() const {
    return from_openssl(SSL_CTX_get_min_proto_version(state_->ctx), TLSVersion::MINIMUM_SUPPORTED);
}

void SSLContext::minimum_version(TLSVersion v) {
    if (SSL_CTX_set_min_proto_version(state_->ctx, to_openssl(v)) != 1) detail::raise_last_error("minimum_version");
}

TLSVersion SSLContext::maximum_version() const {
    return from_openssl(SSL_CTX_get_max_proto_version(state_->ctx), TLSVersion::MAXIMUM_SUPPORTED);
}

void SSLContext::maximum_version(TLSVersion v) {
    if (SSL_CTX_set_max_proto_version(state_->ctx, to_openssl(v)) != 1) detail::raise_last_error("maximum_version");
}

void SSLContext::set_alpn_protocols(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const std::string& p : protocols) {
        if (p.empty() || p.size() > 255) throw std::invalid_argument("ALPN protocols must be 1 to 255 bytes long");
        wire += static_cast<char>(p.size());
        wire += p;
    }
    state_->alpn_wire = std::move(wire);
    const auto* data = reinterpret_cast<const unsigned char*>(state_->alpn_wire.data());
    if (state_->server) {
        SSL_CTX_set_alpn_select_cb(state_->ctx, alpn_select, state_.get());
    } else if (SSL_CTX_set_alpn_protos(state_->ctx, data, static_cast<unsigned int>(state_->alpn_wire.size())) != 0) {
        detail::raise_last_error("set_alpn_protocols failed");
    }
}

void SSLContext::set_ciphers(const std::string& ciphers) {
    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(state_->ctx, ciphers.c_str()) != 1)
        throw SSLError(SSL_ERROR_SSL, "('No cipher can be selected.',)", "SSL", "NO_CIPHER_MATCH");
}

bool SSLContext::server_side() const noexcept { return state_->server; }

ssl_ctx_st* SSLContext::native_handle() const noexcept { return state_->ctx; }

const asyncio::detail::TlsFactory* SSLContext::tls_factory() const noexcept { return state_.get(); }

SSLContext create_default_context(Purpose purpose, std::optional<std::string> cafile, std::optional<std::string> capath,
                                  std::optional<std::string> cadata) {
    SSLContext ctx(purpose == Purpose::SERVER_AUTH ? PROTOCOL_TLS_CLIENT : PROTOCOL_TLS_SERVER);
    if (cafile || capath || cadata)
        ctx.load_verify_locations(std::move(cafile), std::move(capath), std::move(cadata));
    else if (ctx.verify_mode() != CERT_NONE)
        ctx.load_default_certs(purpose);
    return ctx;
}

std::string openssl_version() { return OpenSSL_version(OPENSSL_VERSION); }

namespace detail {
bool register_default_context() noexcept {
    asyncio::detail::set_default_tls_factory_maker([]() -> std::shared_ptr<const asyncio::detail::TlsFactory> {
        // Python builds one per call; the system CA store is parsed once here instead (a
        // configured SSL_CTX may be shared by every thread).
        static const SSLContext context = create_default_context();
        return context.state();
    });
    return true;
}
}  // namespace detail

}  // namespace nogil::ssl
