// The main of the MPI test programs: nogil::mpi::init first (under mpiexec -n N, ranks 1..N-1
// become workers there and never reach the tests), then GoogleTest on rank 0, or in a singleton
// whose executors spawn their workers.
#include <nogil/mpi.hpp>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    nogil::mpi::init(argc, argv);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
