#pragma once
// Futexes between processes: the same contract as detail/futex.hpp (see there), but without
// FUTEX_PRIVATE_FLAG, so the kernel matches waiters by the physical page and a word in shared
// memory wakes sleepers in every process that maps it.

#include <nogil/multiprocessing/detail/fd.hpp>

#include <atomic>
#include <cstdint>

namespace nogil::multiprocessing::detail {

/// Sleeps while `word == expected`, at most until `deadline`. False only when the deadline passed.
bool shared_futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept;

/// Wakes up to `count` sleepers on `word`, in any process.
void shared_futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept;

/// A process-shared mutex word (0 free, 1 locked, 2 locked with sleepers): Drepper's "mutex2".
bool shared_mutex_lock(std::atomic<std::uint32_t>& word, Deadline deadline) noexcept;
bool shared_mutex_try_lock(std::atomic<std::uint32_t>& word) noexcept;
void shared_mutex_unlock(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace nogil::multiprocessing::detail
