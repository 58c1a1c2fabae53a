// FdTransport: see the cost model and lifetime rules in include/nogil/asyncio/detail/transport.hpp.
//
// Connection-lost protocol (lose_connection, exactly once):
//   1. mark lost and closing; drop queued bytes;
//   2. unregister the fd from the loop (both directions) - before closing it, so that the loop
//      never holds a stale registration for a number the kernel may hand out again;
//   3. close the fd; a TransportLayer (TLS) is told (transport_layer.hpp step 5), so that it
//      cancels its timers and fails a handshake still under way;
//   4. the reader gets EOF (clean) or the error; drain()/wait_closed() waiters are queued;
//   5. the observer (a Server counting its clients) is told.
// Tests: step 3's layer SslStreams.CancelledHandshakeLeavesNothingBehind (tests/ssl/);
// step 4 AsyncioStreams.PeerResetIsConnectionResetError (tests/asyncio_streams_test.cpp);
// step 5 AsyncioServer.WaitClosedWaitsForTheClients (tests/asyncio_server_test.cpp). Steps 1-3
// (the order of dropping, unregistering and closing) have no test that could see them fail.
// Entry points that may end in step 2 hold a reference to the transport first: the writable
// callback owns one, and clearing it may drop the last.
#include <nogil/asyncio/detail/transport.hpp>

#include "asyncio/detail/socket.hpp"
#include <nogil/errors.hpp>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <memory>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

// ----------------------------------------------------------------------------- errors

std::exception_ptr make_os_error(int err, const std::string& what) {
    switch (err) {
        case ECONNRESET:
            return std::make_exception_ptr(ConnectionResetError(err, what));
        case EPIPE:
        case ESHUTDOWN:
            return std::make_exception_ptr(BrokenPipeError(err, what));
        case ECONNREFUSED:
            return std::make_exception_ptr(ConnectionRefusedError(err, what));
        case ECONNABORTED:
            return std::make_exception_ptr(ConnectionAbortedError(err, what));
        default:
            return std::make_exception_ptr(OSError(err, what));
    }
}

void throw_os_error(int err, const std::string& what) { std::rethrow_exception(make_os_error(err, what)); }

// ----------------------------------------------------------------------------- life cycle

FdTransport::FdTransport(LoopCore& loop, int fd, Ref<StreamReaderState> reader, bool writable)
    : loop_(&loop), fd_(fd), reader_(std::move(reader)), wbuf_(write_retain(default_high_water)), writable_(writable) {}

Ref<FdTransport> FdTransport::open(LoopCore& loop, int fd, Ref<StreamReaderState> reader, bool writable) {
    FdGuard guard(fd);
    loop.check_open();
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_os_error(errno, "fcntl(O_NONBLOCK)");
    struct stat st {};
    const bool is_socket = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    Ref<FdTransport> t = Ref<FdTransport>::adopt(new FdTransport(loop, guard.release(), std::move(reader), writable));
    t->is_socket_ = is_socket;
    if (is_socket) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            t->sockname_ = to_socket_address(reinterpret_cast<sockaddr*>(&ss), len);
        len = sizeof ss;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            t->peername_ = to_socket_address(reinterpret_cast<sockaddr*>(&ss), len);
    }
    t->use_send_ = is_socket && writable && loop.backend()->can_send();
    if (t->reader_) {
        t->reader_->set_transport(t.get());
        if (is_socket && loop.backend()->can_recv()) {
            t->use_recv_ = true;
            t->recv_callback_.bind(t.get());
        }
        t->start_reading();
    }
    return t;
}

FdTransport::~FdTransport() {
    // Nobody can flush for us any more (queued bytes keep a reference through the writable
    // callback, so there are none unless the loop was closed): close now.
    lose_connection(nullptr);
}

void FdTransport::remove_user() noexcept {
    if (--users_ == 0 && !closing_) close();
}

void FdTransport::close() {
    if (closing_) return;
    Ref<FdTransport> keep(this);
    closing_ = true;
    if (layer_ && !lost_ && !loop_->is_closed() && layer_->shutdown()) return;  // the layer closes later
    close_raw();
}

void FdTransport::close_raw() {
    Ref<FdTransport> keep(this);
    closing_ = true;
    close_when_flushed_ = true;
    stop_reading();
    if (write_idle() || loop_->is_closed()) lose_connection(nullptr);
}

