#pragma once
// The CPU kernels several benchmarks run, so that their figures measure the same work.

#include <cstdint>

namespace nogil_bench {

/// `rounds` xorshift rounds from `seed`: pure CPU, no memory traffic, a result the optimizer
/// cannot skip (return it into benchmark::DoNotOptimize or a checksum).
inline std::uint64_t xorshift_rounds(std::uint64_t seed, int rounds) {
    std::uint64_t x = seed | 1;
    for (int i = 0; i < rounds; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/// The CPU-bound task of the speedup figures (2,000,000 rounds: milliseconds per call).
inline std::uint64_t kernel(std::uint64_t seed) { return xorshift_rounds(seed, 2'000'000); }

/// About a microsecond of CPU per call (500 rounds): map's per-item work.
inline std::uint64_t small_kernel(std::uint64_t seed) { return xorshift_rounds(seed, 500); }

}  // namespace nogil_bench
