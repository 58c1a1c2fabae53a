#pragma once
// The recycling allocator behind every asyncio coroutine frame, task and future state.
//
// Guarantees: blocks come from the global heap (malloc), so a block may be freed on any thread;
// each thread keeps a freelist per 16-byte size class (up to 512 bytes) and reuses freed blocks
// before asking malloc again. The lists are freed when the thread exits. Under AddressSanitizer
// the lists are disabled so that use-after-free is still caught.

#include <cstddef>

namespace nogil::detail {

/// Returns a block of at least `size` bytes, aligned for any fundamental type. Throws std::bad_alloc.
void* frame_allocate(std::size_t size);

/// Returns a block obtained from frame_allocate(size) with the same `size`.
void frame_deallocate(void* block, std::size_t size) noexcept;

/// Base for classes whose objects should come from the recycling allocator.
struct FrameAllocated {
    static void* operator new(std::size_t size) { return frame_allocate(size); }
    static void operator delete(void* block, std::size_t size) noexcept { frame_deallocate(block, size); }
};

}  // namespace nogil::detail
