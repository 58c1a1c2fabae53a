#pragma once
// How an MPI pool's ranks waited (per process, relaxed counters, always on: one increment per
// sleep): doorbell sleeps, those that ended because the nap passed rather than by a ring, and
// those that then found a message waiting (a lost wake-up: the bug that made bursts of small
// tasks bimodal, see message_waiting() in messages.cpp); sleeps between polls; result() waits that
// polled for their answer and gave up. NOGIL_MPI_STATS=1 prints them on stderr when a worker stops
// and when a pool's manager ends.

#include <atomic>
#include <cstdint>

namespace nogil::mpi::detail {

struct Counters {
    std::atomic<std::uint64_t> bell_sleeps{0};      // futex waits on a doorbell (the probe found nothing)
    std::atomic<std::uint64_t> bell_timeouts{0};    // ... that ended because the nap passed, not by a ring
    std::atomic<std::uint64_t> bell_late{0};        // ... and found a message there: a lost wake-up (over
                                                    // TCP, now and then, a message the kernel delivered late)
    std::atomic<std::uint64_t> bell_wakes{0};       // rings that found a sleeper (a futex wake)
    std::atomic<std::uint64_t> naps{0};             // sleeps between polls (no doorbell, or a send pending)
    std::atomic<std::uint64_t> helps{0};            // result() waits that polled for answers
    std::atomic<std::uint64_t> helps_exhausted{0};  // ... until their budget ran out (then the thread slept)
};

/// This process's counters.
Counters& counters() noexcept;
inline void count(std::atomic<std::uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }

/// Prints `who` and the counters on stderr when NOGIL_MPI_STATS is set.
void print_stats(const char* who) noexcept;

}  // namespace nogil::mpi::detail
