#pragma once
// What the benchmarks with a Python anchor run in the same session share: running the anchor
// script and reading its one JSON line of figures ({"key": number, ...}: flat, numbers only).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace nogil_bench {

/// Runs `command` (a shell command printing the JSON line) and returns its figures; empty if it
/// could not run.
inline std::map<std::string, double> run_anchor(const std::string& command) {
    std::map<std::string, double> out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return out;
    std::string text;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
    ::pclose(pipe);
    for (std::size_t pos = 0; (pos = text.find('"', pos)) != std::string::npos;) {
        const auto end = text.find('"', pos + 1);
        if (end == std::string::npos) break;
        const auto colon = text.find(':', end);
        if (colon == std::string::npos) break;
        out[text.substr(pos + 1, end - pos - 1)] = std::strtod(text.c_str() + colon + 1, nullptr);
        pos = colon + 1;
    }
    return out;
}

}  // namespace nogil_bench
