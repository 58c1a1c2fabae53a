// open_connection, start_server and their unix forms; streams over an existing fd.
#include <nogil/asyncio/streams.hpp>

#include "asyncio/detail/socket.hpp"
#include "asyncio/detail/tls_start.hpp"
#include <nogil/errors.hpp>

#include <cerrno>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace nogil::asyncio {

namespace {

detail::LoopCore& loop_for(const char* what) {
    if (!detail::running_loop) throw std::runtime_error(std::string(what) + " needs a running event loop");
    return *detail::running_loop;
}

StreamPair make_pair(int fd, std::size_t limit) {
    auto reader = detail::Ref<detail::StreamReaderState>::adopt(new detail::StreamReaderState(limit));
    auto t = detail::FdTransport::open(loop_for("connect_fd"), fd, reader, true);
    return {StreamReader(std::move(reader), detail::TransportUse(t)), StreamWriter(detail::TransportUse(t))};
}

using detail::check_limit;

/// Python's rule for several failed addresses: the first error if they all say the same,
/// else an OSError listing them.
[[noreturn]] void throw_connect_errors(const std::vector<std::exception_ptr>& errors) {
    std::string all;
    bool same = true;
    std::string first;
    for (const auto& e : errors) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            if (first.empty()) first = ex.what();
            same = same && first == ex.what();
            all += (all.empty() ? "" : ", ") + std::string(ex.what());
        }
    }
    if (same || errors.size() == 1) std::rethrow_exception(errors.front());
    throw OSError(ECONNREFUSED, "Multiple exceptions: " + all);
}

/// open_connection's TLS step: the handshake, once connected (the pair is returned after it).
Coroutine<> wrap_client(const StreamPair& pair, std::shared_ptr<const detail::TlsFactory> factory,
                        const ConnectionOptions& options, std::string server_hostname) {
    detail::TlsParams params = detail::make_tls_params(false, std::move(server_hostname), options.ssl_handshake_timeout,
                                                       options.ssl_shutdown_timeout);
    return detail::start_layer(detail::Ref<detail::FdTransport>(&pair.writer.transport()), std::move(factory),
                               std::move(params));
}

void check_client_ssl(const ConnectionOptions& options) {
    detail::check_ssl_arguments(options.ssl, options.server_hostname.has_value(), options.ssl_handshake_timeout,
                                options.ssl_shutdown_timeout);
}

void setup_server_ssl(detail::ServerState& state, const ServerOptions& options) {
    detail::check_ssl_arguments(options.ssl, false, options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
    if (!options.ssl) return;
    if (options.ssl.is_default()) throw std::invalid_argument("ssl argument must be an SSLContext or None");
    state.set_tls(options.ssl.factory(), detail::make_tls_params(true, "", options.ssl_handshake_timeout,
                                                                 options.ssl_shutdown_timeout));
}

}  // namespace

StreamReader connect_read_fd(int fd, std::size_t limit) {
    detail::FdGuard guard(fd);
    check_limit(limit);
    auto reader = detail::Ref<detail::StreamReaderState>::adopt(new detail::StreamReaderState(limit));
    auto t = detail::FdTransport::open(loop_for("connect_read_fd"), guard.release(), reader, false);
    return StreamReader(std::move(reader), detail::TransportUse(t));
}

StreamWriter connect_write_fd(int fd) {
    detail::FdGuard guard(fd);
    auto t = detail::FdTransport::open(loop_for("connect_write_fd"), guard.release(), nullptr, true);
    return StreamWriter(detail::TransportUse(t));
}

StreamPair connect_fd(int fd, std::size_t limit) {
    detail::FdGuard guard(fd);
    check_limit(limit);
    return make_pair(guard.release(), limit);
}

Coroutine<StreamPair> open_connection(std::string host, int port, ConnectionOptions options) {
    const std::uint16_t p = detail::check_port(port);
    check_limit(options.limit);
    if (host.empty()) throw std::invalid_argument("host must not be empty");
    check_client_ssl(options);
    // Owned copies before the first suspension: the options are views (streams.hpp).
    const std::shared_ptr<const detail::TlsFactory> tls = options.ssl ? options.ssl.factory() : nullptr;
    const std::string server_hostname(options.server_hostname.value_or(host));
    auto addresses = co_await detail::resolve_stream(host, p, options.family, false);
    if (addresses.empty()) throw gaierror(EAI_NONAME, "getaddrinfo('" + host + "') returned an empty list");
    std::vector<std::exception_ptr> errors;
    for (const auto& address : addresses) {
        int fd = -1;
        try {
            fd = co_await detail::connect_stream(address);
        } catch (const OSError&) {
            errors.push_back(std::current_exception());
            continue;
        }
        StreamPair pair = make_pair(fd, options.limit);
        if (tls) co_await wrap_client(pair, tls, options, server_hostname);
        co_return pair;
    }
    throw_connect_errors(errors);
}

Coroutine<StreamPair> open_unix_connection(std::string path, ConnectionOptions options) {
    check_limit(options.limit);
    check_client_ssl(options);
    if (options.ssl && !options.server_hostname)
        throw std::invalid_argument("you have to pass server_hostname when using ssl");
    const std::shared_ptr<const detail::TlsFactory> tls = options.ssl ? options.ssl.factory() : nullptr;
    const std::string server_hostname(options.server_hostname.value_or(""));
    const int fd = co_await detail::connect_stream(detail::unix_address(path));
    StreamPair pair = make_pair(fd, options.limit);
    if (tls) co_await wrap_client(pair, tls, options, server_hostname);
    co_return pair;
}

Coroutine<Server> start_server(ClientConnectedCallback client_connected_cb, std::string host, int port,
                               ServerOptions options) {
    const std::uint16_t p = detail::check_port(port);
    detail::LoopCore& loop = loop_for("start_server");
    auto state = detail::Ref<detail::ServerState>::adopt(
        new detail::ServerState(loop, std::move(client_connected_cb), options.limit, options.backlog));
    Server server{detail::UseRef<detail::ServerState>(state)};
    setup_server_ssl(*state, options);
    auto addresses = co_await detail::resolve_stream(host, p, options.family, true);
    for (const auto& address : addresses)
        state->add_listener(detail::bind_stream(address, options.reuse_address, options.reuse_port));
    if (addresses.empty()) throw gaierror(EAI_NONAME, "getaddrinfo('" + host + "') returned an empty list");
    if (options.start_serving) state->start_serving();
    co_return server;
}

Coroutine<Server> start_unix_server(ClientConnectedCallback client_connected_cb, std::string path,
                                    ServerOptions options) {
    detail::LoopCore& loop = loop_for("start_unix_server");
    const detail::ResolvedAddress address = detail::unix_address(path);
    auto state = detail::Ref<detail::ServerState>::adopt(
        new detail::ServerState(loop, std::move(client_connected_cb), options.limit, options.backlog));
    Server server{detail::UseRef<detail::ServerState>(state)};
    setup_server_ssl(*state, options);
    // A socket file left by a previous run is replaced (Python does the same); anything else
    // at that path makes bind() fail with EADDRINUSE.
    struct stat st {};
    if (path[0] != '\0' && ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
    state->add_listener(detail::bind_stream(address, false, false), path);
    if (options.start_serving) state->start_serving();
    co_return server;
}

}  // namespace nogil::asyncio
