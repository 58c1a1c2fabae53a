#include <nogil/detail/recycling_allocator.hpp>

#include <array>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NOGIL_RECYCLING_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NOGIL_RECYCLING_DISABLED 1
#endif
#endif

namespace nogil::detail {

#ifndef NOGIL_RECYCLING_DISABLED
namespace {

constexpr std::size_t kClasses = RecyclingAllocator::max_size / RecyclingAllocator::granule;
// A thread keeps at most this much freed memory for reuse (all classes together). Enough for a
// burst of a few hundred thousand futures (200,000 submitted calls are 16 MB): the blocks were in
// use at that peak anyway, and glibc would keep them in its free lists just the same.
constexpr std::size_t kMaxCachedBytes = std::size_t{32} << 20;

struct FreeBlock {
    FreeBlock* next;
};

struct ThreadCache {
    std::array<FreeBlock*, kClasses> heads{};
    std::size_t bytes = 0;

    ~ThreadCache() {
        for (std::size_t c = 0; c < kClasses; ++c) {
            while (FreeBlock* b = heads[c]) {
                heads[c] = b->next;
                ::operator delete(b, (c + 1) * RecyclingAllocator::granule);
            }
        }
    }
};

thread_local ThreadCache cache;

std::size_t class_of(std::size_t size) noexcept { return (size - 1) / RecyclingAllocator::granule; }

}  // namespace
#endif

void* RecyclingAllocator::allocate(std::size_t size) {
#ifndef NOGIL_RECYCLING_DISABLED
    if (size <= max_size && size > 0) {
        std::size_t c = class_of(size);
        if (FreeBlock* b = cache.heads[c]) {
            cache.heads[c] = b->next;
            cache.bytes -= (c + 1) * granule;
            return b;
        }
        return ::operator new((c + 1) * granule);
    }
#endif
    return ::operator new(size);
}

void RecyclingAllocator::deallocate(void* p, std::size_t size) noexcept {
#ifndef NOGIL_RECYCLING_DISABLED
    if (size <= max_size && size > 0) {
        std::size_t c = class_of(size);
        if (cache.bytes < kMaxCachedBytes) {
            auto* b = static_cast<FreeBlock*>(p);
            b->next = cache.heads[c];
            cache.heads[c] = b;
            cache.bytes += (c + 1) * granule;
            return;
        }
        ::operator delete(p, (c + 1) * granule);
        return;
    }
#endif
    ::operator delete(p, size);
}

}  // namespace nogil::detail
