// multiprocessing::Pool's part of the executors' record for `nogil ps`
// (include/nogil/concurrent/futures/detail/debug_offsets.hpp): where the reader finds the
// fields of PoolCore::Impl, which only src/multiprocessing/detail/pool_core.cpp sees.
#pragma once

#include <nogil/concurrent/futures/detail/debug_offsets.hpp>

namespace nogil::multiprocessing::detail {

/// Fills the mp_* fields of `r` (called once, while the record is built before main()). Weak: a
/// static link without multiprocessing::Pool (pool_core.cpp; e.g. the fuzz targets) leaves it
/// null and the record's mp_* fields zero, which the reader takes as "no such pools".
__attribute__((weak)) void describe_pool(::nogil::concurrent::futures::detail::ExecutorDebugOffsets& r) noexcept;

}  // namespace nogil::multiprocessing::detail
