// src/mpi/messages.hpp on two ranks (mpiexec -n 2, shared memory): the probes a sleeping rank relies
// on. Every rank runs every test (they are collective: world_main.cpp).

#include "mpi/messages.hpp"

#include <gtest/gtest.h>

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace detail = nogil::mpi::detail;

namespace {

int rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

// Two counters both ranks see without any MPI call (nothing on the receiving rank may progress
// MPI between the send and the probe under test): POSIX shared memory, named by rank 0's pid.
struct SideChannel {
    std::atomic<std::uint32_t> sent{0};
    std::atomic<std::uint32_t> seen{0};
    std::atomic<bool> failed{false};  // rank 1's probe missed a message: both ranks stop
};

SideChannel* open_side_channel(std::string& name) {
    int pid = static_cast<int>(::getpid());
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    name = "/nogil-mpi-probe-test-" + std::to_string(pid);
    int fd = -1;
    if (rank() == 0) {
        fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd >= 0 && ::ftruncate(fd, sizeof(SideChannel)) != 0) fd = -1;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() != 0) fd = ::shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) return nullptr;
    void* data = ::mmap(nullptr, sizeof(SideChannel), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) ::shm_unlink(name.c_str());
    return data == MAP_FAILED ? nullptr : static_cast<SideChannel*>(data);  // zero-filled: both counters 0
}

}  // namespace

// The probe a rank makes after announcing that it sleeps on its doorbell must see a message sent
// before it. One MPI_Iprobe does not: Open MPI's probe looks among the messages it has taken in and,
// finding none, progresses the transport, which takes the message in without matching it (the
// probe says "nothing"; the next one finds it). A worker then slept until its 20 ms nap passed
// with a task waiting, the bell rung before it slept: bursts of small tasks ran at half speed in
// some runs. Rank 0 sends, tells rank 1 through shared memory that the send returned; rank 1,
// having made no MPI call since, probes once.
TEST(MpiMessages, ProbeSeesAMessageSentBeforeIt) {
    std::string name;
    SideChannel* side = open_side_channel(name);
    ASSERT_NE(side, nullptr);
    constexpr std::uint32_t rounds = 200;
    for (std::uint32_t round = 1; round <= rounds; ++round) {
        if (rank() == 0) {
            detail::Outbox outbox;
            outbox.send(std::string(64 + round, 'x'), 1, 5, MPI_COMM_WORLD);
            side->sent.store(round, std::memory_order_release);
            while (side->seen.load(std::memory_order_acquire) != round) {
            }  // no MPI call here either: rank 1 probes with nothing else moving
            outbox.flush();
            if (side->failed.load(std::memory_order_acquire)) break;
        } else if (rank() == 1) {
            while (side->sent.load(std::memory_order_acquire) != round) {
            }
            bool waiting = detail::message_waiting(MPI_COMM_WORLD, 0);
            if (!waiting) side->failed.store(true, std::memory_order_relaxed);
            side->seen.store(round, std::memory_order_release);
            EXPECT_TRUE(waiting) << "round " << round;
            // Received whatever the probe said, so that a failure does not leave rank 0 waiting
            // for a round that never comes (a hang until CTest's timeout instead of a failure).
            std::optional<detail::Message> message;
            while (!(message = detail::receive(MPI_COMM_WORLD, 0))) {
            }
            EXPECT_EQ(message->bytes.size(), 64 + round);
            if (!waiting) break;  // rank 0 stops too: it sees seen == round, then the failed flag
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    ::munmap(side, sizeof(SideChannel));
}
