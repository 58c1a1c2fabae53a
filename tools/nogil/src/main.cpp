// nogil: the project's command-line program. `nogil tour` measures, on this machine, the claims
// Python programmers learn about concurrency (the GIL, threads, processes, coroutines), with
// nogil's models and, when python3 is here, with CPython's beside them.
#include "inspect/ps.hpp"
#include "tour/tour.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <vector>
#include <thread>

int main(int argc, char** argv) {
    CLI::App app{"nogil - Python's concurrency stack (threading, queue, concurrent.futures, asyncio,\n"
                 "multiprocessing) as a C++20 library, without a global lock.",
                 "nogil"};
    app.set_version_flag("--version", std::string("nogil ") + NOGIL_VERSION);
    app.require_subcommand(1);

    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    nogil_tool::TourOptions tour;
    bool quick = false;
    nogil_tool::Sizes given;  // the size flags as parsed
    auto* tour_cmd = app.add_subcommand(
        "tour", "Measure CPU-bound, I/O-bound and per-unit costs of each concurrency model, on nogil and on Python.");
    tour_cmd->add_flag("--quick", quick, "Smaller sizes: finishes in about 20 s");
    tour_cmd->add_flag("--no-python", tour.no_python, "Skip the Python side (run by default when python3 is on PATH)");
    tour_cmd->add_option("--python", tour.python, "The Python interpreter for the Python side")->capture_default_str();
    tour_cmd->add_option("--json", tour.json_path, "Write every figure, with units and the machine's description, as JSON");
    tour_cmd->add_option("--chart", tour.chart_path, "Write an SVG chart of the speedups and costs");
    // Size flags: each overrides the --quick or full default only when given.
    auto* sizes = tour_cmd->add_option_group("sizes", "Workload sizes (defaults depend on --quick)");
    std::vector<std::function<void(nogil_tool::Sizes&)>> overrides;
    // Each size is bounded (a value past the bound would overflow a count or run for days) and
    // finite (--io-delay-ms inf or nan would hang the asyncio model): CLI11 rejects anything else
    // with a message naming the flag, before the tour starts.
    const CLI::Validator finite(
        [](std::string& input) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(input.c_str(), &end);
            return std::isfinite(v) ? std::string() : "Value " + input + " is not a finite number";
        },
        "FINITE");
    auto size_flag = [&](const char* flag, auto nogil_tool::Sizes::*member, const char* help, const char* defaults,
                         auto max) {
        CLI::Option* option = sizes->add_option(flag, given.*member, help)->default_str(defaults);
        option->check(finite)->check(CLI::Range(decltype(max){0}, max));
        overrides.push_back([=, &given](nogil_tool::Sizes& s) {
            if (option->count() > 0) s.*member = given.*member;
        });
        return option;
    };
    using S = nogil_tool::Sizes;
    size_flag("--repeat", &S::repeat, "Measured runs per figure, after one warm-up", "5, quick 3", 1000);
    size_flag("--workers", &S::workers, "CPU section: the n values (comma-separated)", "1..cores", 4096)->delimiter(',');
    size_flag("--cpu-tasks", &S::cpu_tasks, "CPU section: kernel calls per run", "32, quick 16", 1'000'000);
    size_flag("--cpu-steps", &S::cpu_steps, "CPU section: xorshift steps per call (nogil)", "4000000, quick 1500000", std::int64_t{1'000'000'000'000});
    size_flag("--py-cpu-steps", &S::py_cpu_steps, "CPU section: xorshift steps per call (Python)", "30000, quick 15000", std::int64_t{10'000'000'000});
    size_flag("--io-ops", &S::io_ops, "I/O section: waits per concurrent run", "1000, quick 200", 1'000'000);
    size_flag("--io-serial-ops", &S::io_serial_ops, "I/O section: waits per serial run", "20, quick 10", 100'000);
    size_flag("--io-workers", &S::io_workers, "I/O section: threads of the pool", "100, quick 50", 10000);
    size_flag("--io-delay-ms", &S::io_delay_ms, "I/O section: each wait, in milliseconds", "10, quick 5", 60000.0);
    size_flag("--memory-threads", &S::memory_threads, "Memory section: threads blocked at once", "1000, quick 200", 100'000);
    size_flag("--memory-tasks", &S::memory_tasks, "Memory section: coroutine tasks blocked at once", "10000, quick 2000", 10'000'000);
    size_flag("--cost-units", &S::cost_units, "Cost section: units per figure", "2000, quick 500", 10'000'000);
    size_flag("--cost-process-units", &S::cost_process_units, "Cost section: processes per figure", "20, quick 5", 10000);

    // Runs one memory model in a fresh process for the tour; not for users.
    std::string probe_model;
    int probe_n = 0;
    auto* probe = app.add_subcommand("_probe-memory", "");
    probe->group("");
    probe->add_option("model", probe_model)->required();
    probe->add_option("n", probe_n)->required();

    // `nogil ps PID` / `nogil pstree PID`: Python 3.14's `python -m asyncio ps|pstree PID`.
    const CLI::Validator pid_check(
        [](std::string& input) -> std::string {
            char* end = nullptr;
            const long v = std::strtol(input.c_str(), &end, 10);
            return !input.empty() && *end == '\0' && v > 0 && v <= 0x3fffffff ? std::string()
                                                                             : "PID must be a positive integer, not '" + input + "'";
        },
        "PID");
    int ps_pid = 0;
    std::string ps_format = "table";
    auto* ps = app.add_subcommand("ps", "Show the pending asyncio tasks of a running nogil program, as a table, "
                                        "then its thread and process pools: workers, their calls, queued calls "
                                        "(read from outside: works on a blocked or deadlocked loop)");
    ps->add_option("pid", ps_pid, "The process to inspect")->required()->check(pid_check);
    ps->add_option("--format", ps_format, "table (Python's layout) or csv (Python's table, then the pools' after an empty line)")->check(CLI::IsMember({"table", "csv"}))->capture_default_str();
    int pstree_pid = 0;
    auto* pstree = app.add_subcommand("pstree", "Show the await tree of a running nogil program's asyncio tasks "
                                                "(an await cycle is reported, with its tasks)");
    pstree->add_option("pid", pstree_pid, "The process to inspect")->required()->check(pid_check);

    CLI11_PARSE(app, argc, argv);

    try {
        if (*probe) return nogil_tool::probe_memory(probe_model, probe_n);
        if (*ps) return nogil_tool::inspect::ps_command(ps_pid, ps_format);
        if (*pstree) return nogil_tool::inspect::pstree_command(pstree_pid);

        tour.quick = quick;
        tour.sizes = nogil_tool::default_sizes(quick, cores);
        for (auto& apply : overrides) apply(tour.sizes);
        return nogil_tool::run_tour(tour);
    } catch (const std::exception& e) {
        fmt::print(stderr, "nogil: error: {}\n", e.what());
        return 1;
    }
}
