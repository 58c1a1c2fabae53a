#include "multiprocessing/detail/futex.hpp"
#include <nogil/multiprocessing/detail/shared_block.hpp>
#include <nogil/errors.hpp>

#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


std::shared_ptr<SharedBlock> SharedBlock::create(std::size_t size) {
    if (size == 0) size = 1;
    UniqueFd fd(static_cast<int>(check_os(::memfd_create("nogil-mp", MFD_CLOEXEC), "memfd_create")));
    check_os(::ftruncate(fd.get(), static_cast<off_t>(size)), "ftruncate");
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (data == MAP_FAILED) throw OSError(errno, "mmap");
    return std::shared_ptr<SharedBlock>(new SharedBlock(std::move(fd), data, size));
}

std::shared_ptr<SharedBlock> SharedBlock::map(UniqueFd fd) {
    struct stat st{};
    check_os(::fstat(fd.get(), &st), "fstat of a shared block");
    if (st.st_size <= 0) throw std::runtime_error("shared object: received an empty block");
    auto size = static_cast<std::size_t>(st.st_size);
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (data == MAP_FAILED) throw OSError(errno, "mmap");
    return std::shared_ptr<SharedBlock>(new SharedBlock(std::move(fd), data, size));
}

SharedBlock::~SharedBlock() { ::munmap(data_, size_); }

bool shared_futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (deadline && *deadline != std::chrono::steady_clock::time_point::max()) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch()).count();
        ns = ns < 0 ? 0 : ns;
        ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        tsp = &ts;
    }
    // Absolute CLOCK_MONOTONIC deadline (steady_clock): no recomputation after spurious wake-ups.
    long rc = ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, tsp,
                        nullptr, FUTEX_BITSET_MATCH_ANY);
    return !(rc == -1 && errno == ETIMEDOUT);
}

void shared_futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

bool shared_mutex_try_lock(std::atomic<std::uint32_t>& word) noexcept {
    std::uint32_t expected = 0;
    return word.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
}

bool shared_mutex_lock(std::atomic<std::uint32_t>& word, Deadline deadline) noexcept {
    std::uint32_t c = 0;
    if (word.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    if (c != 2) c = word.exchange(2, std::memory_order_acquire);
    while (c != 0) {
        if (!shared_futex_wait(word, 2, deadline)) {
            // Timed out; one last try so that a release racing the deadline is not lost.
            c = 0;
            return word.compare_exchange_strong(c, 2, std::memory_order_acquire, std::memory_order_relaxed);
        }
        c = word.exchange(2, std::memory_order_acquire);
    }
    return true;
}

void shared_mutex_unlock(std::atomic<std::uint32_t>& word) noexcept {
    if (word.fetch_sub(1, std::memory_order_release) != 1) {
        word.store(0, std::memory_order_release);
        shared_futex_wake(word, 1);
    }
}

}  // namespace nogil::multiprocessing::detail