void FdTransport::abort_with_error(std::exception_ptr error) {
    Ref<FdTransport> keep(this);
    lose_connection(std::move(error));
}

void FdTransport::set_layer(std::unique_ptr<TransportLayer> layer) {
    if (closing_ || lost_) throw std::runtime_error("cannot start TLS on a closing transport");
    if (layer_) throw std::runtime_error("the transport already has a TLS layer");
    if (!reader_ || !writable_) throw std::runtime_error("TLS needs a connection that reads and writes");
    layer_ = std::move(layer);
    Ref<FdTransport> keep(this);
    layer_->attach(*this);
}

void FdTransport::abort() {
    Ref<FdTransport> keep(this);
    lose_connection(nullptr);
}

void FdTransport::fatal_error(int err) {
    lose_connection(make_os_error(err, is_socket_ ? "socket error" : "pipe error"));
}

void FdTransport::lose_connection(std::exception_ptr error) noexcept {
    if (lost_) return;
    lost_ = true;
    closing_ = true;
    lost_error_ = error;
    wbuf_.clear(0);
    stop_reading();
    disarm_writer();
    // A receive in flight: forget it before closing (its bytes are dropped, as unread bytes
    // are when the fd closes); the kernel lets go of the socket when the cancel reaches it.
    if (recv_id_ && !loop_->is_closed()) loop_->backend()->detach_recv(recv_id_);
    recv_id_ = 0;
    // A send in flight: asked to stop before the fd closes (the backend owns its bytes until
    // the kernel lets go of them; its end, later, finds the connection lost).
    if (send_id_ && !loop_->is_closed()) loop_->backend()->cancel_send(send_id_);
    sending_size_ = 0;  // dropped for the writer, like the queue (the memory goes at the send's end)
    recv_callback_.cancel();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    writing_paused_ = false;
    if (layer_) layer_->connection_lost(error);
    if (reader_) {
        reader_->set_transport(nullptr);
        if (error)
            reader_->set_exception(error, false);
        else
            reader_->feed_eof(false);
    }
    wake_waiters(TransportAwaiter::Kind::closed);
    if (TransportObserver* o = std::exchange(observer_, nullptr)) o->connection_lost(*this);
}

// ----------------------------------------------------------------------------- reading

void FdTransport::start_reading() {
    if (use_recv_) {
        // A receive still in flight (being cancelled after a pause) is kept: when it ends, the
        // callback starts another, since reading is wanted again.
        if (!recv_id_) start_recv();
        reading_ = true;
        return;
    }
    loop_->set_fd_callback(fd_, false, [this] { on_readable(); });
    reading_ = true;
}

void FdTransport::stop_reading() noexcept {
    if (!reading_) return;
    reading_ = false;
    if (loop_->is_closed()) return;
    if (use_recv_) {
        if (recv_id_ && !recv_cancelling_) {
            loop_->backend()->cancel_recv(recv_id_);
            recv_cancelling_ = true;
        }
        return;
    }
    try {
        loop_->clear_fd_callback(fd_, false);
    } catch (...) {  // epoll_ctl failing to change a registration we are dropping
    }
}

void FdTransport::pause_reading() { stop_reading(); }

void FdTransport::resume_reading() {
    if (reading_ || closing_ || !reader_ || reader_->eof() || loop_->is_closed()) return;
    try {
        start_reading();
    } catch (const std::system_error& e) {
        Ref<FdTransport> keep(this);
        fatal_error(e.code().value());
    }
}

void FdTransport::read_raw() {
    if (reading_ || lost_ || fd_ < 0 || loop_->is_closed()) return;
    try {
        start_reading();
    } catch (const std::system_error& e) {
        Ref<FdTransport> keep(this);
        fatal_error(e.code().value());
    }
}

