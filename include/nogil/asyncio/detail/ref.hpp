#pragma once
// asyncio's name for the shared intrusive pointer (<nogil/detail/ref.hpp>).

#include <nogil/detail/ref.hpp>

namespace nogil::asyncio::detail {
using ::nogil::detail::Ref;
}  // namespace nogil::asyncio::detail
