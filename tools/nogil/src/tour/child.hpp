#pragma once
// Running a child program (the Python side, the memory probes) and reading its stdout line by line.

#include <functional>
#include <string>
#include <vector>

namespace nogil_tool {

/// Runs argv[0] (searched on PATH when it has no '/') with these arguments, calls `on_line` with
/// each line it prints on stdout (without the newline), and returns its exit status (128 + N if
/// killed by signal N). Its stderr is ours. Throws std::runtime_error if it cannot be started.
int run_child(const std::vector<std::string>& argv, const std::function<void(const std::string&)>& on_line);

/// The full path of `program` on PATH, or "" if it is not there.
std::string find_on_path(const std::string& program);

/// This program's own path (/proc/self/exe resolved).
std::string self_path();

}  // namespace nogil_tool