void FdTransport::on_readable() {
    Ref<FdTransport> keep(this);
    if (layer_) {
        // Raw bytes go through the layer: one scratch block per thread (the layer copies them
        // into its own input at once), so an idle TLS connection holds no read buffer here.
        thread_local std::unique_ptr<char[]> scratch(new char[max_read_size]);
        const ssize_t n = ::read(fd_, scratch.get(), max_read_size);
        if (n > 0) {
            layer_->data_received(std::string_view(scratch.get(), static_cast<std::size_t>(n)));
        } else if (n == 0) {
            stop_reading();
            layer_->eof_received();
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fatal_error(errno);
        }
        return;
    }
    ByteBuffer& buf = reader_->buffer();
    char* into = buf.prepare(max_read_size);
    const ssize_t n = ::read(fd_, into, max_read_size);
    if (n > 0) {
        buf.commit(static_cast<std::size_t>(n));
        reader_->data_committed(true);
        return;
    }
    if (n == 0) {
        stop_reading();
        reader_->feed_eof(true);
        // A read-only pipe is finished at EOF; a socket stays open for writing (half-close).
        if (!writable_) lose_connection(nullptr);
        return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    fatal_error(errno);
}

// ----------------------------------------------------------------------------- reading by completions

void FdTransport::start_recv() {
    loop_->check_open();
    recv_id_ = loop_->backend()->start_recv(fd_, *this);
    recv_cancelling_ = false;
}

void FdTransport::on_recv(const char* data, std::size_t n) noexcept {
    // Inside the backend's poll: keep the bytes (even while paused: nothing in flight is lost)
    // and let the callback give them to the reader or to the layer, in its turn among the loop's
    // callbacks: whether a layer (TLS) takes them is decided there, as on_readable decides when
    // it reads (a server attaches its layer after the client's first bytes may have arrived).
    recv_staged_.append(data, n);
    recv_committed_ = true;
    recv_callback_.schedule(*loop_);
}

void FdTransport::on_recv_end(int res) noexcept {
    recv_id_ = 0;
    recv_cancelling_ = false;
    recv_end_ = res;
    recv_end_pending_ = true;
    recv_callback_.schedule(*loop_);
}

void FdTransport::on_recv_callback() {
    Ref<FdTransport> keep(this);
    recv_callback_.running();
    if (lost_) return;
    if (recv_committed_) {
        recv_committed_ = false;
        if (layer_) {  // transport_layer.hpp step 2
            const std::string raw = std::exchange(recv_staged_, {});
            layer_->data_received(raw);
        } else {
            reader_->buffer().append(recv_staged_);
            recv_staged_.clear();
            reader_->data_committed(true);  // may step the reading task inline
        }
        if (lost_) return;
    }
    if (!recv_end_pending_) return;
    recv_end_pending_ = false;
    const int res = recv_end_;
    if (res == 0 && layer_) {  // the peer's EOF, to the layer (step 2)
        reading_ = false;
        layer_->eof_received();
        return;
    }
    if (res == 0) {  // the peer's EOF
        reading_ = false;
        reader_->feed_eof(true);
        // A read-only end is finished at EOF; a socket stays open for writing (half-close).
        if (!writable_) lose_connection(nullptr);
        return;
    }
    if (res == 1 || res == -ENOBUFS || res == -ECANCELED || res == -EINTR || res == -EAGAIN) {
        // Ended by a pause (cancel), by the kernel, or out of buffers: go on if reading is wanted.
        // (A closing transport may still read: a TLS layer waits for the peer's close_notify.)
        if (reading_ && !recv_id_) {
            try {
                start_recv();
            } catch (const std::system_error& e) {
                fatal_error(e.code().value());
            }
        }
        return;
    }
    fatal_error(-res);
}

// ----------------------------------------------------------------------------- writing

long FdTransport::send_some(const char* data, std::size_t size) {
    ssize_t n;
    int err;
    if (is_socket_) {
        n = ::send(fd_, data, size, MSG_NOSIGNAL);
        err = errno;
    } else {
        // A pipe has no MSG_NOSIGNAL: block SIGPIPE on this thread around the write and consume
        // the one it raised, unless one was already pending before.
        sigset_t pipe_set, old_set, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
        sigpending(&pending);
        const bool was_pending = sigismember(&pending, SIGPIPE);
        n = ::write(fd_, data, size);
        err = errno;
        if (n < 0 && err == EPIPE && !was_pending) {
            timespec zero{0, 0};
            while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    }
    if (n >= 0) return static_cast<long>(n);
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return 0;
    fatal_error(err);
    return -1;
}

void FdTransport::write(std::string_view data) {
    if (!writable_) throw std::runtime_error("write() on a read-only transport");
    if (eof_requested_) throw std::runtime_error("Cannot call write() after write_eof()");
    if (data.empty() || lost_) return;
    if (layer_) {
        Ref<FdTransport> keep(this);
        layer_->write(data);
        return;
    }
    write_raw(data);
}

void FdTransport::write_raw(std::string_view data) {
    if (data.empty() || lost_) return;
    if (use_send_) {
        // Queued for the send the backend takes at the end of the turn (with every other
        // write of the turn); a send in flight or ending queues the next when it ends.
        wbuf_.append(data);
        if (!send_id_ && !send_ending_) queue_send();
        maybe_pause_writing();
        return;
    }
    if (wbuf_.empty()) {
        Ref<FdTransport> keep(this);
        const long n = send_some(data.data(), data.size());
        if (n < 0) return;  // the connection is lost; drain() reports it
        data.remove_prefix(static_cast<std::size_t>(n));
        if (data.empty()) return;
        wbuf_.append(data);
        arm_writer();
    } else {
        wbuf_.append(data);
    }
    maybe_pause_writing();
}

void FdTransport::arm_writer() {
    if (writer_armed_) return;
    try {
        // The callback owns a reference: a transport with queued bytes lives until they are
        // sent, even when every handle is gone.
        loop_->set_fd_callback(fd_, true, [self = Ref<FdTransport>(this)] { self->on_writable(); });
        writer_armed_ = true;
    } catch (const std::system_error& e) {
        fatal_error(e.code().value());
    } catch (const std::runtime_error&) {  // the loop is closed: nothing will ever flush
        lose_connection(nullptr);
    }
}

void FdTransport::disarm_writer() noexcept {
    if (!writer_armed_) return;
    writer_armed_ = false;
    if (loop_->is_closed()) return;
    try {
        loop_->clear_fd_callback(fd_, true);
    } catch (...) {
    }
}

void FdTransport::on_writable() {
    Ref<FdTransport> keep(this);
    const long n = send_some(wbuf_.data(), wbuf_.size());
    if (n < 0) return;
    wbuf_.consume(static_cast<std::size_t>(n));
    maybe_resume_writing();
    if (!wbuf_.empty()) return;
    disarm_writer();
    if (close_when_flushed_)
        lose_connection(nullptr);
    else if (eof_requested_)
        shutdown_write();
}

// ----------------------------------------------------------------------------- writing by completions

void FdTransport::queue_send() {
    try {
        send_id_ = loop_->backend()->queue_send(fd_, *this);
    } catch (const std::system_error& e) {
        Ref<FdTransport> keep(this);
        fatal_error(e.code().value());
        return;
    }
    add_ref();  // the send's: released by its end (the callback that handles it owns it then)
}

bool FdTransport::take_send(ByteBuffer& into) noexcept {
    // Inside the backend's poll, at the end of the turn: the whole queue goes.
    if (lost_ || wbuf_.empty()) return false;
    into.swap_contents(wbuf_);
    wbuf_.clear();  // the block the backend handed back: kept only up to the retained size
    sending_size_ = into.size();
    sending_capacity_ = into.capacity();
    return true;
}

void FdTransport::on_send_end(long res) noexcept {
    // Inside the backend's poll (or its destructor, the loop closing): the send's reference
    // goes to the callback that handles its end (a closed loop drops it, and the reference).
    send_id_ = 0;
    if (res >= 0 && !lost_ && wbuf_.empty() && !writing_paused_ && !close_when_flushed_ && !eof_requested_ &&
        refs_.load(std::memory_order_relaxed) > 1 && !loop_->is_closed()) {
        // Everything sent and nothing waits on it (the common case): no callback needed.
        sending_size_ = 0;
        sending_capacity_ = 0;
        refs_.fetch_sub(1, std::memory_order_relaxed);  // the send's, never the last (above)
        return;
    }
    Ref<FdTransport> self = Ref<FdTransport>::adopt(this);
    if (loop_->is_closed()) return;
    send_ending_ = true;
    try {
        loop_->call_soon([self = std::move(self), res] { self->on_send_callback(res); });
    } catch (...) {  // out of memory: the bytes were sent or not; nothing can tell the writer
        send_ending_ = false;
    }
}

void FdTransport::on_send_callback(long res) {
    send_ending_ = false;
    sending_size_ = 0;
    sending_capacity_ = 0;
    if (lost_) return;
    if (res < 0) {
        fatal_error(static_cast<int>(-res));
        return;
    }
    maybe_resume_writing();
    if (lost_) return;
    if (!wbuf_.empty()) {
        queue_send();
        return;
    }
    if (close_when_flushed_)
        lose_connection(nullptr);
    else if (eof_requested_)
        shutdown_write();
}

void FdTransport::maybe_pause_writing() noexcept {
    if (!writing_paused_ && queued_size() > high_) writing_paused_ = true;
}

void FdTransport::maybe_resume_writing() noexcept {
    if (writing_paused_ && queued_size() <= low_) {
        writing_paused_ = false;
        wake_waiters(TransportAwaiter::Kind::drain);
    }
}

void FdTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    std::size_t h = high ? *high : (low ? 4 * *low : default_high_water);
    std::size_t l = low ? *low : h / 4;
    if (h < l) throw std::invalid_argument("high (" + std::to_string(h) + ") must be >= low (" + std::to_string(l) + ")");
    high_ = h;
    low_ = l;
    wbuf_.set_retain(write_retain(h));
    maybe_pause_writing();
    maybe_resume_writing();
}

void FdTransport::write_eof() {
    if (closing_ || eof_requested_) return;
    if (!writable_) throw std::runtime_error("write_eof() on a read-only transport");
    if (layer_) throw std::runtime_error("SSL doesn't support half-closes");
    if (!is_socket_) {  // a pipe's end of file is its closing
        close();
        return;
    }
    eof_requested_ = true;
    if (write_idle()) shutdown_write();
}

void FdTransport::shutdown_write() noexcept {
    if (eof_written_ || fd_ < 0) return;
    eof_written_ = true;
    ::shutdown(fd_, SHUT_WR);
}

// ----------------------------------------------------------------------------- waiters

void FdTransport::wake_waiters(TransportAwaiter::Kind kind) noexcept {
    // `closed` wakes everything (a lost connection ends every wait); `drain` only drains.
    TransportAwaiter* w = waiters_;
    while (w) {
        TransportAwaiter* next = w->next_;
        if (kind == TransportAwaiter::Kind::closed || w->kind_ == kind) {
            w->unlink();
            w->task_->wake();
        }
        w = next;
    }
}

TransportAwaiter::TransportAwaiter(Ref<FdTransport> t, Kind kind) noexcept : transport_(std::move(t)), kind_(kind) {}

void TransportAwaiter::unlink() noexcept {
    if (!linked_) return;
    linked_ = false;
    if (prev_)
        prev_->next_ = next_;
    else
        transport_->waiters_ = next_;
    if (next_) next_->prev_ = prev_;
    prev_ = next_ = nullptr;
}

bool TransportAwaiter::await_ready() const {
    if (!transport_) throw std::runtime_error("this stream awaiter was moved from");
    const FdTransport& t = *transport_;
    if (t.lost_) return true;
    if (kind_ == Kind::closed) return false;
    if (t.reader_ && t.reader_->exception()) return true;
    return !t.writing_paused_;
}

void TransportAwaiter::suspend_task(std::coroutine_handle<> h) {
    task_ = &TaskBase::current_or_throw(kind_ == Kind::drain ? "drain()" : "wait_closed()");
    FdTransport& t = *transport_;
    next_ = t.waiters_;
    if (next_) next_->prev_ = this;
    t.waiters_ = this;
    linked_ = true;
    task_->suspend(this, h);
}

bool TransportAwaiter::cancel(const std::string&) {
    if (!linked_) return false;
    unlink();
    cancelled_ = true;
    task_->wake();
    return true;
}

void TransportAwaiter::await_resume() {
    const bool suspended = task_ != nullptr;
    if (suspended) {
        task_->throw_if_cancel_requested();
        if (cancelled_) throw task_->make_cancelled_error();
    }
    const FdTransport& t = *transport_;
    if (kind_ == Kind::closed) {
        if (t.lost_error_) std::rethrow_exception(t.lost_error_);
        return;
    }
    if (t.reader_ && t.reader_->exception()) std::rethrow_exception(t.reader_->exception());
    if (t.lost_) {
        if (t.lost_error_) std::rethrow_exception(t.lost_error_);
        // A drain that was waiting when the connection closed cleanly returns (Python's
        // _drain_helper gets None); one started after that learns the connection is gone.
        if (!suspended) throw ConnectionResetError(ECONNRESET, "Connection lost");
    }
}

}  // namespace nogil::asyncio::detail
