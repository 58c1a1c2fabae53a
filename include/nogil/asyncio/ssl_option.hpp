#pragma once
// asyncio::SSLOption: the `ssl=` argument of open_connection / start_server / start_tls
// (StreamWriter::start_tls and EventLoop::start_tls),
// spelled so that the core library never sees OpenSSL (docs/ssl.md, "The C++ spelling").
//
//   #include <nogil/ssl.hpp>                                  // the nogil::ssl target
//   auto ctx = ssl::create_default_context();
//   auto [r, w] = co_await asyncio::open_connection("example.org", 443, {.ssl = ctx});
//   auto [r, w] = co_await asyncio::open_connection("example.org", 443, {.ssl = true});
//
// It holds nothing (plain TCP), `true` (Python's ssl=True: the default context, which
// nogil::ssl registers), or a context: anything with a `tls_factory()` member returning a
// `const detail::TlsFactory*` (nogil::ssl::SSLContext).
// A view, like every options struct built inside a `co_await` expression (g++ 12 destroys
// aggregate temporaries with owning members there twice; docs/asyncio-internals.md): the
// context must live until the call is made - a variable, or a temporary in the same
// co_await expression. The call takes its own share of the context at once.
// Thread safety: a value type; building one reads the context's handle only.

#include <nogil/asyncio/detail/transport_layer.hpp>

#include <chrono>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nogil::asyncio {

class SSLOption {
public:
    /// No TLS.
    SSLOption() noexcept = default;
    /// `true`: TLS with the default context (client side only, as in Python); `false`: none.
    SSLOption(bool use_default) noexcept : default_(use_default) {}  // implicit: `.ssl = true`
    /// TLS with `context` (an ssl::SSLContext).
    template <class Context>
    requires requires(const Context& c) {
        { c.tls_factory() } -> std::convertible_to<const detail::TlsFactory*>;
    }
    SSLOption(const Context& context) : factory_(context.tls_factory()) {}  // implicit: `.ssl = ctx`

    /// True if TLS was asked for.
    explicit operator bool() const noexcept { return default_ || factory_ != nullptr; }
    /// True for `ssl = true`.
    bool is_default() const noexcept { return default_ && !factory_; }
    /// A share of the factory: the given context's, or the registered default for `true`.
    std::shared_ptr<const detail::TlsFactory> factory() const {
        return factory_ ? factory_->share() : detail::default_tls_factory();
    }

private:
    const detail::TlsFactory* factory_ = nullptr;
    bool default_ = false;
};

/// StreamWriter::start_tls's keyword arguments (Python 3.11's writer.start_tls).
struct StartTlsOptions {
    /// SNI and the name checked against the certificate; default: none (Python's None: a
    /// context with check_hostname then fails with std::invalid_argument).
    std::optional<std::string_view> server_hostname;
    /// Default 60 s (Python's SSL_HANDSHAKE_TIMEOUT).
    std::optional<std::chrono::duration<double>> ssl_handshake_timeout;
    /// Default 30 s (Python's SSL_SHUTDOWN_TIMEOUT).
    std::optional<std::chrono::duration<double>> ssl_shutdown_timeout;
};

/// EventLoop::start_tls's keyword arguments (Python 3.7's loop.start_tls): those of
/// StreamWriter::start_tls plus the side, which the caller says (default: client).
struct LoopStartTlsOptions {
    /// Python's server_side=False.
    bool server_side = false;
    /// SNI and the name checked against the certificate (client side); default: none.
    std::optional<std::string_view> server_hostname;
    /// Default 60 s (Python's SSL_HANDSHAKE_TIMEOUT).
    std::optional<std::chrono::duration<double>> ssl_handshake_timeout;
    /// Default 30 s (Python's SSL_SHUTDOWN_TIMEOUT).
    std::optional<std::chrono::duration<double>> ssl_shutdown_timeout;
};

}  // namespace nogil::asyncio
