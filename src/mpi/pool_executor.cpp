#include <nogil/mpi/pool_executor.hpp>

#include "messages.hpp"

#include <stdexcept>

namespace nogil::mpi {

namespace detail {

PoolSettings settings_from(MPIPoolOptions options) {
    PoolSettings s;
    s.max_workers = options.max_workers;
    s.session.initializer = options.initializer.call();
    s.session.wdir = std::move(options.wdir);
    s.session.env = std::move(options.env);
    s.session.path = std::move(options.path);
    s.command = std::move(options.command);
    if (s.max_workers && *s.max_workers <= 0) throw std::invalid_argument("max_workers must be greater than 0");
    detail::ensure_mpi_initialized();
    if (MPI_Comm world = detail::static_world(); world != MPI_COMM_NULL) {
        s.mode = detail::StartMode::world;
        s.comm = world;
        s.root = 0;
    }
    return s;
}

}  // namespace detail

MPIPoolExecutor::MPIPoolExecutor() : MPIPoolExecutor(MPIPoolOptions{}) {}

MPIPoolExecutor::MPIPoolExecutor(int max_workers) : MPIPoolExecutor(MPIPoolOptions{.max_workers = max_workers}) {}

MPIPoolExecutor::MPIPoolExecutor(MPIPoolOptions options)
    : core_(std::make_unique<detail::PoolCore>(detail::settings_from(std::move(options)))) {}

MPIPoolExecutor::MPIPoolExecutor(detail::PoolSettings settings, std::nullptr_t)
    : core_(std::make_unique<detail::PoolCore>(std::move(settings))) {}

MPIPoolExecutor::~MPIPoolExecutor() { shutdown(true, false); }

void MPIPoolExecutor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

MPIPoolExecutor& MPIPoolExecutor::bootup(bool wait) {
    core_->bootup(wait);
    return *this;
}

int MPIPoolExecutor::num_workers() const { return core_->num_workers(); }

void MPIPoolExecutor::enqueue(nogil::concurrent::futures::detail::FutureStateBase*) {
    // Executor::submit releases the item's reference when this throws.
    throw std::invalid_argument(
        "MPIPoolExecutor: this call went through Executor&, whose submit() wraps the callable in a closure that "
        "cannot be sent to another rank; call submit() on the MPIPoolExecutor itself, with a plain function or a "
        "captureless lambda");
}

}  // namespace nogil::mpi
