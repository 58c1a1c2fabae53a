// Built against the installed nogil with find_package(nogil CONFIG REQUIRED COMPONENTS mpi).
#include <nogil/mpi.hpp>

#include <cstdio>

int square(int x) { return x * x; }

int main(int argc, char** argv) {
    nogil::mpi::init(argc, argv);
    nogil::mpi::MPIPoolExecutor executor(1);
    if (executor.submit(square, 7).result() == 49) std::puts("consumer mpi ok");
}
