// Per-process wait counters of an MPI pool's ranks (stats.hpp).

#include "stats.hpp"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace nogil::mpi::detail {

Counters& counters() noexcept {
    static Counters c;
    return c;
}

void print_stats(const char* who) noexcept {
    static const bool enabled = std::getenv("NOGIL_MPI_STATS") != nullptr;
    if (!enabled) return;
    const Counters& c = counters();
    auto get = [](const std::atomic<std::uint64_t>& n) { return static_cast<unsigned long long>(n.load(std::memory_order_relaxed)); };
    std::fprintf(stderr,
                 "nogil::mpi stats, %s (pid %d): bell sleeps %llu, timed out %llu (a message waiting: %llu), "
                 "wakes sent %llu; naps %llu; helps %llu, exhausted %llu\n",
                 who, static_cast<int>(::getpid()), get(c.bell_sleeps), get(c.bell_timeouts), get(c.bell_late),
                 get(c.bell_wakes), get(c.naps), get(c.helps), get(c.helps_exhausted));
}

}  // namespace nogil::mpi::detail
