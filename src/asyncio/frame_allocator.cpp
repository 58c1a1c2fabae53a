#include <nogil/detail/asyncio_frame_allocator.hpp>

#include <cstdlib>
#include <new>
#include <utility>

namespace nogil::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool recycle = false;  // keep ASan's use-after-free detection for frames
#else
constexpr bool recycle = true;
#endif

constexpr std::size_t granule = 16;
constexpr std::size_t classes = 32;                 // blocks up to 512 bytes are recycled
constexpr std::size_t max_cached_bytes = 64u << 20;  // per thread, so a burst does not pin memory forever

struct FreeBlock {
    FreeBlock* next;
};

// One per thread. Freed blocks go to the freeing thread's list; that is fine because every
// block is an ordinary malloc block, whichever thread allocated it.
struct FreeLists {
    FreeBlock* head[classes] = {};
    std::size_t cached_bytes = 0;
    ~FreeLists() {
        for (auto*& h : head)
            while (h) std::free(std::exchange(h, h->next));
    }
};

thread_local FreeLists lists;

inline std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }

}  // namespace

void* frame_allocate(std::size_t size) {
    if (size == 0) size = 1;
    std::size_t c = class_of(size);
    if (recycle && c < classes) {
        FreeLists& l = lists;
        if (FreeBlock* b = l.head[c]) {
            l.head[c] = b->next;
            l.cached_bytes -= (c + 1) * granule;
            return b;
        }
        size = (c + 1) * granule;
    }
    void* p = std::malloc(size);
    if (!p) throw std::bad_alloc();
    return p;
}

void frame_deallocate(void* block, std::size_t size) noexcept {
    if (!block) return;
    if (size == 0) size = 1;
    std::size_t c = class_of(size);
    if (recycle && c < classes) {
        FreeLists& l = lists;
        if (l.cached_bytes + (c + 1) * granule <= max_cached_bytes) {
            auto* b = static_cast<FreeBlock*>(block);
            b->next = l.head[c];
            l.head[c] = b;
            l.cached_bytes += (c + 1) * granule;
            return;
        }
    }
    std::free(block);
}

}  // namespace nogil::detail
