#pragma once
// Python's ssl module, for asyncio streams: SSLContext, create_default_context, SSLObject, the
// SSL exceptions. Its own CMake target, nogil::ssl (OpenSSL 3), package component `ssl`:
//   find_package(nogil CONFIG REQUIRED COMPONENTS ssl)   target_link_libraries(app nogil::ssl)
// How it plugs into asyncio (the core never links OpenSSL): docs/ssl.md.

#include <nogil/asyncio/ssl_option.hpp>
#include <nogil/ssl/ssl_context.hpp>
#include <nogil/ssl/ssl_object.hpp>

namespace nogil::ssl::detail {
/// Registers create_default_context() as what asyncio's `.ssl = true` stands for.
bool register_default_context() noexcept;
/// Every program that includes this header registers it (the same function each time).
inline const bool default_context_registered = register_default_context();
}  // namespace nogil::ssl::detail
