#pragma once
// The I/O backend interface behind the asyncio event loop: fd readiness and a cross-thread
// wake-up. Timers are not here: the loop keeps them in its own heap and turns the nearest
// deadline into poll()'s timeout. Two implementations: epoll (io_epoll.hpp, the default) and
// io_uring (io_uring.hpp); make_io_backend() chooses (docs/asyncio-io.md, "Backends").

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nogil::asyncio {

/// The event loop's I/O backend (a nogil extension: Python has one selector per platform).
enum class IoBackendKind : std::uint8_t { epoll, io_uring };

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {

/// Interest/readiness bits.
enum : std::uint32_t { io_readable = 1u, io_writable = 2u };

/// One readiness report: `events` is a mask of io_readable/io_writable (errors and hang-ups count
/// as both, so that the waiting side tries the call and sees the error).
struct IoEvent {
    int fd;
    std::uint32_t events;
};

/// Who receives the bytes of a completion-based receive (IoBackend::start_recv). Called from
/// inside IoBackend::poll(): it may copy the bytes and schedule loop work, never run user code
/// nor call the backend.
class RecvSink {
public:
    /// `n` > 0 bytes the kernel received; valid only during the call.
    virtual void on_recv(const char* data, std::size_t n) noexcept = 0;
    /// The receive ended (its last call for this receive): 0 at the peer's EOF, -errno on an
    /// error, -ECANCELED after cancel_recv(), -ENOBUFS when the kernel ran out of buffers (start
    /// another), 1 when the kernel ended it for its own reasons (start another).
    virtual void on_recv_end(int res) noexcept = 0;

protected:
    ~RecvSink() = default;
};

class ByteBuffer;

/// Who sends through a completion-based send (IoBackend::queue_send). Called from inside
/// IoBackend::poll() (and from the backend's destructor): it may move bytes and schedule loop
/// work, never run user code nor call the backend.
class SendSource {
public:
    /// At the submission of the send (the loop's next enter): moves the bytes to send into
    /// `into` (empty; the backend owns them from now on, until the send ends) and returns true,
    /// or returns false to send nothing (the send then ends with -ECANCELED).
    virtual bool take_send(ByteBuffer& into) noexcept = 0;
    /// The send ended (its last call): every byte taken was sent (the count, >= 0), or -errno
    /// (an error, or -ECANCELED after cancel_send() or when the backend is destroyed).
    virtual void on_send_end(long res) noexcept = 0;

protected:
    ~SendSource() = default;
};

/// Who takes the connections of a completion-based accept (IoBackend::start_accept). Called
/// from inside IoBackend::poll(): it may keep the fds and schedule loop work, never run user
/// code nor call the backend.
class AcceptSink {
public:
    /// A connection accepted by accept `id` (non-blocking, close-on-exec): the sink owns `fd`.
    virtual void on_accept(std::uint64_t id, int fd) noexcept = 0;
    /// Accept `id` ended (its last call): -errno on an error (EMFILE...), -ECANCELED after
    /// cancel_accept(), 1 when the kernel ended it for its own reasons (start another).
    virtual void on_accept_end(std::uint64_t id, int res) noexcept = 0;

protected:
    ~AcceptSink() = default;
};

class IoBackend {
public:
    virtual ~IoBackend() = default;
    /// Sets the interest mask for `fd` (0 removes it). Loop thread only. Throws OSError.
    virtual void watch(int fd, std::uint32_t events) = 0;
    /// Number of fds with a non-zero interest mask, plus receives, sends and accepts in flight.
    virtual std::size_t watched() const noexcept = 0;
    /// Waits until an fd is ready, wakeup() is called or `timeout` passes (nullopt: no limit,
    /// zero: just look). Appends readiness to `out`. Loop thread only.
    virtual void poll(std::optional<std::chrono::nanoseconds> timeout, std::vector<IoEvent>& out) = 0;
    /// Makes a current or the next poll() return. Any thread; async-signal-safe.
    virtual void wakeup() noexcept = 0;
    virtual IoBackendKind kind() const noexcept = 0;
    /// Called by the loop at the start of every run, on the thread that runs it, before any
    /// poll(). The io_uring backend's ring (IORING_SETUP_SINGLE_ISSUER) binds to the first such
    /// thread and throws RuntimeError when a later run is on another thread.
    virtual void bind_thread() {}

    // --- completions (io_uring): the kernel reads into buffers it picks and hands them over --
    /// True if start_recv() can be used on a socket.
    virtual bool can_recv() noexcept { return false; }
    /// Starts receiving on socket `fd` until EOF, an error or cancel_recv(): every chunk goes to
    /// `sink`, in order. Returns the receive's id. Loop thread only. Throws OSError.
    virtual std::uint64_t start_recv(int fd, RecvSink& sink);
    /// Asks the kernel to stop the receive; bytes already received are still delivered, then
    /// on_recv_end(-ECANCELED) (or whatever ended it first).
    virtual void cancel_recv(std::uint64_t id) noexcept;
    /// Stops the receive and forgets its sink at once: the sink is never called again (its owner
    /// may be destroyed right after). Bytes in flight are dropped.
    virtual void detach_recv(std::uint64_t id) noexcept;
    /// True if queue_send() can be used on a socket.
    virtual bool can_send() noexcept { return false; }
    /// Queues a send on socket `fd`: at the loop's next enter the backend takes the bytes
    /// (SendSource::take_send) and sends them all - a partial send goes on with the rest at the
    /// enter after - then calls on_send_end. Returns the send's id. Loop thread only. Throws
    /// OSError. The source must stay alive until on_send_end.
    virtual std::uint64_t queue_send(int fd, SendSource& source);
    /// Asks the send to stop (before the fd is closed: the rest of a partial send is never
    /// sent on that number); on_send_end comes later, with -ECANCELED or what was sent.
    virtual void cancel_send(std::uint64_t id) noexcept;
    /// True if start_accept() can be used on a listening socket.
    virtual bool can_accept() noexcept { return false; }
    /// Accepts connections on listening socket `fd` until an error or detach_accept(): every
    /// one goes to `sink`. Returns the accept's id. Loop thread only. Throws OSError.
    virtual std::uint64_t start_accept(int fd, AcceptSink& sink);
    /// Stops the accept and forgets its sink at once (the sink is never called again; a
    /// connection accepted before the kernel saw the cancel is closed by the backend).
    virtual void detach_accept(std::uint64_t id) noexcept;
};

/// The loop's backend. `requested`: that one, or OSError naming why io_uring cannot run here.
/// nullopt: NOGIL_ASYNCIO_BACKEND (epoll when unset; io_uring falls back to epoll when it cannot
/// run, saying why once per process when `debug`).
std::unique_ptr<IoBackend> make_io_backend(std::optional<IoBackendKind> requested, bool debug);

/// Why io_uring cannot run in this process (empty if it can): the result of creating one ring.
std::string io_uring_unavailable_reason();

}  // namespace nogil::asyncio::detail
