#include "multiprocessing/detail/child.hpp"
#include <nogil/multiprocessing/pool.hpp>

namespace nogil::multiprocessing {

Pool::Pool(const PoolOptions& options) {
    if (options.maxtasksperchild && *options.maxtasksperchild == 0)
        throw std::invalid_argument("Pool: maxtasksperchild must be a positive int or None");
    int processes = options.processes.value_or(cpu_count());
    if (!options.start_method.empty()) detail::parse_start_method(options.start_method);
    core_ = std::make_unique<detail::PoolCore>(processes, options.initializer.call(),
                                               options.maxtasksperchild.value_or(0),
                                               options.start_method);
}

}  // namespace nogil::multiprocessing
