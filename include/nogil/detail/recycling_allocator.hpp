#pragma once
// A per-thread cache of small blocks for objects that are made and dropped at a high rate (future
// states, work items). A freed block goes to the freeing thread's cache for its size class and is
// handed out again by that thread's next allocation of the class; each cache is bounded (32 MiB
// per thread, all classes together) and returns its blocks to the global heap when its thread
// exits. Sanitizer builds bypass the cache, so use-after-free stays visible to AddressSanitizer.

#include <cstddef>
#include <new>

namespace nogil::detail {

struct RecyclingAllocator {
    static constexpr std::size_t granule = 8;  // size classes of 8, 16, ..., 256 bytes: malloc's own rounding
    static constexpr std::size_t max_size = 256;

    static void* allocate(std::size_t size);
    static void deallocate(void* p, std::size_t size) noexcept;
};

}  // namespace nogil::detail
