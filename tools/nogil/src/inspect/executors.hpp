#pragma once
// Reading the live executors of a nogil program from outside (`nogil ps`): the registry and the
// record include/nogil/concurrent/futures/detail/debug_offsets.hpp describes.

#include "inspect/process_memory.hpp"
#include "inspect/remote.hpp"

#include <cstdint>
#include <vector>

namespace nogil_tool::inspect {

/// Reads the executors through the record at `record_address` (nogil_executor_debug_offsets).
/// Throws RemoteError for a record of another version; a torn read yields what held together.
std::vector<ExecutorSnapshot> read_executors(Memory& mem, std::uint64_t record_address);

}  // namespace nogil_tool::inspect
