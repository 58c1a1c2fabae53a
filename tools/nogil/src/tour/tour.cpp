#include "tour.hpp"

#include "chart.hpp"
#include "machine.hpp"
#include "models.hpp"
#include "progress.hpp"
#include "python_side.hpp"
#include "sections.hpp"
#include "table.hpp"

#include <cereal/archives/json.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace nogil_tool {

Sizes default_sizes(bool quick, int cores) {
    Sizes s;
    // n = 1 … cores; on a big machine, powers of two and the core count (enough to draw the curve).
    for (int n = 1; n <= cores; n = (cores <= 8 ? n + 1 : n * 2)) s.workers.push_back(n);
    if (s.workers.back() != cores) s.workers.push_back(cores);
    if (quick) {
        s.repeat = 3;
        s.cpu_tasks = 16;
        s.cpu_steps = 1'500'000;
        s.py_cpu_steps = 15'000;
        s.io_ops = 200;
        s.io_serial_ops = 10;
        s.io_workers = 50;
        s.io_delay_ms = 5;
        s.memory_threads = 200;
        s.memory_tasks = 2000;
        s.cost_units = 500;
        s.cost_process_units = 5;
    }
    return s;
}

namespace {

// Opens `path` for writing, creating its folder if needed.
std::ofstream open_output(const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    return std::ofstream(path);
}

void write_json(Report& report, const std::string& path) {  // cereal serializes through non-const members
    std::ofstream out = open_output(path);
    if (!out) throw std::runtime_error("cannot write " + path);
    {
        cereal::JSONOutputArchive archive(out, cereal::JSONOutputArchive::Options(17, cereal::JSONOutputArchive::Options::IndentChar::space, 2));
        report.serialize(archive);
    }
    out << '\n';
    if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text(const std::string& text, const std::string& path) {
    std::ofstream out = open_output(path);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

// Fails now, not after minutes of measuring, if `path` cannot be written: creates its folder,
// opens it for appending (an existing file is left as it is) and removes it again if it was
// not there before.
void check_writable(const std::string& path, const char* flag) {
    if (path.empty()) return;
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw std::invalid_argument(fmt::format("{} {}: is a folder", flag, path));
    const bool existed = fs::exists(path, ec);
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && (fs::create_directories(parent, ec), ec))
        throw std::invalid_argument(fmt::format("{} {}: cannot create its folder: {}", flag, path, ec.message()));
    errno = 0;
    const bool ok = static_cast<bool>(std::ofstream(path, std::ios::app));
    const int err = errno;
    if (!ok) throw std::invalid_argument(fmt::format("{} {}: cannot write: {}", flag, path, std::strerror(err ? err : EACCES)));
    if (!existed) fs::remove(path, ec);
}

void check_sizes(const Sizes& s) {
    auto positive = [](const char* flag, double v) {
        if (!(v > 0)) throw std::invalid_argument(fmt::format("{} must be > 0", flag));
    };
    positive("--repeat", s.repeat);
    positive("--cpu-tasks", s.cpu_tasks);
    positive("--cpu-steps", static_cast<double>(s.cpu_steps));
    positive("--py-cpu-steps", static_cast<double>(s.py_cpu_steps));
    positive("--io-ops", s.io_ops);
    positive("--io-serial-ops", s.io_serial_ops);
    positive("--io-workers", s.io_workers);
    positive("--io-delay-ms", s.io_delay_ms);
    positive("--memory-threads", s.memory_threads);
    positive("--memory-tasks", s.memory_tasks);
    positive("--cost-units", s.cost_units);
    positive("--cost-process-units", s.cost_process_units);
    if (s.workers.empty()) throw std::invalid_argument("--workers must list at least one n");
    for (int n : s.workers) positive("--workers", n);
}

}  // namespace

int run_tour(const TourOptions& options) {
    check_sizes(options.sizes);
    check_writable(options.json_path, "--json");
    check_writable(options.chart_path, "--chart");
    Report report;
    report.version = NOGIL_VERSION;
    report.quick = options.quick;
    report.sizes = options.sizes;
    report.machine = describe_machine();
    report.sections = make_sections(options.sizes);
    report.python.status = "skipped: --no-python";

    const std::vector<Job> jobs = nogil_jobs(options.sizes);
    {
        const int rounds = options.sizes.repeat + 1;  // round 0 is the warm-up
        int steps = 0;
        for (const Job& job : jobs) steps += job.warm_up ? rounds : rounds - 1;
        Progress progress(steps, stderr_is_terminal());
        std::vector<std::vector<double>> samples(jobs.size());
        for (int round = 0; round < rounds; ++round) {
            for (std::size_t j = 0; j < jobs.size(); ++j) {
                if (round == 0 && !jobs[j].warm_up) continue;
                progress.begin(round == 0 ? fmt::format("warm-up: {}", jobs[j].label)
                                          : fmt::format("run {}/{}: {}", round, rounds - 1, jobs[j].label));
                const double value = jobs[j].sample();
                if (round > 0) samples[j].push_back(value);
            }
        }
        for (std::size_t j = 0; j < jobs.size(); ++j) jobs[j].record(report, samples[j]);
        if (!options.no_python) run_python_side(report, options.python, progress);
        progress.finish();
    }
    report.machine.load_after = load_average();
    add_derived_figures(report);

    fmt::print("{}", format_tables(report));
    const auto mismatches = checksum_mismatches(report);
    if (mismatches.empty()) {
        fmt::print("\nChecksums: every CPU model computed the same sum as its serial run.\n");
    } else {
        for (const auto& m : mismatches) fmt::print(stderr, "error: {}\n", m);
    }
    if (!options.json_path.empty()) {
        write_json(report, options.json_path);
        fmt::print("Wrote {}\n", options.json_path);
    }
    if (!options.chart_path.empty()) {
        write_text(make_chart(report), options.chart_path);
        fmt::print("Wrote {}\n", options.chart_path);
    }
    return mismatches.empty() ? 0 : 1;
}

int probe_memory(const std::string& model, int n) {
    if (n <= 0) throw std::invalid_argument("N must be > 0");
    for (const MemoryModel& m : memory_models()) {
        if (m.name == model) {
            fmt::print("{}\n", m.run(n));
            return 0;
        }
    }
    throw std::invalid_argument("no memory model named '" + model + "'");
}

}  // namespace nogil_tool
