#include "python_side.hpp"

#include "child.hpp"

#include <cereal/archives/json.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <sstream>

namespace nogil_tool {

namespace fs = std::filesystem;

std::string find_python_script() {
    const fs::path bin = fs::path(self_path()).parent_path();
    for (const fs::path& candidate : {bin / "python" / "tour.py", bin.parent_path() / "share" / "nogil" / "python" / "tour.py"})
        if (fs::exists(candidate)) return candidate.string();
    return "";
}

namespace {

std::vector<std::string> script_arguments(const Sizes& s) {
    std::vector<std::string> workers;
    for (int n : s.workers) workers.push_back(std::to_string(n));
    return {"--progress",
            "--repeat", std::to_string(s.repeat),
            "--cpu-tasks", std::to_string(s.cpu_tasks),
            "--cpu-steps", std::to_string(s.py_cpu_steps),
            "--workers", fmt::format("{}", fmt::join(workers, ",")),
            "--io-ops", std::to_string(s.io_ops),
            "--io-serial-ops", std::to_string(s.io_serial_ops),
            "--io-workers", std::to_string(s.io_workers),
            "--io-delay-ms", fmt::format("{}", s.io_delay_ms),
            "--memory-threads", std::to_string(s.memory_threads),
            "--memory-tasks", std::to_string(s.memory_tasks),
            "--cost-units", std::to_string(s.cost_units),
            "--cost-process-units", std::to_string(s.cost_process_units)};
}

}  // namespace

void run_python_side(Report& report, const std::string& interpreter, Progress& progress) {
    PythonInfo& info = report.python;
    const std::string executable = interpreter.find('/') == std::string::npos ? find_on_path(interpreter) : interpreter;
    if (executable.empty()) {
        info.status = fmt::format("skipped: no {} on PATH", interpreter);
        return;
    }
    const std::string script = find_python_script();
    if (script.empty()) {
        info.status = "skipped: tour.py not found next to nogil nor in share/nogil/python";
        progress.note("python: " + info.status);
        return;
    }
    info.executable = executable;

    // Lines starting with "# " are progress ("# total N", "# step LABEL"); the rest is the JSON.
    std::string json;
    std::vector<std::string> argv{executable, script};
    for (auto& a : script_arguments(report.sizes)) argv.push_back(std::move(a));
    int status = 0;
    try {
        status = run_child(argv, [&](const std::string& line) {
            if (line.rfind("# total ", 0) == 0) {
                progress.add_steps(std::stoi(line.substr(8)));
            } else if (line.rfind("# step ", 0) == 0) {
                progress.begin("python " + line.substr(7));
            } else {
                json += line;
                json += '\n';
            }
        });
    } catch (const std::exception& e) {
        info.status = fmt::format("failed: {}", e.what());
        progress.note("python: " + info.status);
        return;
    }
    if (status != 0) {
        info.status = fmt::format("failed: {} exited with status {}", script, status);
        progress.note("python: " + info.status);
        return;
    }

    PythonResult result;
    try {
        std::istringstream in(json);
        cereal::JSONInputArchive archive(in);
        result.serialize(archive);
    } catch (const std::exception& e) {
        info.status = fmt::format("failed: unreadable JSON from {}: {}", script, e.what());
        progress.note("python: " + info.status);
        return;
    }
    info.ran = true;
    info.status = "ran";
    info.executable = result.python.executable.empty() ? executable : result.python.executable;
    info.version = result.python.version;
    info.gil = result.python.gil;
    for (Section& theirs : result.sections) {
        if (Section* ours = report.find(theirs.id)) {
            for (Row& row : theirs.rows) {
                row.runtime = "python";
                ours->rows.push_back(std::move(row));
            }
        }
    }
}

}  // namespace nogil_tool
