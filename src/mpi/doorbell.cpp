// The same-host wake-up side channel of an MPI pool (doorbell.hpp has the protocol).

#include "doorbell.hpp"

#include "multiprocessing/detail/futex.hpp"

#include <atomic>
#include <climits>
#include <fcntl.h>
#include <new>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nogil::mpi::detail {

using nogil::multiprocessing::detail::shared_futex_wait;
using nogil::multiprocessing::detail::shared_futex_wake;

std::unique_ptr<Doorbells> Doorbells::create(int slots) {
    static std::atomic<unsigned> counter{0};
    std::string name = "/nogil-mpi-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return nullptr;
    std::size_t size = sizeof(Bell) * static_cast<std::size_t>(slots);
    void* data = MAP_FAILED;
    if (::ftruncate(fd, static_cast<off_t>(size)) == 0)
        data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (data == MAP_FAILED) {
        ::shm_unlink(name.c_str());
        return nullptr;
    }
    auto* bells = static_cast<Bell*>(data);
    for (int i = 0; i < slots; ++i) new (&bells[i]) Bell{{0}, {0}, {0}};  // ftruncate's zeroes, as objects
    return std::unique_ptr<Doorbells>(new Doorbells(std::move(name), bells, slots, true));
}

std::unique_ptr<Doorbells> Doorbells::open(const std::string& name, int slot) {
    if (name.empty() || slot < 0) return nullptr;
    int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return nullptr;  // another host, or the name is gone: poll instead
    struct stat st{};
    void* data = MAP_FAILED;
    if (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= sizeof(Bell) * static_cast<std::size_t>(slot + 1))
        data = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (data == MAP_FAILED) return nullptr;
    int count = static_cast<int>(static_cast<std::size_t>(st.st_size) / sizeof(Bell));
    return std::unique_ptr<Doorbells>(new Doorbells(name, static_cast<Bell*>(data), count, false));
}

Doorbells::~Doorbells() {
    unlink();
    ::munmap(bells_, sizeof(Bell) * static_cast<std::size_t>(count_));
}

void Doorbells::unlink() noexcept {
    if (!owner_ || !linked_) return;
    ::shm_unlink(name_.c_str());
    linked_ = false;
}

void Doorbells::ring(int slot, bool force) noexcept {
    if (slot < 0 || slot >= count_) return;
    Bell& b = bell(slot);
    // A read-modify-write, not a load: ordered after the send (a full barrier), and totally ordered
    // with the sleeper's announcement (if it comes later, the sleeper's probe sees the message).
    // (A fence would do on its own, but g++ 12 refuses atomic_thread_fence under ThreadSanitizer.)
    if (b.sleepers.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    if (!force && b.readers.load(std::memory_order_seq_cst) > 0) return;  // it reads the message; leaving, it rings
    b.rung.fetch_add(1, std::memory_order_seq_cst);
    count(counters().bell_wakes);
    shared_futex_wake(b.rung, INT_MAX);
}

void Doorbells::reading(int slot, bool on) noexcept {
    if (slot < 0 || slot >= count_) return;
    if (on) {
        bell(slot).readers.fetch_add(1, std::memory_order_seq_cst);
    } else {
        bell(slot).readers.fetch_sub(1, std::memory_order_seq_cst);
    }
}

bool Doorbells::wait(Bell& b, std::uint32_t seen) noexcept {
    return shared_futex_wait(b.rung, seen, std::chrono::steady_clock::now() + nap);
}

}  // namespace nogil::mpi::detail
