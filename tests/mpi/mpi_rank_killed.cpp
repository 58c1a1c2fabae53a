// A worker rank dies by SIGKILL while it runs a task (issue 15, "Failures"). Run by CTest under
// mpiexec in both start modes: the caller must not hang. What Open MPI 4.1 does with the job is
// checked by the test's pass/fail expressions (tests/mpi/CMakeLists.txt): this program prints
// what its future gave, if it lives long enough to see it.
#include <nogil/mpi.hpp>

#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace {
int die(int) {
    std::raise(SIGKILL);
    return 0;
}
int square(int x) { return x * x; }
}  // namespace

int main(int argc, char** argv) {
    nogil::mpi::init(argc, argv);
    nogil::mpi::MPIPoolExecutor executor({.max_workers = 2});
    std::printf("warm: %d\n", executor.submit(square, 3).result());
    std::fflush(stdout);
    auto f = executor.submit(die, 0);
    try {
        f.result();
        std::printf("no exception\n");
    } catch (const nogil::BrokenExecutor& e) {
        std::printf("BrokenExecutor: %s\n", e.what());
    } catch (const std::exception& e) {
        std::printf("other exception: %s\n", e.what());
    }
    std::fflush(stdout);
    return 3;
}
