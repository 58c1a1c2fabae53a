#pragma once
// The static form's one call: `mpiexec -n N ./app` with nogil::mpi::init at the top of main.
//
//   int main(int argc, char** argv) {
//       nogil::mpi::init(argc, argv);   // ranks 1..N-1 serve as workers here and exit
//       nogil::mpi::MPIPoolExecutor executor;   // rank 0: its workers are those ranks
//       ...
//   }
//
// The dynamic form (a program run alone, or with mpiexec -n 1) needs no call: MPIPoolExecutor
// spawns its workers with MPI_Comm_spawn of this executable. This is mpi4py's
// `mpiexec -n N python -m mpi4py.futures app.py`.

namespace nogil::mpi {

/// Initializes MPI (MPI_THREAD_MULTIPLE; it is finalized at exit) unless the program did. Then,
/// in a job of N ≥ 2 ranks: on rank 0 it returns, and every MPIPoolExecutor of this process uses
/// ranks 1..N-1 as its workers (one executor after another: they wait between executors); on
/// every other rank it serves tasks until rank 0's program exits, then finalizes MPI and exits
/// the process (std::exit(0)) without returning. In a job of one rank it only initializes MPI.
/// Collective over MPI_COMM_WORLD: every rank must call it. argc/argv are not used (Open MPI
/// takes its settings from the environment) and may be omitted.
void init(int argc = 0, char** argv = nullptr);

/// True on rank 0 of a job started with init() in N ≥ 2 ranks (the executors use the world's
/// ranks, not spawned ones).
bool is_static() noexcept;

}  // namespace nogil::mpi
