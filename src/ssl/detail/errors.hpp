#pragma once
// Python's ssl exceptions from OpenSSL's error queue: the one home of their messages.
#include <nogil/errors.hpp>

#include <exception>
#include <string>

struct ssl_st;

namespace nogil::ssl::detail {

/// The error of a failed SSL_* call on `ssl` (SSL_get_error's `ssl_error`), from the thread's
/// OpenSSL error queue: SSLCertVerificationError when the certificate did not verify (with
/// `hostname` in the mismatch message), else SSLError "[LIB: REASON] reason text".
std::exception_ptr make_ssl_error(int ssl_error, ssl_st* ssl, const std::string& hostname);
/// SSLError for a failed context call (no SSL object), naming `what` if the queue is empty.
[[noreturn]] void raise_last_error(const std::string& what);
/// ConnectionResetError: the peer closed the connection during the handshake.
std::exception_ptr make_handshake_eof_error();
/// ConnectionAbortedError: the handshake outlived its timeout (Python's message).
std::exception_ptr make_handshake_timeout_error(double seconds);

}  // namespace nogil::ssl::detail
