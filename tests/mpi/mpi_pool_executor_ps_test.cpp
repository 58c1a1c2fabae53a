// `nogil ps` of an MPI pool (include/nogil/concurrent/futures/detail/debug_offsets.hpp,
// MpiPoolDebugOffsets): the reader (tools/nogil/src/inspect/, linked in) reads this very process
// with process_vm_readv, as it reads any other, under mpiexec in both start modes
// (tests/mpi/CMakeLists.txt: one spawned worker; one static worker rank). What it shows is what
// the master knows: each worker's rank, host and (on this host) pid, the calls sent to it in the
// order it runs them, and the calls not sent yet. No worker is read.

#include <nogil/concurrent/futures.hpp>
#include <nogil/mpi.hpp>

#include "inspect/remote.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cf = nogil::concurrent::futures;
namespace mpi = nogil::mpi;
namespace inspect = nogil_tool::inspect;

namespace {

int square(int x) { return x * x; }
int worker_pid() { return static_cast<int>(::getpid()); }

// Runs on the worker: blocks until the master writes a byte into the FIFO at `path` (it stands
// for a long computation).
int wait_on_fifo(std::string path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char byte = 0;
    const auto n = ::read(fd, &byte, 1);
    ::close(fd);
    return n == 1 ? 1 : -1;
}

std::string this_host() {
    char host[HOST_NAME_MAX + 1] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
}

std::optional<inspect::ExecutorSnapshot> read_mpi_pool() {
    const inspect::ProcessSnapshot snap = inspect::read_process(::getpid());
    for (const auto& ex : snap.executors)
        if (ex.kind == "MPI pool") return ex;
    return std::nullopt;
}

// A worker stuck in a call, calls sent behind it and not sent yet: its rank, host, pid, the call
// it runs, how many were sent to it; the queue in order; shut down, still there; gone once the
// pool is.
TEST(MPIPoolExecutorPs, StuckWorkerAndQueuedCalls) {
    const std::string fifo = "/tmp/nogil_mpi_ps_" + std::to_string(::getpid());
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::vector<cf::Future<int>> futures;
    {
        mpi::MPIPoolExecutor pool(1);
        const int pid = pool.submit(worker_pid).result();
        futures.push_back(pool.submit(wait_on_fifo, fifo));
        for (int i = 0; i < 3; ++i) futures.push_back(pool.submit(square, i));

        auto ex = read_mpi_pool();
        ASSERT_TRUE(ex);
        EXPECT_TRUE(ex->mpi);
        EXPECT_EQ(ex->max_workers, 1);
        EXPECT_FALSE(ex->shut_down);
        EXPECT_EQ(ex->broken, "");
        EXPECT_FALSE(ex->torn);
        ASSERT_EQ(ex->workers.size(), 1u);
        const auto& w = ex->workers[0];
        EXPECT_GE(w.rank, 0);
        EXPECT_EQ(w.host, this_host());
        EXPECT_EQ(w.tid, pid);  // on this host: its pid
        EXPECT_FALSE(w.booting);
        EXPECT_EQ(w.call, "(anonymous namespace)::wait_on_fifo(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >)");
        // How many were sent ahead depends on the pipeline's depth (measured): sent or not, the
        // three squares are queued behind the stuck call, in order.
        EXPECT_GE(w.sent, 1u);
        EXPECT_LE(w.sent, 4u);
        EXPECT_EQ(ex->queued, 3u);
        EXPECT_EQ(ex->queued_calls, std::vector<std::string>(3, "(anonymous namespace)::square(int)"));

        pool.shutdown(false);  // the queued calls still run
        ex = read_mpi_pool();
        ASSERT_TRUE(ex);
        EXPECT_TRUE(ex->shut_down);
        EXPECT_EQ(ex->queued, 3u);

        const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // waits for the worker to open it
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::write(fd, "g", 1), 1);
        ::close(fd);
    }
    ::unlink(fifo.c_str());
    int sum = 0;
    for (auto& f : futures) sum += f.result();
    EXPECT_EQ(sum, 1 + 0 + 1 + 4);
    EXPECT_FALSE(read_mpi_pool());
}

// A pool whose calls come and go all the time, read again and again: the reads hold together
// (seqlock over the pool's mutex), and the program is not disturbed.
TEST(MPIPoolExecutorPs, ReadWhileBusy) {
    mpi::MPIPoolExecutor pool(1);
    EXPECT_EQ(pool.submit(square, 2).result(), 4);
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    std::thread submitter([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            std::vector<cf::Future<int>> batch;
            for (int i = 0; i < 64; ++i) batch.push_back(pool.submit(square, i));
            for (auto& f : batch) done.fetch_add(f.result() >= 0, std::memory_order_relaxed);
        }
    });
    for (int i = 0; i < 30; ++i) {
        auto ex = read_mpi_pool();
        EXPECT_TRUE(ex);
        if (!ex || ex->torn) continue;
        EXPECT_EQ(ex->workers.size(), 1u);
        for (const auto& w : ex->workers) EXPECT_TRUE(w.call.empty() || w.call == "(anonymous namespace)::square(int)") << w.call;
        EXPECT_LE(ex->queued, 64u);
        for (const auto& call : ex->queued_calls) EXPECT_EQ(call, "(anonymous namespace)::square(int)");
    }
    stop = true;
    submitter.join();
    EXPECT_GT(done.load(), 0);
    auto quiet = read_mpi_pool();
    ASSERT_TRUE(quiet);
    EXPECT_FALSE(quiet->torn);
    EXPECT_EQ(quiet->queued, 0u);
    ASSERT_EQ(quiet->workers.size(), 1u);
    EXPECT_EQ(quiet->workers[0].sent, 0u);
    EXPECT_EQ(quiet->workers[0].call, "");
}

}  // namespace
