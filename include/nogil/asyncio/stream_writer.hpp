#pragma once
// asyncio::StreamWriter: Python's asyncio.StreamWriter - writes bytes to a connection or a pipe.
//
//   writer.write("hello\n");           // sent at once if the kernel takes it, else queued
//   co_await writer.drain();           // waits while more than the high-water mark is queued
//   writer.close();
//   co_await writer.wait_closed();
//
// A shared handle (copies write to one connection). The connection closes at close(), or when
// the last StreamReader/StreamWriter handle of it is gone; both are graceful: queued bytes are
// still sent, then the fd is closed. abort() closes at once.
//
// Flow control: write() never blocks; drain() suspends while more than the high-water mark
// (64 KiB by default, set_write_buffer_limits) is queued, until the queue is back at the
// low-water mark (high / 4). A peer that never reads therefore costs at most the high-water
// mark plus one write() of memory per connection, as long as the writer drains. Once the
// queue is flushed its memory is given back down to twice the high-water mark (at least
// 64 KiB), however large one write() was.
//
// Errors: a connection reset or broken pipe closes the connection; write() then drops data
// silently and drain() throws ConnectionResetError / BrokenPipeError (what Python does). SIGPIPE
// is never raised.
//
// Resumption: drain() and wait_closed() are resumed by the loop one turn after the queue
// drained / the connection closed. Cancelling them throws CancelledError from the co_await;
// the queued bytes stay queued and are still sent.
// Loop thread only.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/ssl_option.hpp>
#include <nogil/asyncio/detail/socket_address.hpp>
#include <nogil/asyncio/detail/transport.hpp>

#include <any>
#include <cstddef>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <variant>

namespace nogil::asyncio {

/// What get_extra_info() returns: nothing, an address ("peername", "sockname"), an fd
/// ("socket", "pipe": borrowed, do not close it), or what a TLS connection adds ("peercert",
/// "cipher", "ssl_object", "sslcontext": a std::any holding nogil::ssl's types, docs/ssl.md).
using ExtraInfo = std::variant<std::monostate, SocketAddress, int, std::any>;

namespace detail {
/// StreamWriter::start_tls's body (a free coroutine: everything by value).
Coroutine<> start_tls(Ref<FdTransport> transport, SSLOption sslcontext, StartTlsOptions options);
}  // namespace detail

/// Thread safety: loop thread only; drain() and wait_closed() resume on the loop's thread.
class StreamWriter {
public:
    /// Sends or queues `data` (bytes). RuntimeError after write_eof().
    void write(std::string_view data) const { t()->write(data); }
    /// write() for each element of a range of strings / string_views.
    template <std::ranges::input_range R>
        requires std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>
    void writelines(R&& lines) const {
        for (auto&& line : lines) write(std::string_view(line));
    }
    /// Waits until the queue is below the low-water mark; throws the connection's error, or
    /// ConnectionResetError("Connection lost") if it is closed. Does not suspend when there is
    /// room (the common case).
    detail::TransportAwaiter drain() const { return {t().ref(), detail::TransportAwaiter::Kind::drain}; }
    /// Graceful close (see the header comment). Idempotent.
    void close() const { t()->close(); }
    /// Closes at once, dropping queued bytes (Python's writer.transport.abort()).
    void abort() const { t()->abort(); }
    /// True once close() or abort() was called or the connection was lost.
    bool is_closing() const noexcept { return t()->is_closing(); }
    /// Waits until the fd is closed; throws the error the connection was lost with, if any.
    detail::TransportAwaiter wait_closed() const { return {t().ref(), detail::TransportAwaiter::Kind::closed}; }
    /// True: sockets support half-close and a pipe's EOF is its closing.
    bool can_write_eof() const noexcept { return t()->can_write_eof(); }
    /// Closes the write side once the queue is flushed (shutdown(SHUT_WR)); reading goes on.
    void write_eof() const { t()->write_eof(); }
    /// "peername", "sockname" (SocketAddress), "socket" (a socket's fd) or "pipe" (a pipe's
    /// fd); anything else, or an address the connection does not have, gives std::monostate.
    ExtraInfo get_extra_info(std::string_view name) const {
        const detail::FdTransport& tr = *t().get();
        if (tr.layer()) {
            std::any info = tr.layer()->extra_info(name);
            if (info.has_value()) return info;
        }
        if (name == "peername" && tr.peername()) return *tr.peername();
        if (name == "sockname" && tr.sockname()) return *tr.sockname();
        if (name == "socket" && tr.is_socket() && tr.fd() >= 0) return tr.fd();
        if (name == "pipe" && !tr.is_socket() && tr.fd() >= 0) return tr.fd();
        return std::monostate{};
    }
    /// Python 3.11's writer.start_tls(): drains, then upgrades this connection to TLS (STARTTLS)
    /// and returns once the handshake is done; reader and writer carry TLS from then on. The
    /// side (client or server) is this connection's: a Server's connections are server side.
    /// `sslcontext` must be an ssl::SSLContext (std::invalid_argument otherwise, Python's
    /// TypeError). Throws what a failed handshake throws (ssl::SSLError...); the connection is
    /// then lost. Cancelling it aborts the connection.
    Coroutine<> start_tls(SSLOption sslcontext, StartTlsOptions options = {}) const {
        return detail::start_tls(t().ref(), std::move(sslcontext), std::move(options));
    }
    /// Bytes queued, not yet taken by the kernel (Python's transport.get_write_buffer_size()).
    std::size_t get_write_buffer_size() const noexcept { return t()->get_write_buffer_size(); }
    /// Python's transport.set_write_buffer_limits(high, low); std::invalid_argument if high < low.
    void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                 std::optional<std::size_t> low = std::nullopt) const {
        t()->set_write_buffer_limits(high, low);
    }

    /// The machinery; not part of the public API.
    explicit StreamWriter(detail::TransportUse transport) noexcept : transport_(std::move(transport)) {}
    detail::FdTransport& transport() const noexcept { return *transport_.get(); }

private:
    const detail::TransportUse& t() const noexcept { return transport_; }
    detail::TransportUse transport_;
};

}  // namespace nogil::asyncio
