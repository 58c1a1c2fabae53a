#pragma once
// mpi4py.futures for nogil: MPIPoolExecutor and MPICommExecutor (target nogil::mpi, package
// component `mpi`). See docs/mpi.md.

#include <nogil/mpi/comm_executor.hpp>
#include <nogil/mpi/init.hpp>
#include <nogil/mpi/pool_executor.hpp>
