// Counts the primes below one million on every core with a multiprocessing Pool, checks the
// count against the known value, and compares with one process. CPU-bound: separate processes,
// each with its own memory; the work crosses the boundary as (lo, hi) pairs and counts.
#include <nogil/multiprocessing.hpp>

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

namespace mp = nogil::multiprocessing;

// A plain function: it is named by its offset in this program, so every start method finds it.
long count_primes(long lo, long hi) {
    long count = 0;
    for (long n = lo < 2 ? 2 : lo; n < hi; ++n) {
        bool prime = n == 2 || n % 2 != 0;
        for (long d = 3; prime && d * d <= n; d += 2) prime = n % d != 0;
        count += prime;
    }
    return count;
}

int main() {
    // Start the fork server before this program makes any thread (optional, and cheap).
    mp::set_start_method("forkserver");

    constexpr long limit = 1'000'000;
    constexpr long expected = 78'498;  // pi(10^6)
    std::vector<std::pair<long, long>> ranges;
    for (long lo = 0; lo < limit; lo += limit / 64) ranges.emplace_back(lo, lo + limit / 64);

    auto t0 = std::chrono::steady_clock::now();
    long total = 0;
    {
        mp::Pool pool;  // cpu_count() workers; leaving the scope terminates them
        for (long c : pool.starmap(count_primes, ranges)) total += c;
    }
    auto t1 = std::chrono::steady_clock::now();
    long serial = count_primes(0, limit);
    auto t2 = std::chrono::steady_clock::now();

    using ms = std::chrono::duration<double, std::milli>;
    std::printf("primes below %ld: %ld with %d processes in %.0f ms; %ld in one process in %.0f ms\n", limit, total,
                mp::cpu_count(), ms(t1 - t0).count(), serial, ms(t2 - t1).count());
    if (total != expected || serial != expected) {
        std::fprintf(stderr, "wrong count (expected %ld)\n", expected);
        return 1;
    }
    return 0;
}
