#pragma once
// The wire format of every multiprocessing channel (Connection, Queue, the worker protocol):
// length-prefixed frames on a Unix stream socket, descriptors riding along with SCM_RIGHTS.
//
//   header (16 bytes): u32 magic | u8 version | u8 kind | u16 descriptor count | u64 payload length
//
// The reader trusts nothing: a wrong magic, version or kind, a length above the limit, a
// descriptor count that does not match what arrived, or a frame cut short all throw
// std::runtime_error (EOFError when the peer closed mid-frame) instead of misreading or hanging.

#include <nogil/multiprocessing/detail/fd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


enum class FrameKind : std::uint8_t {
    bytes = 1,     // Connection::send_bytes
    object = 2,    // Connection::send / Queue::put: a serialized value
    request = 3,   // worker protocol: task id + function ids + serialized args
    response = 4,  // worker protocol: task id + result or exception
};

/// The largest payload a reader accepts unless told otherwise (Python's limit is 2 GiB too).
inline constexpr std::uint64_t default_max_frame = std::uint64_t{1} << 31;

struct Frame {
    FrameKind kind{};
    std::string bytes;
    std::vector<UniqueFd> fds;
};

/// Writes one frame (all of it, retrying short writes). Throws OSError(EPIPE) when the peer is gone.
void send_frame(int fd, FrameKind kind, std::string_view bytes, std::span<const UniqueFd> fds = {});

/// Reads one frame. std::nullopt: the peer closed cleanly between frames.
std::optional<Frame> recv_frame(int fd, std::uint64_t max_bytes = default_max_frame);

/// A connected pair of Unix stream sockets, close-on-exec.
std::pair<UniqueFd, UniqueFd> socket_pair();

}  // namespace nogil::multiprocessing::detail
