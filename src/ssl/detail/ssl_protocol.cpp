// SSLProtocol: the state machine is described in ssl_protocol.hpp.
#include "ssl/detail/ssl_protocol.hpp"

#include <nogil/ssl/ssl_object.hpp>

#include <arpa/inet.h>

#include "ssl/detail/context_state.hpp"
#include "ssl/detail/errors.hpp"
#include <algorithm>
#include <climits>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdexcept>

namespace nogil::ssl::detail {

using asyncio::detail::FdTransport;
using asyncio::detail::Ref;

namespace {
constexpr int read_chunk = 16 * 1024;  // one TLS record's plaintext
// What the output buffer keeps allocated between flushes: a few full records' ciphertext. A
// larger buffer (one big write) is given back after it was handed to the transport.
constexpr std::size_t out_retain = 32 * 1024;

// The output BIO: OpenSSL's records are appended to the SSLProtocol's `out_buf_` (the BIO's
// data), which flush() hands to the transport. A memory BIO would do, but resetting one clears
// all the memory it ever grew to (OpenSSL 3.0's BIO_reset memsets the buffer's whole capacity:
// 28 us a flush on a connection that once wrote 1 MiB) and keeps that memory for the
// connection's life. Null data (the SSLProtocol is gone, an SSLObject keeps the SSL): writes fail.
int sink_write(BIO* b, const char* data, std::size_t n, std::size_t* written) {
    auto* out = static_cast<std::string*>(BIO_get_data(b));
    if (!out) return 0;
    try {
        out->append(data, n);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    *written = n;
    return 1;
}

long sink_ctrl(BIO* b, int cmd, long, void*) {
    switch (cmd) {
        case BIO_CTRL_FLUSH:
            return 1;
        case BIO_CTRL_PENDING:
        case BIO_CTRL_WPENDING: {
            const auto* out = static_cast<const std::string*>(BIO_get_data(b));
            return out ? static_cast<long>(out->size()) : 0;
        }
        default:
            return 0;
    }
}

int sink_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

const BIO_METHOD* sink_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nogil TLS output");
        if (m && (BIO_meth_set_write_ex(m, sink_write) != 1 || BIO_meth_set_ctrl(m, sink_ctrl) != 1 ||
                  BIO_meth_set_create(m, sink_create) != 1)) {
            BIO_meth_free(m);
            m = nullptr;
        }
        return m;
    }();
    return method;
}

bool is_ip_address(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}
}  // namespace

SSLProtocol::SSLProtocol(std::shared_ptr<SSLContext::State> context, const asyncio::detail::TlsParams& params,
                         asyncio::detail::HandshakeCallback done)
    : context_(std::move(context)), done_(std::move(done)), params_(params) {
    if (!params_.server_side && params_.server_hostname.empty() && context_->check_hostname)
        throw std::invalid_argument("check_hostname requires server_hostname");
    ERR_clear_error();
    SSL* ssl = SSL_new(context_->ctx);
    if (!ssl) raise_last_error("SSL_new failed");
    ssl_.reset(ssl, SSL_free);
    in_ = BIO_new(BIO_s_mem());
    const BIO_METHOD* sink = sink_method();
    out_ = sink ? BIO_new(sink) : nullptr;
    if (!in_ || !out_) {
        BIO_free(in_);
        BIO_free(out_);
        raise_last_error("BIO_new failed");
    }
    BIO_set_mem_eof_return(in_, -1);  // "no more bytes yet", not EOF: EOF comes from the fd
    BIO_set_data(out_, &out_buf_);
    SSL_set_bio(ssl, in_, out_);
    if (params_.server_side) {
        SSL_set_accept_state(ssl);
        return;
    }
    SSL_set_connect_state(ssl);
    const std::string& host = params_.server_hostname;
    if (host.empty()) return;
    // Python's _ssl_configure_hostname: SNI for names, not for addresses; the name or address
    // is what the certificate is checked against.
    const bool ip = is_ip_address(host);
    if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) raise_last_error("server_hostname: SNI");
    if (context_->check_hostname) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
        if (ok != 1) raise_last_error("server_hostname: " + host);
    }
}

SSLProtocol::~SSLProtocol() {
    cancel_timer();
    BIO_set_data(out_, nullptr);  // SSLObjects handed out may keep the SSL (and its BIOs)
}

