#pragma once
// The tables printed after the run: one per section, nogil's rows and Python's beside them.

#include "report.hpp"

#include <string>

namespace nogil_tool {

/// The report as text: the machine, then each section's explanation and table.
std::string format_tables(const Report& report);

/// A figure's value in human units: "12.3 ms", "8.1 KiB", "1.95x", "9,870/s".
std::string format_value(double value, const std::string& unit);

}  // namespace nogil_tool
