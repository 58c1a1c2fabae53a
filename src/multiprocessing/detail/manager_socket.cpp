#include "multiprocessing/detail/manager_socket.hpp"

#include "multiprocessing/detail/hmac.hpp"
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/detail/frame.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace nogil::multiprocessing::detail {

namespace {

constexpr std::string_view challenge_tag = "#CHALLENGE#";
constexpr std::string_view welcome = "#WELCOME#";
constexpr std::string_view failure = "#FAILURE#";
constexpr std::uint64_t handshake_limit = 256;

sockaddr_un address_of(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path))
        throw std::invalid_argument("manager address: a Unix socket path of 1 to " +
                                    std::to_string(sizeof(addr.sun_path) - 1) + " bytes, not '" + path + "'");
    std::memcpy(addr.sun_path, path.data(), path.size());
    return addr;
}

UniqueFd unix_socket() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw OSError(errno, "socket");
    return fd;
}

std::string receive(int fd) {
    std::optional<Frame> frame = recv_frame(fd, handshake_limit);
    if (!frame) throw EOFError("manager handshake: the other side closed the connection");
    return std::move(frame->bytes);
}

void send(int fd, std::string_view bytes) { send_frame(fd, FrameKind::bytes, bytes); }

std::string digest(std::string_view key, std::string_view message) {
    Digest d = hmac_sha256(key, message);
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

void deliver_challenge(int fd, std::string_view authkey) {
    std::string message = random_bytes(40);
    send(fd, std::string(challenge_tag) + message);
    if (!digests_equal(receive(fd), digest(authkey, message))) {
        send(fd, failure);
        throw AuthenticationError("digest received was wrong");
    }
    send(fd, welcome);
}

void answer_challenge(int fd, std::string_view authkey) {
    std::string message = receive(fd);
    if (!message.starts_with(challenge_tag))
        throw AuthenticationError("Protocol error: the challenge does not start with #CHALLENGE#");
    send(fd, digest(authkey, std::string_view(message).substr(challenge_tag.size())));
    if (receive(fd) != welcome) throw AuthenticationError("digest sent was rejected");
}

}  // namespace

UniqueFd unix_listen(const std::string& path) {
    sockaddr_un addr = address_of(path);
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());  // a manager's leftover
    UniqueFd fd = unix_socket();
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw OSError(errno, "bind " + path);
    if (::listen(fd.get(), 128) != 0) throw OSError(errno, "listen " + path);
    return fd;
}

UniqueFd unix_connect(const std::string& path) {
    sockaddr_un addr = address_of(path);
    UniqueFd fd = unix_socket();
    while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED || errno == ENOENT)
            throw ConnectionRefusedError(errno, "manager at " + path + " refused the connection (it is not running)");
        throw OSError(errno, "connect " + path);
    }
    return fd;
}

void server_handshake(int fd, std::string_view authkey) {
    deliver_challenge(fd, authkey);
    answer_challenge(fd, authkey);
}

void client_handshake(int fd, std::string_view authkey) {
    answer_challenge(fd, authkey);
    deliver_challenge(fd, authkey);
}

}  // namespace nogil::multiprocessing::detail
