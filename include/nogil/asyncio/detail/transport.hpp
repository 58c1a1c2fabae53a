#pragma once
// FdTransport: the one transport under asyncio streams (Python's _SelectorSocketTransport and
// the unix pipe transports in one): it owns a non-blocking fd - a TCP or unix socket, or a
// pipe end - and moves bytes between it and a StreamReaderState (reading) and its own write
// buffer (writing).
//
// Cost model (why it is shaped like this):
//   - reading: the fd is registered with the loop once and stays registered (level-triggered)
//     while reading is wanted; each readiness report costs one read() straight into the
//     reader's buffer. The registration changes only on flow control (pause/resume) and EOF.
//     On the io_uring backend a socket is read by completions instead (IoBackend::start_recv):
//     one receive is in flight while reading is wanted, re-armed after each completion; the
//     bytes the kernel received are kept as the loop reaps them (so pausing, or a cancelled
//     read, loses nothing: what is in flight still lands in the buffer), and a loop callback
//     gives them to the reader (or the TLS layer). No read() system call per message.
//   - writing: write() tries the system call at once when nothing is queued; only the part the
//     kernel did not take is buffered and a writable callback registered until it is flushed.
//
// Lifetimes (docs/asyncio-io.md):
//   - the transport is reference counted; StreamReader/StreamWriter handles hold it and count
//     as its users. When the last user goes away without close(), close() is called for them.
//   - close() is graceful: reading stops, queued bytes are still sent, then the fd is closed.
//     While bytes are queued the writable callback holds a reference, so a closed transport
//     nobody references still flushes. abort() drops queued bytes and closes at once.
//   - "connection lost" happens exactly once (close finished, abort, or an error such as
//     ECONNRESET/EPIPE): the fd is unregistered and closed, the reader gets EOF (or the error),
//     waiting drain()s and wait_closed()s are woken (queued, one loop turn later).
//   - a peer's EOF only ends reading: the write side stays open (half-close), as in Python.
//   - a TransportLayer (TLS, detail/transport_layer.hpp) may sit between the fd and the
//     handles: raw bytes then go through it both ways, and close() lets it shut down first.
//   - SIGPIPE never fires: sockets are written with send(MSG_NOSIGNAL); pipes with write() while
//     SIGPIPE is blocked on the calling thread (a pending SIGPIPE is consumed).
// Loop thread only.

#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/detail/socket_address.hpp>
#include <nogil/asyncio/detail/task_base.hpp>
#include <nogil/asyncio/detail/transport_buffer.hpp>
#include <nogil/asyncio/detail/transport_layer.hpp>
#include <nogil/asyncio/detail/transport_reader.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nogil::asyncio::detail {

class FdTransport;

/// Who wants to know when a transport's connection is lost (a Server tracking its clients).
class TransportObserver {
public:
    virtual void connection_lost(FdTransport& transport) noexcept = 0;

protected:
    ~TransportObserver() = default;
};

/// drain() and wait_closed(): wait for the transport's writing to resume or its connection to
/// be lost. Woken by the loop one turn after that happened; cancelling detaches (the queued
/// bytes stay queued).
class [[nodiscard]] TransportAwaiter final : public Waiter {
public:
    enum class Kind : std::uint8_t { drain, closed };
    TransportAwaiter(Ref<FdTransport> t, Kind kind) noexcept;
    TransportAwaiter(TransportAwaiter&& other) noexcept : TransportAwaiter(std::move(other.transport_), other.kind_) {}
    TransportAwaiter& operator=(TransportAwaiter&&) = delete;
    ~TransportAwaiter() { unlink(); }

    bool await_ready() const;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h);
    /// drain: the reader's error, or ConnectionResetError("Connection lost") once lost.
    /// closed: the error the connection was lost with, if any.
    void await_resume();
    bool cancel(const std::string& msg) override;

private:
    friend class FdTransport;
    void unlink() noexcept;

    Ref<FdTransport> transport_;
    TransportAwaiter* prev_ = nullptr;
    TransportAwaiter* next_ = nullptr;
    TaskBase* task_ = nullptr;
    Kind kind_;
    bool linked_ = false;
    bool cancelled_ = false;
};

class FdTransport final : public ReadFlowControl, private RecvSink, private SendSource {
public:
    /// Python's default write buffer limits.
    static constexpr std::size_t default_high_water = 64 * 1024;
    /// The most one read() asks for.
    static constexpr std::size_t max_read_size = 64 * 1024;

