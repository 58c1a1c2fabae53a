#pragma once
// mpi4py.futures.MPICommExecutor: an executor over the ranks of a communicator the program
// already has, built collectively.
//
//   nogil::mpi::MPICommExecutor context(MPI_COMM_WORLD, 0);
//   if (auto* executor = context.executor()) {   // the root rank
//       for (long r : executor->map(work, items)) use(r);
//   }   // the other ranks served tasks inside the constructor and get nullptr
//
// Collective: every rank of `comm` constructs one (and MPI must be initialized, with
// MPI_THREAD_SERIALIZED at least, or nogil::mpi initializes it). On the root, executor() is an
// MPIPoolExecutor whose workers are the other ranks; destroying the context (or shutting the
// executor down) releases them. On every other rank the constructor serves tasks until the root
// shuts the executor down, then returns, and executor() is nullptr (mpi4py's `None`).

#include <nogil/mpi/pool_executor.hpp>

#include <mpi.h>

#include <memory>

namespace nogil::mpi {

class MPICommExecutor {
public:
    /// Collective over `comm`. Throws std::invalid_argument for a root outside the communicator.
    explicit MPICommExecutor(MPI_Comm comm = MPI_COMM_WORLD, int root = 0, MPIPoolOptions options = {});
    /// On the root: shuts the executor down (wait = true) and frees the duplicated communicator.
    ~MPICommExecutor();
    MPICommExecutor(const MPICommExecutor&) = delete;
    MPICommExecutor& operator=(const MPICommExecutor&) = delete;

    /// The executor on the root, nullptr on the other ranks.
    MPIPoolExecutor* executor() noexcept { return executor_.get(); }
    explicit operator bool() const noexcept { return executor_ != nullptr; }

private:
    MPI_Comm comm_ = MPI_COMM_NULL;  // our duplicate of the user's communicator
    std::unique_ptr<MPIPoolExecutor> executor_;
};

}  // namespace nogil::mpi
