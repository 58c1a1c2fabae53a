// The main of the MPI test programs whose every rank runs the tests (collective ones, without
// nogil::mpi::init): MPI first, then GoogleTest on every rank.
#include <gtest/gtest.h>

#include <mpi.h>

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    MPI_Finalize();
    return rc;
}
