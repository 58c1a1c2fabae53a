// MPI's initialization and finalization as nogil::mpi uses them, nogil::mpi::init (the static
// form's one call at the top of main), and the wait between polls.

#include <nogil/mpi/detail/pool_core.hpp>
#include <nogil/mpi/init.hpp>

#include "messages.hpp"
#include "stats.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <sched.h>
#include <time.h>

namespace nogil::mpi {

namespace detail {

namespace {

struct StaticMode {
    MPI_Comm world = MPI_COMM_NULL;  // the workers' communicator (a duplicate of MPI_COMM_WORLD)
};

StaticMode& static_mode() {
    static StaticMode* mode = new StaticMode;  // never destroyed: used at exit
    return *mode;
}

bool finalize_at_exit = false;

struct Parked {
    std::mutex mutex;
    std::vector<std::pair<MPI_Comm, int>> groups;  // spawned workers waiting for an executor, and how many
};

Parked& parked() {
    static Parked* p = new Parked;  // never destroyed: used at exit
    return *p;
}

void at_exit() noexcept {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    {
        std::lock_guard lock(parked().mutex);
        for (auto& [group, size] : parked().groups) {
            for (int r = 0; r < size; ++r) MPI_Send(nullptr, 0, MPI_BYTE, r, tag_exit, group);
            MPI_Comm_disconnect(&group);
        }
        parked().groups.clear();
    }
    StaticMode& mode = static_mode();
    if (mode.world != MPI_COMM_NULL) {
        // Step "exit" of the protocol: the static workers leave serve() and finalize with us.
        int size = 0;
        MPI_Comm_size(mode.world, &size);
        for (int r = 1; r < size; ++r) MPI_Send(nullptr, 0, MPI_BYTE, r, tag_exit, mode.world);
        MPI_Comm_free(&mode.world);
    }
    if (finalize_at_exit) MPI_Finalize();
}

}  // namespace

void ensure_mpi_initialized() {
    static std::once_flag once;
    std::call_once(once, [] {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) {
            int provided = 0;
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
            finalize_at_exit = true;
        }
        std::atexit(at_exit);
    });
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (level < MPI_THREAD_SERIALIZED)
        throw std::runtime_error(
            "nogil::mpi needs MPI_THREAD_SERIALIZED at least (its manager thread and the threads waiting for "
            "results call MPI, one at a time); MPI was initialized with a lower thread level: initialize it "
            "with MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...) or let nogil::mpi do it");
}

int world_rank() {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

int world_size() {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

int default_max_workers() {
    if (const char* env = std::getenv("NOGIL_MPI_MAX_WORKERS")) {
        int n = std::atoi(env);
        if (n > 0) return n;
    }
    int* universe = nullptr;
    int flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &universe, &flag);
    if (flag && universe && *universe > world_size()) return *universe - world_size();
    return 1;
}

std::string spawn_refused_message(int code) {
    return "nogil::mpi: MPI_Comm_spawn could not start the workers (" + mpi_error_string(code) +
           "). Many clusters disable spawning: use the static form instead, nogil::mpi::init(argc, argv) at the "
           "top of main and `mpiexec -n <workers + 1> ./app` (docs/mpi.md)";
}

std::optional<MPI_Comm> take_parked_workers(int workers) {
    std::lock_guard lock(parked().mutex);
    auto& groups = parked().groups;
    for (auto it = groups.begin(); it != groups.end(); ++it) {
        if (it->second == workers) {
            MPI_Comm c = it->first;
            groups.erase(it);
            return c;
        }
    }
    return std::nullopt;
}

void park_workers(MPI_Comm intercomm, int workers) {
    std::lock_guard lock(parked().mutex);
    parked().groups.emplace_back(intercomm, workers);
}

MPI_Comm static_world() noexcept { return static_mode().world; }

bool Backoff::spinning() {
    auto now = std::chrono::steady_clock::now();
    if (!idle_since_) idle_since_ = now;
    return now - *idle_since_ < spin_;
}

void Backoff::yield() noexcept {
    // Yield rather than pause: on a machine with more runnable threads than cores, the thread we
    // are waiting for may need this very CPU (a free CPU makes it a cheap syscall).
    sched_yield();
}

void Backoff::pause() {
    if (spinning()) {
        yield();
        return;
    }
    sleep_now();
}

void Backoff::sleep_now() {
    count(counters().naps);
    timespec ts{0, static_cast<long>(std::chrono::nanoseconds(sleep_).count())};
    ::nanosleep(&ts, nullptr);
    sleep_ = std::min<std::chrono::microseconds>(sleep_ * 2, std::chrono::milliseconds(1));
}

}  // namespace detail

void init(int argc, char** argv) {
    (void)argc;
    (void)argv;
    detail::ensure_mpi_initialized();
    if (detail::world_size() < 2) return;
    auto& mode = detail::static_mode();
    if (mode.world != MPI_COMM_NULL) return;  // called twice
    detail::check(MPI_Comm_dup(MPI_COMM_WORLD, &mode.world), "MPI_Comm_dup");
    if (detail::world_rank() == 0) return;
    detail::serve(mode.world, 0, true);
    MPI_Comm_free(&mode.world);
    MPI_Finalize();
    std::fflush(nullptr);
    std::exit(0);
}

bool is_static() noexcept { return detail::static_world() != MPI_COMM_NULL; }

}  // namespace nogil::mpi
