// nogil::mpi::MPICommExecutor, run by CTest under mpiexec -n 3: every rank runs every test; the
// root gets the executor, the others serve inside the constructor and get nullptr.
// Follows mpi4py's test/test_futures.py, MPICommExecutorTest.
#include <nogil/mpi.hpp>

#include <gtest/gtest.h>

#include <mpi.h>

#include <set>
#include <unistd.h>
#include <vector>

namespace cf = nogil::concurrent::futures;
namespace mpi = nogil::mpi;

namespace {
int square(int x) { return x * x; }
int my_world_rank() {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}
int world_size() {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}
}  // namespace

// test_futures.py: MPICommExecutorTest.test_default / test_self
TEST(MPICommExecutor, RootGetsTheExecutorOthersServe) {
    mpi::MPICommExecutor context(MPI_COMM_WORLD, 0);
    if (my_world_rank() == 0) {
        ASSERT_NE(context.executor(), nullptr);
        EXPECT_TRUE(context);
        EXPECT_EQ(context.executor()->num_workers(), world_size() - 1);
        std::vector<cf::Future<int>> fs;
        for (int i = 0; i < 20; ++i) fs.push_back(context.executor()->submit(my_world_rank));
        std::set<int> ranks;
        for (auto& f : fs) ranks.insert(f.result());
        EXPECT_EQ(ranks.count(0), 0u);
        std::vector<int> items{1, 2, 3};
        std::vector<int> got;
        for (int r : context.executor()->map(square, items)) got.push_back(r);
        EXPECT_EQ(got, (std::vector<int>{1, 4, 9}));
    } else {
        EXPECT_EQ(context.executor(), nullptr);
        EXPECT_FALSE(context);
    }
}

// test_futures.py: MPICommExecutorTest.test_arg_root
TEST(MPICommExecutor, AnotherRoot) {
    int root = world_size() - 1;
    mpi::MPICommExecutor context(MPI_COMM_WORLD, root);
    if (my_world_rank() == root) {
        ASSERT_NE(context.executor(), nullptr);
        EXPECT_NE(context.executor()->submit(my_world_rank).result(), root);
    } else {
        EXPECT_EQ(context.executor(), nullptr);
    }
}

// test_futures.py: MPICommExecutorTest.test_arg_root_bad
TEST(MPICommExecutor, RootOutsideTheCommunicator) {
    EXPECT_THROW(mpi::MPICommExecutor(MPI_COMM_WORLD, world_size()), std::invalid_argument);
    EXPECT_THROW(mpi::MPICommExecutor(MPI_COMM_WORLD, -1), std::invalid_argument);
}

// An unused executor still releases the other ranks.
TEST(MPICommExecutor, UnusedExecutorReleasesTheRanks) {
    for (int i = 0; i < 3; ++i) {
        mpi::MPICommExecutor context(MPI_COMM_WORLD, 0);
    }
    SUCCEED();
}
