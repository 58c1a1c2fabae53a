#pragma once
// multiprocessing.Pipe and Connection: a two-way (or one-way) channel between processes.
//
//   auto [a, b] = mp::Pipe();
//   mp::Process p(child_fn, b); p.start();      // a Connection can be passed to a child
//   a.send(std::vector<int>{1, 2, 3});
//   auto reply = a.recv<std::string>();
//
// Values are framed (multiprocessing/detail/frame.hpp) and serialized with cereal (docs/api.md, rule 5). A peer that writes
// garbage, a frame cut short, or an oversized length is reported as an exception, never misread.
// Thread safety: send and recv each take an internal lock, so whole messages never interleave;
// a Connection is a shared handle (copies use the same descriptor, as Python's references do).

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/fd.hpp>
#include <nogil/multiprocessing/detail/frame.hpp>
#include <nogil/detail/serial.hpp>
#include <nogil/errors.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace nogil::multiprocessing {

/// Thread safety: every member may be called from any thread at once: send and recv each take a
/// lock of their own (one sender and one receiver at a time, whole messages never interleave).
class Connection {
public:
    /// Wraps a connected Unix stream socket (taken over). Pipe() is the usual way to get one.
    Connection(detail::UniqueFd fd, bool readable, bool writable);

    /// Sends one value. Compile error (in words) if T is not serializable. Throws OSError
    /// (EPIPE) if the other end is closed, OSError (EBADF) if this end is closed or read-only.
    template <class T>
    void send(const T& obj) {
        static_assert(nogil::detail::serial::Serializable<T>,
                      "Connection::send: the value must be serializable to cross a process boundary: arithmetic, "
                      "trivially copyable structs, std::string, standard containers, optional, pair/tuple, or a "
                      "type with a cereal serialize(Archive&) member");
        nogil::detail::serial::Payload payload = nogil::detail::serial::dumps(obj);
        send_frame(detail::FrameKind::object, payload.bytes, payload.fds);
    }

    /// Receives one value sent with send<T>. Blocks until one arrives. Throws EOFError when the
    /// other end closed with nothing left, std::runtime_error on a corrupt or mismatched message.
    template <class T>
    T recv() {
        static_assert(nogil::detail::serial::Serializable<T>, "Connection::recv: the value type must be serializable");
        detail::Frame frame = recv_frame(detail::FrameKind::object);
        return nogil::detail::serial::load_one<T>(frame.bytes, frame.fds);
    }

    /// Sends raw bytes: buf[offset, offset + size) (size: to the end). Throws std::invalid_argument
    /// if the range is outside buf.
    void send_bytes(std::string_view buf, std::size_t offset = 0, std::optional<std::size_t> size = std::nullopt);
    void send_bytes(std::span<const std::byte> buf) {
        send_bytes(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
    }
    /// Receives one message as bytes. Throws EOFError at end, OSError(EMSGSIZE) if longer than
    /// maxlength. On the wrong end of a one-way Pipe, or once closed, every call throws OSError
    /// (EBADF), as Python's "connection is write-only" / "handle is closed".
    std::string recv_bytes(std::optional<std::size_t> maxlength = std::nullopt);

    /// Receives one message into buffer[offset, ...) and returns its length in bytes. If it does
    /// not fit, throws BufferTooShort holding the whole message (it is consumed, as in Python).
    /// An offset beyond the buffer is std::invalid_argument ("offset too large"), checked first.
    std::size_t recv_bytes_into(std::span<std::byte> buffer, std::size_t offset = 0);
    std::size_t recv_bytes_into(std::span<char> buffer, std::size_t offset = 0) {
        return recv_bytes_into(std::as_writable_bytes(buffer), offset);
    }

    /// True if there is something to receive (or the other end closed) right now.
    bool poll() const { return poll_until(std::chrono::steady_clock::now()); }
    /// True if there is something to receive within `timeout`.
    template <class Rep, class Period>
    bool poll(std::chrono::duration<Rep, Period> timeout) const {
        return poll_until(nogil::detail::checked_deadline_after(timeout));  // NaN: ValueError, as Python
    }

    /// Closes this end (every copy of this handle). Idempotent.
    void close();
    bool closed() const;
    bool readable() const { return readable_; }
    bool writable() const { return writable_; }
    /// The underlying descriptor (-1 once closed).
    int fileno() const;

    // Serialization: the descriptor travels with the message (SCM_RIGHTS).
    template <class Archive>
    void save(Archive& ar) const {
        ar(nogil::detail::serial::export_fd(fileno_checked()), readable_, writable_);
    }
    static Connection nogil_load(nogil::detail::serial::InputArchive& ar) {
        std::uint32_t index = 0;
        bool readable = false, writable = false;
        ar(index, readable, writable);
        return Connection(nogil::detail::serial::import_fd(index), readable, writable);
    }

private:
    struct Impl;
    void send_frame(detail::FrameKind kind, std::string_view bytes, std::span<const detail::UniqueFd> fds);
    detail::Frame recv_frame(std::optional<detail::FrameKind> expected);
    bool poll_until(std::chrono::steady_clock::time_point deadline) const;
    int fileno_checked() const;

    std::shared_ptr<Impl> impl_;
    bool readable_ = true;
    bool writable_ = true;
};

/// A connected pair. duplex: both ends send and receive. Otherwise (reader, writer).
std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace nogil::multiprocessing
