#include <nogil/multiprocessing/connection.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace nogil::multiprocessing {

struct Connection::Impl {
    std::mutex state_mutex;  // guards fd against close() racing a send/recv start
    std::mutex send_mutex;   // whole frames: one sender at a time
    std::mutex recv_mutex;   // one receiver at a time
    detail::UniqueFd fd;
};

Connection::Connection(detail::UniqueFd fd, bool readable, bool writable)
    : impl_(std::make_shared<Impl>()), readable_(readable), writable_(writable) {
    if (!fd) throw std::invalid_argument("Connection: invalid descriptor");
    impl_->fd = std::move(fd);
}

int Connection::fileno() const {
    std::lock_guard lock(impl_->state_mutex);
    return impl_->fd.get();
}

int Connection::fileno_checked() const {
    int fd = fileno();
    if (fd < 0) throw OSError(EBADF, "handle is closed");
    return fd;
}

bool Connection::closed() const { return fileno() < 0; }

void Connection::close() {
    std::lock_guard send(impl_->send_mutex);
    std::lock_guard recv(impl_->recv_mutex);
    std::lock_guard lock(impl_->state_mutex);
    impl_->fd.reset();
}

void Connection::send_frame(detail::FrameKind kind, std::string_view bytes, std::span<const detail::UniqueFd> fds) {
    if (!writable_) throw OSError(EBADF, "connection is read-only");
    std::lock_guard lock(impl_->send_mutex);
    detail::send_frame(fileno_checked(), kind, bytes, fds);
}

detail::Frame Connection::recv_frame(std::optional<detail::FrameKind> expected) {
    if (!readable_) throw OSError(EBADF, "connection is write-only");
    std::lock_guard lock(impl_->recv_mutex);
    std::optional<detail::Frame> frame = detail::recv_frame(fileno_checked());
    if (!frame) throw EOFError("Connection.recv: the other end is closed");
    if (expected && frame->kind != *expected)
        throw std::runtime_error("Connection.recv: received raw bytes (send_bytes), not a value (send)");
    return std::move(*frame);
}

void Connection::send_bytes(std::string_view buf, std::size_t offset, std::optional<std::size_t> size) {
    if (offset > buf.size()) throw std::invalid_argument("send_bytes: offset is negative or beyond the buffer");
    std::size_t n = size.value_or(buf.size() - offset);
    if (n > buf.size() - offset) throw std::invalid_argument("send_bytes: buffer length < offset + size");
    send_frame(detail::FrameKind::bytes, buf.substr(offset, n), {});
}

std::string Connection::recv_bytes(std::optional<std::size_t> maxlength) {
    detail::Frame frame = recv_frame(std::nullopt);
    if (maxlength && frame.bytes.size() > *maxlength) {
        close();  // Python closes the connection: the stream position is no longer meaningful
        throw OSError(EMSGSIZE, "recv_bytes: message longer than maxlength");
    }
    return std::move(frame.bytes);
}

std::size_t Connection::recv_bytes_into(std::span<std::byte> buffer, std::size_t offset) {
    if (offset > buffer.size()) throw std::invalid_argument("recv_bytes_into: offset too large");
    detail::Frame frame = recv_frame(std::nullopt);
    if (frame.bytes.size() > buffer.size() - offset) throw BufferTooShort(std::move(frame.bytes));
    std::memcpy(buffer.data() + offset, frame.bytes.data(), frame.bytes.size());
    return frame.bytes.size();
}

bool Connection::poll_until(std::chrono::steady_clock::time_point deadline) const {
    if (!readable_) throw OSError(EBADF, "connection is write-only");
    return detail::wait_readable(fileno_checked(), deadline);
}

std::pair<Connection, Connection> Pipe(bool duplex) {
    auto [a, b] = detail::socket_pair();
    if (duplex) return {Connection(std::move(a), true, true), Connection(std::move(b), true, true)};
    ::shutdown(a.get(), SHUT_WR);
    ::shutdown(b.get(), SHUT_RD);
    return {Connection(std::move(a), true, false), Connection(std::move(b), false, true)};
}

}  // namespace nogil::multiprocessing
