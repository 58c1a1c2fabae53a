#include <nogil/mpi/comm_executor.hpp>

#include "messages.hpp"

#include <stdexcept>
#include <string>

namespace nogil::mpi {

MPICommExecutor::MPICommExecutor(MPI_Comm comm, int root, MPIPoolOptions options) {
    detail::ensure_mpi_initialized();
    int size = 0;
    int rank = 0;
    detail::check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
    detail::check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
    if (root < 0 || root >= size)
        throw std::invalid_argument("root must be a rank of the communicator (0.." + std::to_string(size - 1) + ")");
    detail::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    if (rank != root) {
        detail::serve(comm_, root, false);
        return;
    }
    detail::PoolSettings s = detail::settings_from(std::move(options));
    s.mode = detail::StartMode::comm;
    s.comm = comm_;
    s.root = root;
    executor_.reset(new MPIPoolExecutor(std::move(s), nullptr));
    // The other ranks wait in this constructor for a stop: the pool must start even if unused.
    executor_->bootup(false);
}

MPICommExecutor::~MPICommExecutor() {
    executor_.reset();
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

}  // namespace nogil::mpi
