#include <nogil/multiprocessing/detail/frame.hpp>
#include <nogil/errors.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


namespace {

constexpr std::uint32_t frame_magic = 0x504D676E;  // "ngMP" little-endian
constexpr std::uint8_t frame_version = 1;
constexpr std::size_t header_size = 16;
constexpr std::size_t max_fds_per_frame = 250;  // below the kernel's SCM_MAX_FD

[[noreturn]] void corrupt(const std::string& why) {
    throw std::runtime_error("nogil::multiprocessing: corrupt frame from peer: " + why);
}

void encode_header(unsigned char* out, FrameKind kind, std::size_t nfds, std::uint64_t length) {
    std::memcpy(out, &frame_magic, 4);
    out[4] = frame_version;
    out[5] = static_cast<unsigned char>(kind);
    auto n = static_cast<std::uint16_t>(nfds);
    std::memcpy(out + 6, &n, 2);
    std::memcpy(out + 8, &length, 8);
}

// Collects SCM_RIGHTS descriptors from a received message (they are ours to close).
void take_rights(msghdr& msg, std::vector<UniqueFd>& into) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < n; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            into.emplace_back(fd);
        }
    }
}

// Reads exactly `size` bytes (descriptors may arrive with any of them). Returns the number read
// before EOF; throws on errors.
std::size_t read_full(int fd, char* data, std::size_t size, std::vector<UniqueFd>& fds) {
    std::size_t done = 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_frame)];
    while (done < size) {
        iovec iov{data + done, size - done};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ECONNRESET) return done;
            throw OSError(errno, "recv");
        }
        take_rights(msg, fds);
        if ((msg.msg_flags & MSG_CTRUNC) != 0) corrupt("too many descriptors");
        if (n == 0) return done;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

}  // namespace

void send_frame(int fd, FrameKind kind, std::string_view bytes, std::span<const UniqueFd> fds) {
    if (fds.size() > max_fds_per_frame) throw std::invalid_argument("send: too many descriptors in one message");
    unsigned char header[header_size];
    encode_header(header, kind, fds.size(), bytes.size());
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_frame)];
    std::size_t total = header_size + bytes.size();
    std::size_t sent = 0;
    while (sent < total) {
        iovec iov[2];
        int iovcnt = 0;
        if (sent < header_size) iov[iovcnt++] = {header + sent, header_size - sent};
        std::size_t body_off = sent < header_size ? 0 : sent - header_size;
        if (body_off < bytes.size()) iov[iovcnt++] = {const_cast<char*>(bytes.data()) + body_off, bytes.size() - body_off};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
        if (sent == 0 && !fds.empty()) {
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            for (std::size_t i = 0; i < fds.size(); ++i) {
                int raw = fds[i].get();
                std::memcpy(CMSG_DATA(c) + i * sizeof(int), &raw, sizeof(int));
            }
        }
        ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw OSError(errno, "send");
        }
        sent += static_cast<std::size_t>(n);
    }
}

std::optional<Frame> recv_frame(int fd, std::uint64_t max_bytes) {
    Frame frame;
    unsigned char header[header_size];
    std::size_t got = read_full(fd, reinterpret_cast<char*>(header), header_size, frame.fds);
    if (got == 0 && frame.fds.empty()) return std::nullopt;
    if (got < header_size) throw EOFError("nogil::multiprocessing: peer closed in the middle of a frame header");
    std::uint32_t magic;
    std::uint16_t nfds;
    std::uint64_t length;
    std::memcpy(&magic, header, 4);
    std::memcpy(&nfds, header + 6, 2);
    std::memcpy(&length, header + 8, 8);
    if (magic != frame_magic) corrupt("bad magic (not a nogil message)");
    if (header[4] != frame_version) corrupt("unknown version " + std::to_string(header[4]));
    if (header[5] < 1 || header[5] > 4) corrupt("unknown kind " + std::to_string(header[5]));
    if (length > max_bytes) corrupt("length " + std::to_string(length) + " above the limit " + std::to_string(max_bytes));
    frame.kind = static_cast<FrameKind>(header[5]);
    frame.bytes.resize(static_cast<std::size_t>(length));
    if (read_full(fd, frame.bytes.data(), frame.bytes.size(), frame.fds) < frame.bytes.size())
        throw EOFError("nogil::multiprocessing: peer closed in the middle of a frame (" + std::to_string(length) +
                       " bytes announced)");
    if (frame.fds.size() != nfds)
        corrupt(std::to_string(nfds) + " descriptors announced, " + std::to_string(frame.fds.size()) + " received");
    return frame;
}

std::pair<UniqueFd, UniqueFd> socket_pair() {
    int sv[2];
    check_os(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

}  // namespace nogil::multiprocessing::detail
