// ProcessPoolExecutor's non-template members: argument checks (Python's ValueErrors) and the
// forwarding to ProcessPoolCore.

#include <nogil/concurrent/futures/process_pool.hpp>
#include "multiprocessing/detail/child.hpp"
#include <nogil/multiprocessing/context.hpp>
#include <nogil/multiprocessing/process.hpp>

#include <algorithm>
#include <csignal>
#include <stdexcept>

namespace nogil::concurrent::futures {

namespace {
nogil::concurrent::futures::detail::ProcessPoolSettings check(ProcessPoolOptions& options) {
    nogil::concurrent::futures::detail::ProcessPoolSettings s;
    if (options.max_workers) {
        if (*options.max_workers <= 0) throw std::invalid_argument("max_workers must be greater than 0");
        s.max_workers = *options.max_workers;
    } else {
        s.max_workers = std::max(1, multiprocessing::cpu_count());
    }
    s.start_method = options.start_method.empty() ? multiprocessing::get_start_method() : options.start_method;
    nogil::multiprocessing::detail::parse_start_method(s.start_method);  // std::invalid_argument naming start_method
    if (options.max_tasks_per_child) {
        if (*options.max_tasks_per_child < 1) throw std::invalid_argument("max_tasks_per_child must be >= 1");
        if (s.start_method == "fork")
            throw std::invalid_argument(
                "max_tasks_per_child is incompatible with the 'fork' multiprocessing start method; "
                "supply a different start_method");
        s.max_tasks_per_child = static_cast<std::uint64_t>(*options.max_tasks_per_child);
    }
    s.initializer = options.initializer.call();
    return s;
}
}  // namespace

ProcessPoolExecutor::ProcessPoolExecutor() : ProcessPoolExecutor(ProcessPoolOptions{}) {}

ProcessPoolExecutor::ProcessPoolExecutor(int max_workers)
    : ProcessPoolExecutor(ProcessPoolOptions{.max_workers = max_workers}) {}

ProcessPoolExecutor::ProcessPoolExecutor(ProcessPoolOptions options)
    : core_(std::make_unique<nogil::concurrent::futures::detail::ProcessPoolCore>(check(options))) {}

ProcessPoolExecutor::~ProcessPoolExecutor() { core_->shutdown(true, false); }

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

void ProcessPoolExecutor::terminate_workers() { core_->signal_workers(SIGTERM); }

void ProcessPoolExecutor::kill_workers() { core_->signal_workers(SIGKILL); }

int ProcessPoolExecutor::max_workers() const noexcept { return core_->max_workers(); }

std::vector<int> ProcessPoolExecutor::worker_pids() const { return core_->worker_pids(); }

void ProcessPoolExecutor::enqueue(nogil::concurrent::futures::detail::FutureStateBase*) {
    throw std::invalid_argument(
        "ProcessPoolExecutor: a call submitted through Executor& is a closure and cannot be sent to another "
        "process; call ProcessPoolExecutor::submit (a plain function and serializable arguments)");
}

}  // namespace nogil::concurrent::futures
