#pragma once
// What the tour measures, as data: the same structures are printed as tables, drawn as a chart,
// written as JSON (--json) and read back from the Python side's JSON. docs/tour.md documents the
// format; the field names below are its keys.

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nogil_tool {

/// One measured quantity over repetitions: median and spread (min–max), in base units
/// ("s", "x", "ops/s", "bytes").
struct Figure {
    std::string name;  ///< "wall", "speedup", "throughput", "bytes_per_wait", "per_unit"
    std::string unit;
    double median = 0;
    double min = 0;
    double max = 0;
    int samples = 0;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(name), CEREAL_NVP(unit), CEREAL_NVP(median), CEREAL_NVP(min), CEREAL_NVP(max),
           CEREAL_NVP(samples));
    }
};

/// One model run in one configuration: "ThreadPoolExecutor" with 4 workers, on nogil or Python.
struct Row {
    std::string runtime;  ///< "nogil" or "python"
    std::string model;    ///< the model's name, as the runtime spells it
    std::string kind;     ///< "serial", "thread", "process" or "coroutine": what carries the work
    int workers = 0;      ///< threads/processes/tasks in flight; 0 when not applicable
    std::string checksum; ///< the work's result (CPU section: the kernel's sum, hex); "" otherwise
    std::vector<Figure> figures;

    const Figure* find(const std::string& figure) const {
        for (const auto& f : figures)
            if (f.name == figure) return &f;
        return nullptr;
    }
    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(runtime), CEREAL_NVP(model), CEREAL_NVP(kind), CEREAL_NVP(workers), CEREAL_NVP(checksum), CEREAL_NVP(figures));
    }
};

/// One section of the tour: "cpu", "io", "memory", "cost".
struct Section {
    std::string id;
    std::string title;
    std::string text;      ///< the two or three lines that explain it
    std::string workload;  ///< the sizes it ran with, in words
    std::vector<Row> rows;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(id), CEREAL_NVP(title), CEREAL_NVP(text), CEREAL_NVP(workload), CEREAL_NVP(rows));
    }
};

/// The machine the figures come from.
struct Machine {
    int cores = 0;             ///< CPUs this process may run on (sched_getaffinity)
    int online_cpus = 0;       ///< CPUs in the system
    std::string cpu_model;
    double load_before = 0;    ///< 1-minute load average when the tour started
    double load_after = 0;     ///< and when it ended
    std::string kernel;        ///< uname: sysname release machine
    std::string compiler;      ///< the compiler that built this program, and the build type
    std::int64_t memory_bytes = 0;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(cores), CEREAL_NVP(online_cpus), CEREAL_NVP(cpu_model), CEREAL_NVP(load_before),
           CEREAL_NVP(load_after), CEREAL_NVP(kernel), CEREAL_NVP(compiler), CEREAL_NVP(memory_bytes));
    }
};

/// About the Python side: whether it ran, and which interpreter.
struct PythonInfo {
    bool ran = false;
    std::string status;   ///< "ran", "skipped: --no-python", "skipped: no python3 on PATH", "failed: ..."
    std::string executable;
    std::string version;  ///< sys.version, first line
    bool gil = true;      ///< False on a free-threaded build running without the GIL

    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(ran), CEREAL_NVP(status), CEREAL_NVP(executable), CEREAL_NVP(version), CEREAL_NVP(gil));
    }
};

/// What the Python script prints on stdout: its interpreter and its sections (rows with
/// runtime "python"; figures as measured, derived ones such as speedup are added by the tool).
struct PythonResult {
    PythonInfo python;
    std::vector<Section> sections;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(python), CEREAL_NVP(sections));
    }
};

/// The sizes the tour ran with (all settable by flags; --quick picks smaller defaults).
struct Sizes {
    int repeat = 5;                          ///< measured repetitions per figure (after one warm-up)
    int cpu_tasks = 32;                      ///< kernel calls per CPU run
    std::int64_t cpu_steps = 4'000'000;      ///< xorshift steps per kernel call (nogil)
    std::int64_t py_cpu_steps = 30'000;      ///< the same, for Python
    int io_ops = 1000;                       ///< waits per concurrent I/O run
    int io_serial_ops = 20;                  ///< waits per serial I/O run
    int io_workers = 100;                    ///< threads of the I/O thread pool
    double io_delay_ms = 10;                 ///< each wait
    int memory_threads = 1000;               ///< threads in flight for the memory figure
    int memory_tasks = 10'000;               ///< coroutine tasks in flight for the memory figure
    int cost_units = 2000;                   ///< units per cost figure (threads, tasks, round trips)
    int cost_process_units = 20;             ///< processes per cost figure
    std::vector<int> workers;                ///< n values of the CPU section (1 … cores)

    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(repeat), CEREAL_NVP(cpu_tasks), CEREAL_NVP(cpu_steps), CEREAL_NVP(py_cpu_steps),
           CEREAL_NVP(io_ops), CEREAL_NVP(io_serial_ops), CEREAL_NVP(io_workers), CEREAL_NVP(io_delay_ms),
           CEREAL_NVP(memory_threads), CEREAL_NVP(memory_tasks), CEREAL_NVP(cost_units),
           CEREAL_NVP(cost_process_units), CEREAL_NVP(workers));
    }
};

/// Everything --json writes.
struct Report {
    std::string format = "nogil-tour/1";
    std::string version;  ///< nogil's version
    bool quick = false;
    Sizes sizes;
    Machine machine;
    PythonInfo python;
    std::vector<Section> sections;

    Section* find(const std::string& id) {
        for (auto& s : sections)
            if (s.id == id) return &s;
        return nullptr;
    }
    template <class Archive>
    void serialize(Archive& ar) {
        ar(CEREAL_NVP(format), CEREAL_NVP(version), CEREAL_NVP(quick), CEREAL_NVP(sizes), CEREAL_NVP(machine),
           CEREAL_NVP(python), CEREAL_NVP(sections));
    }
};

}  // namespace nogil_tool
