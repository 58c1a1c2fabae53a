#include "sections.hpp"

#include "child.hpp"
#include "measure.hpp"
#include "models.hpp"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <stdexcept>

namespace nogil_tool {

namespace {

Section& section(Report& report, const std::string& id) {
    if (Section* s = report.find(id)) return *s;
    throw std::logic_error("no section " + id);
}

std::string hex(std::uint64_t value) { return fmt::format("{:#018x}", value); }

void add_cpu_jobs(const Sizes& sizes, std::vector<Job>& jobs) {
    const CpuWork work{sizes.cpu_tasks, sizes.cpu_steps};
    for (const CpuModel& model : cpu_models()) {
        const std::vector<int> ns = model.parallel ? sizes.workers : std::vector<int>{1};
        for (int n : ns) {
            auto checksum = std::make_shared<SameResult>(fmt::format("cpu: {} n={}", model.name, n));
            jobs.push_back({fmt::format("cpu: {} n={}", model.name, n),
                            [=] {
                                std::uint64_t result = 0;
                                const double seconds = time_run([&] { return model.run(work, n); }, result);
                                checksum->check(result);
                                return seconds;
                            },
                            [=](Report& report, const std::vector<double>& seconds) {
                                section(report, "cpu").rows.push_back({"nogil", model.name, model.kind, n,
                                                                       hex(checksum->value()),
                                                                       {make_figure("wall", "s", seconds)}});
                            }});
        }
    }
}

void add_io_jobs(const Sizes& sizes, std::vector<Job>& jobs) {
    for (const IoModel& model : io_models()) {
        const bool serial = model.kind == "serial";
        const IoWork work{serial ? sizes.io_serial_ops : sizes.io_ops,
                          std::chrono::duration<double>(sizes.io_delay_ms / 1000), sizes.io_workers};
        const int in_flight = serial ? 1 : model.uses_workers ? std::min(work.workers, work.ops) : work.ops;
        jobs.push_back({fmt::format("io: {} ({} waits)", model.name, work.ops),
                        [=] {
                            std::uint64_t done = 0;
                            const double seconds = time_run([&] { return model.run(work); }, done);
                            if (done != static_cast<std::uint64_t>(work.ops))
                                throw std::runtime_error(fmt::format("io: {} completed {} of {} waits", model.name, done, work.ops));
                            return seconds;
                        },
                        [=](Report& report, const std::vector<double>& seconds) {
                            const Figure wall = make_figure("wall", "s", seconds);
                            const double ops = work.ops;
                            section(report, "io").rows.push_back(
                                {"nogil", model.name, model.kind, in_flight, "",
                                 {wall, derive_figure(wall, "throughput", "ops/s", [ops](double t) { return ops / t; })}});
                        }});
    }
}

void add_memory_jobs(const Sizes& sizes, std::vector<Job>& jobs) {
    for (const MemoryModel& model : memory_models()) {
        const int n = model.kind == "thread" ? sizes.memory_threads : sizes.memory_tasks;
        jobs.push_back({fmt::format("memory: {} x {}", model.name, n),
                        [=] {
                            std::string out;
                            const int status = run_child({self_path(), "_probe-memory", model.name, std::to_string(n)},
                                                         [&](const std::string& line) { out = line; });
                            if (status != 0 || out.empty())
                                throw std::runtime_error(fmt::format("memory probe {} exited with {}", model.name, status));
                            return std::stod(out) / n;
                        },
                        [=](Report& report, const std::vector<double>& per_wait) {
                            section(report, "memory").rows.push_back(
                                {"nogil", model.name, model.kind, n, "", {make_figure("bytes_per_wait", "bytes", per_wait)}});
                        },
                        false});
    }
}

void add_cost_jobs(const Sizes& sizes, std::vector<Job>& jobs) {
    for (const CostModel& model : cost_models()) {
        const int units = model.starts_processes ? sizes.cost_process_units : sizes.cost_units;
        jobs.push_back({fmt::format("cost: {} x {}", model.name, units), [=] { return model.run(units) / units; },
                        [=](Report& report, const std::vector<double>& per_unit) {
                            section(report, "cost").rows.push_back(
                                {"nogil", model.name, model.kind, 0, "", {make_figure("per_unit", "s", per_unit)}});
                        }});
    }
}

}  // namespace

std::vector<Section> make_sections(const Sizes& s) {
    return {
        {"cpu", "CPU-bound work",
         "The same integer kernel, run serially and on each model. The claim: Python threads cannot run it in\n"
         "parallel because of the GIL, processes can (at a cost), coroutines share one thread. With no global\n"
         "lock, nogil's threads should approach n x on n cores. Pool start-up and shutdown are inside the time.",
         fmt::format("{} calls x {} xorshift steps (Python: {} steps); n = {}", s.cpu_tasks, s.cpu_steps,
                     s.py_cpu_steps, fmt::join(s.workers, ",")),
         {}},
        {"io", "I/O-bound work",
         "Operations that each wait on a timer (sleep_for on threads, asyncio.sleep on coroutines), standing in for\n"
         "a network reply. Waiting needs no CPU, so even Python's threads overlap: a pool is limited by its thread\n"
         "count, coroutines all wait at once on one thread.",
         fmt::format("{} waits of {} ms ({} serially); thread pools of {}", s.io_ops, s.io_delay_ms, s.io_serial_ops,
                     s.io_workers),
         {}},
        {"memory", "Memory per in-flight wait",
         "Growth of the resident set while N units are blocked at once, divided by N, each run in a fresh process.\n"
         "A thread costs stack pages and bookkeeping; a coroutine task costs its frame: why coroutines are the\n"
         "light way to wait on many things at once.",
         fmt::format("{} threads, {} coroutine tasks", s.memory_threads, s.memory_tasks), {}},
        {"cost", "Cost of one unit",
         "Start and finish one thread, process or coroutine task, or send one trivial call through an executor or\n"
         "the event loop and get the answer back. This is the overhead to weigh against the work in each task.",
         fmt::format("{} units each ({} for process starts)", s.cost_units, s.cost_process_units), {}},
    };
}

std::vector<Job> nogil_jobs(const Sizes& sizes) {
    std::vector<Job> jobs;
    add_cpu_jobs(sizes, jobs);
    add_io_jobs(sizes, jobs);
    add_memory_jobs(sizes, jobs);
    add_cost_jobs(sizes, jobs);
    return jobs;
}

void add_derived_figures(Report& report) {
    if (Section* cpu = report.find("cpu")) {
        std::map<std::string, double> serial;  // runtime -> median serial time
        for (const Row& row : cpu->rows)
            if (row.kind == "serial")
                if (const Figure* wall = row.find("wall")) serial[row.runtime] = wall->median;
        for (Row& row : cpu->rows) {
            const Figure* wall = row.find("wall");
            auto base = serial.find(row.runtime);
            if (!wall || base == serial.end() || row.find("speedup")) continue;
            const double t = base->second;
            row.figures.push_back(derive_figure(*wall, "speedup", "x", [t](double s) { return t / s; }));
        }
    }
}

std::vector<std::string> checksum_mismatches(const Report& report) {
    std::vector<std::string> out;
    const Section* cpu = nullptr;
    for (const auto& s : report.sections)
        if (s.id == "cpu") cpu = &s;
    if (!cpu) return out;
    std::map<std::string, std::string> serial;
    for (const Row& row : cpu->rows)
        if (row.kind == "serial") serial[row.runtime] = row.checksum;
    for (const Row& row : cpu->rows) {
        auto it = serial.find(row.runtime);
        if (it == serial.end() || row.checksum != it->second)
            out.push_back(fmt::format("{} {} n={}: checksum {} differs from serial {}", row.runtime, row.model,
                                      row.workers, row.checksum, it == serial.end() ? "(none)" : it->second));
    }
    return out;
}

}  // namespace nogil_tool
