#pragma once
// Helpers shared by the attack tests (tests/abuse/): what they measure.

#include <cstddef>
#include <cstdio>
#include <malloc.h>
#include <sys/resource.h>

namespace nogil_abuse {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NOGIL_ABUSE_MALLOC_REPLACED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NOGIL_ABUSE_MALLOC_REPLACED 1
#endif
#endif

/// True where glibc's malloc is in use (not under ASan/TSan, whose allocators mallinfo2 does
/// not see).
inline constexpr bool heap_measurable =
#ifdef NOGIL_ABUSE_MALLOC_REPLACED
    false;
#else
    true;
#endif

/// Bytes glibc's allocator has handed out and not taken back, all arenas: heap in use plus
/// mmapped blocks (meaningful only when heap_measurable).
inline std::size_t heap_in_use() {
    const struct mallinfo2 m = ::mallinfo2();
    return m.uordblks + m.hblkhd;
}

/// Raises the soft RLIMIT_NOFILE to at least `wanted` within the hard limit. Returns false
/// (and prints why) if the hard limit is too low.
inline bool raise_fd_limit(rlim_t wanted) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= wanted) return true;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < wanted) {
        std::printf("RLIMIT_NOFILE hard limit %llu is below the %llu fds this test needs\n",
                    static_cast<unsigned long long>(rl.rlim_max), static_cast<unsigned long long>(wanted));
        return false;
    }
    rl.rlim_cur = wanted;
    return ::setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

}  // namespace nogil_abuse
