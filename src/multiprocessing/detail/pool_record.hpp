// multiprocessing::Pool's part of the executors' record for `nogil ps`
// (include/nogil/concurrent/futures/detail/debug_offsets.hpp): where the reader finds the
// fields of PoolCore::Impl, which only src/multiprocessing/detail/pool_core.cpp sees.
#pragma once

#include <nogil/concurrent/futures/detail/debug_offsets.hpp>

namespace nogil::multiprocessing::detail {

/// Fills the mp_* fields of `r` (called once, while the record is built before main()).
void describe_pool(::nogil::concurrent::futures::detail::ExecutorDebugOffsets& r) noexcept;

}  // namespace nogil::multiprocessing::detail
