#pragma once
// The manager's transport: a Unix stream socket at a path, and the authkey handshake every new
// connection goes through before its first request (Python's multiprocessing.connection
// deliver_challenge / answer_challenge, HMAC-SHA256):
//
//   1. server -> client: "#CHALLENGE#" + 40 random bytes
//   2. client -> server: HMAC(authkey, challenge)
//   3. server -> client: "#WELCOME#", or "#FAILURE#" and the server closes the connection
//   4. the same three steps the other way (the client checks the server holds the key too)
//
// Every handshake frame is read with a limit of 256 bytes: a peer that has not proved the key
// cannot make either side allocate more. Tests: steps 1-4 ManagerAuth.WrongAuthkeyIsRefused; the
// limit ManagerAttack.GarbageAndHugeFramesBeforeAuthAreDropped (tests/multiprocessing_managers_test.cpp).

#include <nogil/multiprocessing/detail/fd.hpp>

#include <string>
#include <string_view>

namespace nogil::multiprocessing::detail {
using ::nogil::detail::UniqueFd;

/// A listening socket at `path` (a stale socket file there is replaced). Throws OSError.
UniqueFd unix_listen(const std::string& path);
/// A connection to `path`. Throws ConnectionRefusedError when nothing listens there (including
/// when the path does not exist any more: the manager is gone).
UniqueFd unix_connect(const std::string& path);

/// Server side of the handshake: steps 1-3, then 4 as the answering side. Throws
/// AuthenticationError if the client's digest is wrong, EOFError if it hung up.
void server_handshake(int fd, std::string_view authkey);
/// Client side: answers, then challenges. Throws AuthenticationError ("digest sent was rejected"
/// or "digest received was wrong"), EOFError if the server hung up.
void client_handshake(int fd, std::string_view authkey);

}  // namespace nogil::multiprocessing::detail
