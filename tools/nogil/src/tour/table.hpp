#pragma once
// The tables printed after the run: one per section, nogil's rows and Python's beside them.

#include "report.hpp"

#include <map>
#include <string>
#include <vector>

namespace nogil_tool {

/// One line of a section's table: a model in one configuration, each runtime's row beside the other.
struct Line {
    std::string model;
    int workers = 0;
    std::map<std::string, const Row*> by_runtime;  ///< "nogil", "python"
};

/// The section's rows as lines, in the order nogil lists its models; a model only Python has
/// comes right after the Python row before it (so ProcessPoolExecutor sits next to Process).
std::vector<Line> side_by_side(const Section& section);

/// The report as text: the machine, then each section's explanation and table.
std::string format_tables(const Report& report);

/// A figure's value in human units: "12.3 ms", "8.1 KiB", "1.95x", "9,870/s".
std::string format_value(double value, const std::string& unit);

}  // namespace nogil_tool