    /// Takes ownership of `fd` (made non-blocking; closed if this throws). A non-null `reader`
    /// starts reading at once; `writable` allows write(). Throws OSError, RuntimeError if the
    /// loop is closed.
    static Ref<FdTransport> open(LoopCore& loop, int fd, Ref<StreamReaderState> reader, bool writable);
    ~FdTransport();
    FdTransport(const FdTransport&) = delete;
    FdTransport& operator=(const FdTransport&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    /// Handles (StreamReader/StreamWriter) count as users; the last one leaving closes.
    void add_user() noexcept { ++users_; }
    void remove_user() noexcept;

    // --- writing ------------------------------------------------------------------------------
    /// Sends or queues `data`. RuntimeError after write_eof() or on a read-only transport;
    /// silently dropped once the connection is lost (drain() reports it), as in Python.
    void write(std::string_view data);
    /// Shuts the write side (shutdown(SHUT_WR) for sockets, closing for pipes) once flushed.
    /// RuntimeError with a layer (TLS has no half-close: Python's NotImplementedError).
    void write_eof();
    bool can_write_eof() const noexcept { return writable_ && !layer_; }
    std::size_t get_write_buffer_size() const noexcept {
        return queued_size() + (layer_ ? layer_->pending_write_size() : 0);
    }
    /// Bytes the write queue holds allocated, the backend's send in flight included (tests
    /// check it is given back once drained).
    std::size_t write_buffer_capacity() const noexcept { return wbuf_.capacity() + sending_capacity_; }
    /// What a drained write queue keeps allocated: twice the high-water mark, at least 64 KiB.
    static constexpr std::size_t write_retain(std::size_t high) noexcept {
        return high < 32 * 1024 ? 64 * 1024 : 2 * high;
    }
    /// Python's set_write_buffer_limits: high defaults to 64 KiB, low to high / 4.
    /// std::invalid_argument unless high >= low.
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low);
    std::size_t write_high_water() const noexcept { return high_; }
    std::size_t write_low_water() const noexcept { return low_; }
    bool writing_paused() const noexcept { return writing_paused_; }

    // --- closing ------------------------------------------------------------------------------
    /// Graceful close: stop reading, flush, then close the fd. Idempotent.
    void close();
    /// Closes at once, dropping queued bytes; the reader sees EOF.
    void abort();
    bool is_closing() const noexcept { return closing_; }
    /// True once the connection is lost (the fd is closed).
    bool connection_lost() const noexcept { return lost_; }
    /// The error the connection was lost with (null after a clean close).
    const std::exception_ptr& lost_error() const noexcept { return lost_error_; }

    // --- reading (ReadFlowControl) ------------------------------------------------------------
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept { return reading_; }

    // --- the layer (detail/transport_layer.hpp) -------------------------------------------------
    /// Puts `layer` between the fd and the handles and attaches it (step 1). RuntimeError if
    /// the transport is closing or already has one.
    void set_layer(std::unique_ptr<TransportLayer> layer);
    TransportLayer* layer() const noexcept { return layer_.get(); }
    /// Bytes for the wire, past the layer (step 3): sent or queued as write() does without one.
    void write_raw(std::string_view data);
    /// Closes without asking the layer (step 4's end): stop reading, flush, close the fd.
    void close_raw();
    /// Reads the fd again even while closing (a layer waiting for the peer's close_notify).
    void read_raw();
    /// Loses the connection at once with `error` (the layer's fatal errors).
    void abort_with_error(std::exception_ptr error);
    /// True for a connection accepted by a Server (start_tls's server_side).
    bool server_side() const noexcept { return server_side_; }
    void set_server_side(bool s) noexcept { server_side_ = s; }

    // --- information --------------------------------------------------------------------------
    /// The fd (-1 once closed). Borrowed: do not close it.
    int fd() const noexcept { return fd_; }
    bool is_socket() const noexcept { return is_socket_; }
    const std::optional<asyncio::SocketAddress>& peername() const noexcept { return peername_; }
    const std::optional<asyncio::SocketAddress>& sockname() const noexcept { return sockname_; }
    const Ref<StreamReaderState>& reader() const noexcept { return reader_; }
    LoopCore& loop() const noexcept { return *loop_; }
    void set_observer(TransportObserver* o) noexcept { observer_ = o; }

private:
    friend class TransportAwaiter;
    FdTransport(LoopCore& loop, int fd, Ref<StreamReaderState> reader, bool writable);
    void start_reading();
    void stop_reading() noexcept;
    void on_readable();
    void on_writable();
    // Completion-based reading (io_uring sockets): RecvSink, and the loop callback it schedules.
    void on_recv(const char* data, std::size_t n) noexcept override;
    void on_recv_end(int res) noexcept override;
    void on_recv_callback();
    void start_recv();
    // Writing by completions (io_uring sockets): SendSource, and the loop callback its end queues.
    bool take_send(ByteBuffer& into) noexcept override;
    void on_send_end(long res) noexcept override;
    void on_send_callback(long res);
    void queue_send();
    /// Bytes written and not yet known sent: the queue plus the send in flight.
    std::size_t queued_size() const noexcept { return wbuf_.size() + sending_size_; }
    /// No byte waits to be sent and no send is in flight or ending.
    bool write_idle() const noexcept { return wbuf_.empty() && !send_id_ && !send_ending_; }
    /// One send()/write(); returns bytes taken, 0 on EAGAIN, -1 after a fatal error.
    long send_some(const char* data, std::size_t size);
    void arm_writer();
    void disarm_writer() noexcept;
    void maybe_pause_writing() noexcept;
    void maybe_resume_writing() noexcept;
    void shutdown_write() noexcept;
    /// The error path (Python's _fatal_error/_force_close): lose the connection with `err`.
    void fatal_error(int err);
    /// Exactly once: unregister, close the fd, tell the reader, wake the waiters.
    void lose_connection(std::exception_ptr error) noexcept;
    void wake_waiters(TransportAwaiter::Kind kind) noexcept;

