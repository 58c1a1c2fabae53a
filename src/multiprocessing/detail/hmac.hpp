#pragma once
// HMAC-SHA256 (RFC 2104 over FIPS 180-4) for the manager's authkey handshake, as Python's
// multiprocessing.connection uses hmac with sha256. The core library links no crypto library
// (OpenSSL is nogil::ssl's alone), so the 60 lines of SHA-256 live here: the kernel's AF_ALG
// "hmac(sha256)" would need no code, but container seccomp profiles refuse the socket family
// (EAFNOSUPPORT on the CI machine), and a handshake must not depend on that. Tests: RFC 4231's
// vectors in tests/multiprocessing_managers_test.cpp (ManagerAuth.HmacSha256MatchesRfc4231).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nogil::multiprocessing::detail {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view message);

/// Compares two digests in time independent of where they differ.
bool digests_equal(std::string_view a, std::string_view b) noexcept;

/// `n` bytes from the kernel's random source (getrandom). Throws OSError if it fails.
std::string random_bytes(std::size_t n);

}  // namespace nogil::multiprocessing::detail
