// Counts the primes below two million on the ranks of an MPI job with MPIPoolExecutor, and checks
// the count. The same program runs both ways (docs/mpi.md):
//   ./example_mpi_primes                      alone: the executor spawns its workers (dynamic)
//   mpiexec -n 5 ./example_mpi_primes         rank 0 runs main, ranks 1..4 are the workers (static)
//   mpiexec --hostfile hosts -n 16 ./example_mpi_primes    the same across machines
#include <nogil/mpi.hpp>

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

// A plain function: it is named by its offset in this program, which every rank runs.
long count_primes(long lo, long hi) {
    long count = 0;
    for (long n = lo < 2 ? 2 : lo; n < hi; ++n) {
        bool prime = n == 2 || n % 2 != 0;
        for (long d = 3; prime && d * d <= n; d += 2) prime = n % d != 0;
        count += prime;
    }
    return count;
}

int main(int argc, char** argv) {
    nogil::mpi::init(argc, argv);  // under mpiexec -n N, ranks 1..N-1 serve here and never return

    constexpr long limit = 2'000'000;
    constexpr long expected = 148'933;  // pi(2 * 10^6)
    std::vector<long> lows, highs;
    for (long lo = 0; lo < limit; lo += 50'000) {
        lows.push_back(lo);
        highs.push_back(lo + 50'000);
    }

    auto start = std::chrono::steady_clock::now();
    long total = 0;
    int workers = 0;
    {
        nogil::mpi::MPIPoolExecutor executor;  // as many workers as the run gives (at least 1)
        workers = executor.num_workers();
        for (long count : executor.map(count_primes, lows, highs, {.chunksize = 2})) total += count;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::printf("%ld primes below %ld on %d MPI worker%s (%s) in %.3f s\n", total, limit, workers,
                workers == 1 ? "" : "s", nogil::mpi::is_static() ? "static: mpiexec ranks" : "spawned", seconds);
    if (total != expected) {
        std::printf("wrong count: expected %ld\n", expected);
        return 1;
    }
    return 0;
}
