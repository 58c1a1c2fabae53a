#pragma once
// Where asyncio's coroutine frames, task and future states and handles get their memory: the
// project's per-thread recycling allocator (detail/recycling_allocator.hpp), through a base
// class whose operator new/delete a promise or state inherits.

#include <nogil/detail/recycling_allocator.hpp>

#include <cstddef>

namespace nogil::asyncio::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::RecyclingAllocator;


/// Base for classes whose objects (and, for promises, whole coroutine frames) should come from
/// the recycling allocator. Sized delete is required: the size picks the size class.
struct FrameAllocated {
    static void* operator new(std::size_t size) { return RecyclingAllocator::allocate(size); }
    static void operator delete(void* block, std::size_t size) noexcept { RecyclingAllocator::deallocate(block, size); }
};

}  // namespace nogil::asyncio::detail
