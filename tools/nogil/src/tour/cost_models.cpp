// The cost of one unit of each model: what starting one, or sending one trivial call through
// one, takes.
#include "measure.hpp"
#include "models.hpp"

#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/threading.hpp>
#ifdef NOGIL_TOUR_HAS_MPI
#include <nogil/mpi.hpp>
#endif

#include <fmt/format.h>

#include <cstdlib>
#include <functional>
#include <string>

namespace nogil_tool {

namespace asyncio = nogil::asyncio;
namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
namespace threading = nogil::threading;

namespace {

int trivial(int x) { return x + 1; }

void check_count(const char* what, std::uint64_t got, std::uint64_t expected) {
    if (got != expected) throw std::runtime_error(fmt::format("{}: {} units did their work, expected {}", what, got, expected));
}

// Seconds for `units` calls of call(i) (which must return trivial(i)), one after the other; the
// first call, which starts the worker, is not timed.
double round_trips(const char* what, int units, const std::function<int(int)>& call) {
    call(0);
    std::uint64_t sum = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < units; ++i) sum += static_cast<std::uint64_t>(call(i));
    const double seconds = seconds_since(start);
    check_count(what, sum, static_cast<std::uint64_t>(units) * (units + 1) / 2);
    return seconds;
}

// Python: with ThreadPoolExecutor(1) as ex: ex.submit(trivial, i).result() ...
double thread_pool_round_trip(int units) {
    cf::ThreadPoolExecutor executor(1);
    return round_trips("ThreadPoolExecutor round trip", units, [&](int i) { return executor.submit(trivial, i).result(); });
}

// Python: with multiprocessing.Pool(1) as pool: pool.apply(trivial, (i,)) ...
double process_pool_round_trip(int units) {
    mp::Pool pool(1);
    return round_trips("multiprocessing.Pool round trip", units, [&](int i) { return pool.apply(trivial, i); });
}

// Python: with ProcessPoolExecutor(1) as ex: ex.submit(trivial, i).result() ...
double process_pool_executor_round_trip(int units) {
    cf::ProcessPoolExecutor executor(1);
    return round_trips("ProcessPoolExecutor round trip", units, [&](int i) { return executor.submit(trivial, i).result(); });
}

double thread_start_join(int units) {
    std::uint64_t ran = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < units; ++i) {
        threading::Thread t([&ran] { ++ran; });  // join() orders the increment before the next start
        t.start();
        t.join();
    }
    const double seconds = seconds_since(start);
    check_count("threading.Thread start+join", ran, static_cast<std::uint64_t>(units));
    return seconds;
}

void process_unit(int) {}

double process_start_join(int units) {
    std::uint64_t clean = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < units; ++i) {
        mp::Process p(process_unit, i);
        p.start();
        p.join();
        clean += p.exitcode() == 0;
    }
    const double seconds = seconds_since(start);
    check_count("multiprocessing.Process start+join (exit code 0)", clean, static_cast<std::uint64_t>(units));
    return seconds;
}

asyncio::Coroutine<int> trivial_task(int x) { co_return x + 1; }

asyncio::Coroutine<double> create_and_await(int units) {
    std::uint64_t sum = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < units; ++i) {
        auto task = asyncio::create_task(trivial_task(i));
        sum += static_cast<std::uint64_t>(co_await task);
    }
    const double seconds = seconds_since(start);
    check_count("asyncio task create+await", sum, static_cast<std::uint64_t>(units) * (units + 1) / 2);
    co_return seconds;
}

// create_task(trivial()) then await it, one after the other, inside one asyncio.run.
double task_create_await(int units) { return asyncio::run(create_and_await(units)); }

asyncio::Coroutine<double> loop_turns(int units) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < units; ++i) co_await asyncio::sleep(0);
    co_return seconds_since(start);
}

// asyncio.sleep(0): the task yields to the loop and is resumed on its next turn.
double loop_turn(int units) { return asyncio::run(loop_turns(units)); }

#ifdef NOGIL_TOUR_HAS_MPI
// Python: with MPIPoolExecutor(1) as ex: ex.submit(trivial, i).result() ... (mpi4py.futures)
double mpi_pool_executor_round_trip(int units) {
    pin_open_mpi_to_loopback();
    nogil::mpi::MPIPoolExecutor executor(1);
    executor.bootup();
    return round_trips("MPIPoolExecutor round trip", units, [&](int i) { return executor.submit(trivial, i).result(); });
}
#endif

}  // namespace

void pin_open_mpi_to_loopback() {
    // Only where the user did not choose: loopback traffic only, as root in a container, more
    // ranks than cores. A real cluster sets its own interfaces (docs/mpi.md).
    for (const char* setting : {"OMPI_MCA_btl_tcp_if_include=lo", "OMPI_MCA_oob_tcp_if_include=lo",
                                "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                                "OMPI_MCA_rmaps_base_oversubscribe=1"}) {
        std::string s(setting);
        auto eq = s.find('=');
        ::setenv(s.substr(0, eq).c_str(), s.substr(eq + 1).c_str(), 0);
    }
}

std::vector<CostModel> cost_models() {
    return {
        {"threading.Thread start+join", "thread", thread_start_join},
        {"multiprocessing.Process start+join", "process", process_start_join, true},
        {"asyncio task create+await", "coroutine", task_create_await},
        {"asyncio.sleep(0) loop turn", "coroutine", loop_turn},
        {"ThreadPoolExecutor round trip", "thread", thread_pool_round_trip},
        {"multiprocessing.Pool round trip", "process", process_pool_round_trip},
        {"ProcessPoolExecutor round trip", "process", process_pool_executor_round_trip},
#ifdef NOGIL_TOUR_HAS_MPI
        {"MPIPoolExecutor round trip (many machines: local ranks)", "process", mpi_pool_executor_round_trip},
#endif
    };
}

}  // namespace nogil_tool