// ----------------------------------------------------------------------------- handshake

void SSLProtocol::attach(FdTransport& t) {
    transport_ = &t;
    start_timer(params_.handshake_timeout, true);
    transport_->read_raw();
    do_handshake();  // the client's ClientHello goes out now
}

void SSLProtocol::do_handshake() {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_.get());
    if (r == 1) {
        state_ = State::wrapped;
        cancel_timer();
        flush();
        if (!pending_.empty()) write_wrapped(std::exchange(pending_, {}));
        report(nullptr);
        if (state_ == State::wrapped) do_read();  // application data that came with the Finished
        return;
    }
    const int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        flush();
        return;
    }
    fail(make_ssl_error(err, ssl_.get(), params_.server_hostname));
}

void SSLProtocol::report(std::exception_ptr error) {
    if (auto done = std::exchange(done_, nullptr)) done(std::move(error));
}

// ----------------------------------------------------------------------------- reading

void SSLProtocol::data_received(std::string_view raw) {
    if (state_ == State::unwrapped) return;
    if (BIO_write(in_, raw.data(), static_cast<int>(raw.size())) != static_cast<int>(raw.size())) {
        fail(std::make_exception_ptr(std::bad_alloc()));
        return;
    }
    switch (state_) {
        case State::handshake:
            do_handshake();
            break;
        case State::wrapped:
            do_read();
            break;
        case State::shutdown:
            do_shutdown();
            break;
        case State::unwrapped:
            break;
    }
}

void SSLProtocol::do_read() {
    Ref<FdTransport> keep(transport_);
    auto reader = transport_->reader();
    asyncio::detail::ByteBuffer& buf = reader->buffer();
    bool got = false;
    bool close_notify = false;
    for (;;) {
        char* into = buf.prepare(read_chunk);
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), into, read_chunk);
        if (n > 0) {
            buf.commit(static_cast<std::size_t>(n));
            got = true;
            // Nothing left to decrypt: skip the SSL_read that would only say WANT_READ (0.2 us
            // of CPU a record with OpenSSL 3.0, as much as a fifth of decrypting 1 KiB).
            if (!SSL_has_pending(ssl_.get()) && BIO_ctrl_pending(in_) == 0) break;
            continue;
        }
        const int err = SSL_get_error(ssl_.get(), n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
        if (err == SSL_ERROR_ZERO_RETURN) {
            close_notify = true;
            break;
        }
        flush();
        fail(make_ssl_error(err, ssl_.get(), params_.server_hostname));
        return;
    }
    flush();  // what reading made OpenSSL write (key updates)
    // From here a task may run inline (the reader wakes it): re-check the state after each step.
    if (got) reader->data_committed(true);
    if (close_notify && state_ == State::wrapped) {
        reader->feed_eof(true);
        if (state_ == State::wrapped) begin_shutdown();
    }
}

void SSLProtocol::eof_received() {
    switch (state_) {
        case State::handshake:
            fail(make_handshake_eof_error());
            break;
        case State::wrapped: {
            // EOF without close_notify: the reader sees EOF (Python's streams do not call it
            // truncation); TLS cannot half-close, so the connection closes.
            Ref<FdTransport> keep(transport_);
            transport_->reader()->feed_eof(true);
            if (state_ != State::wrapped) break;
            state_ = State::unwrapped;
            transport_->close_raw();
            break;
        }
        case State::shutdown:
            finish_shutdown();
            break;
        case State::unwrapped:
            break;
    }
}

// ----------------------------------------------------------------------------- writing

void SSLProtocol::write(std::string_view data) {
    if (state_ == State::handshake)
        pending_.append(data);
    else if (state_ == State::wrapped)
        write_wrapped(data);
    // shutdown / unwrapped: the connection is closing; dropped, as Python's transport does
}