    std::atomic<std::uint32_t> refs_{1};
    std::uint32_t users_ = 0;
    Ref<LoopCore> loop_;
    int fd_;
    Ref<StreamReaderState> reader_;
    ByteBuffer wbuf_;
    std::size_t high_ = default_high_water;
    std::size_t low_ = default_high_water / 4;
    std::optional<asyncio::SocketAddress> peername_, sockname_;
    std::exception_ptr lost_error_;
    TransportObserver* observer_ = nullptr;
    TransportAwaiter* waiters_ = nullptr;  // drain() and wait_closed() waiters
    std::unique_ptr<TransportLayer> layer_;
    // Completion-based reading: the receive in flight (0: none), the callback that tells the
    // reader (queued at most once a turn), and what the receive's end said (recv_end_pending_).
    std::uint64_t recv_id_ = 0;
    CoalescedCallback<FdTransport, &FdTransport::on_recv_callback> recv_callback_;
    std::string recv_staged_;  // bytes received, for the callback to hand to the reader or layer
    int recv_end_ = 0;
    // Completion-based writing: the send queued or in flight (0: none; it holds a reference to
    // the transport), the size and allocation of the bytes it took, and whether its end waits
    // in the ready queue.
    std::uint64_t send_id_ = 0;
    std::size_t sending_size_ = 0;
    std::size_t sending_capacity_ = 0;
    bool use_send_ = false;
    bool send_ending_ = false;
    bool use_recv_ = false;
    bool recv_cancelling_ = false;
    bool recv_committed_ = false;  // bytes appended since the callback last ran
    bool recv_end_pending_ = false;
    bool is_socket_ = false;
    bool server_side_ = false;
    bool writable_;
    bool reading_ = false;
    bool writer_armed_ = false;
    bool writing_paused_ = false;
    bool eof_requested_ = false;
    bool eof_written_ = false;
    bool closing_ = false;
    // close_raw() was called: lose the connection once the queue is flushed (closing_ alone
    // may mean a layer is shutting down, which closes later: TLS waits for close_notify).
    bool close_when_flushed_ = false;
    bool lost_ = false;
};

/// A handle's share of a reference-counted object that also counts users (a transport, a
/// server): a reference plus add_user()/remove_user(), so that the last handle leaving can
/// close what it shares (see the lifetime rules above). May be empty.
template <class T>
class UseRef {
public:
    UseRef() noexcept = default;
    explicit UseRef(Ref<T> t) noexcept : t_(std::move(t)) {
        if (t_) t_->add_user();
    }
    UseRef(const UseRef& o) noexcept : UseRef(o.t_) {}
    UseRef(UseRef&& o) noexcept : t_(std::move(o.t_)) {}
    UseRef& operator=(UseRef o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~UseRef() {
        if (t_) t_->remove_user();
    }
    T* get() const noexcept { return t_.get(); }
    T* operator->() const noexcept { return t_.get(); }
    explicit operator bool() const noexcept { return bool(t_); }
    const Ref<T>& ref() const noexcept { return t_; }

private:
    Ref<T> t_;
};
using TransportUse = UseRef<FdTransport>;

/// Throws the OSError subclass Python raises for `err` (ConnectionResetError for ECONNRESET,
/// BrokenPipeError for EPIPE, ...), with `what` as context.
[[noreturn]] void throw_os_error(int err, const std::string& what);
/// The same exception as an exception_ptr.
std::exception_ptr make_os_error(int err, const std::string& what);

}  // namespace nogil::asyncio::detail