void SSLProtocol::write_wrapped(std::string_view data) {
    while (!data.empty()) {
        ERR_clear_error();
        const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
        const int n = SSL_write(ssl_.get(), data.data(), chunk);
        if (n <= 0) {
            fail(make_ssl_error(SSL_get_error(ssl_.get(), n), ssl_.get(), params_.server_hostname));
            return;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    flush();
}

void SSLProtocol::flush() {
    if (out_buf_.empty()) return;
    // Taken out first: handing bytes over may lose the connection and run code that writes.
    std::string bytes = std::exchange(out_buf_, {});
    transport_->write_raw(bytes);  // copies what the kernel does not take at once
    if (out_buf_.empty() && bytes.capacity() <= out_retain) {
        bytes.clear();
        out_buf_.swap(bytes);  // the allocation is reused by the next records
    }
}

// ----------------------------------------------------------------------------- closing

bool SSLProtocol::shutdown() {
    switch (state_) {
        case State::handshake:
            return false;  // Python aborts a handshake that is closed
        case State::wrapped:
            begin_shutdown();
            return true;
        case State::shutdown:
            return true;
        case State::unwrapped:
            return false;
    }
    return false;
}

void SSLProtocol::begin_shutdown() {
    state_ = State::shutdown;
    ERR_clear_error();
    const int r = SSL_shutdown(ssl_.get());  // writes our close_notify
    flush();
    if (state_ != State::shutdown) return;
    if (r == 1) {  // the peer's close_notify had already come
        finish_shutdown();
        return;
    }
    start_timer(params_.shutdown_timeout, false);
    transport_->read_raw();
    do_shutdown();  // the peer's close_notify may already be buffered
}

void SSLProtocol::do_shutdown() {
    char discard[read_chunk];
    for (;;) {  // application data still in flight is dropped (Python's _do_read_into_void)
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), discard, sizeof discard);
        if (n > 0) continue;
        const int err = SSL_get_error(ssl_.get(), n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_ZERO_RETURN) break;
        // A broken record during the shutdown: nothing more to say to this peer.
        ERR_clear_error();
        state_ = State::unwrapped;
        transport_->abort();
        return;
    }
    if (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) finish_shutdown();
}

void SSLProtocol::finish_shutdown() {
    if (state_ == State::unwrapped) return;
    state_ = State::unwrapped;
    cancel_timer();
    ERR_clear_error();
    transport_->close_raw();  // queued bytes (our close_notify) still go out
}

void SSLProtocol::fail(std::exception_ptr error) {
    flush();  // the alert, if the kernel takes it now
    cancel_timer();
    // connection_lost() ends the state machine and reports a handshake under way with `error`.
    transport_->abort_with_error(std::move(error));
}

void SSLProtocol::connection_lost(std::exception_ptr error) noexcept {
    const State was = std::exchange(state_, State::unwrapped);
    cancel_timer();
    pending_.clear();
    if (was == State::handshake) {
        try {
            report(error ? error : make_handshake_eof_error());
        } catch (...) {  // a callback that throws: the handshake's waiter is gone
        }
    }
}

// ----------------------------------------------------------------------------- timers

void SSLProtocol::start_timer(std::chrono::duration<double> after, bool handshake) {
    cancel_timer();
    // A timeout beyond a century is "never" (and stays clear of the clock's range).
    const auto capped = std::min(after, std::chrono::duration<double>(100.0 * 365 * 24 * 3600));
    const auto when =
        asyncio::detail::Clock::now() + std::chrono::duration_cast<asyncio::detail::Clock::duration>(capped);
    const double seconds = after.count();
    timer_ = transport_->loop().call_at(when, [this, handshake, seconds] {
        timer_ = nullptr;
        if (handshake && state_ == State::handshake) {
            fail(make_handshake_timeout_error(seconds));
        } else if (!handshake && state_ == State::shutdown) {
            // The peer never answered our close_notify (Python: TimeoutError, then abort).
            state_ = State::unwrapped;
            transport_->abort();
        }
    });
}

void SSLProtocol::cancel_timer() noexcept {
    if (timer_) std::exchange(timer_, nullptr)->cancel();
}

// ----------------------------------------------------------------------------- information

std::any SSLProtocol::extra_info(std::string_view name) const {
    if (name == "ssl_object") return SSLObject(ssl_);
    if (name == "sslcontext") return SSLContext(context_);
    if (!SSL_is_init_finished(ssl_.get())) return {};
    SSLObject object(ssl_);
    if (name == "peercert") {
        if (auto cert = object.getpeercert()) return *cert;
        return {};
    }
    if (name == "cipher") {
        if (auto cipher = object.cipher()) return *cipher;
        return {};
    }
    return {};
}

}  // namespace nogil::ssl::detail
