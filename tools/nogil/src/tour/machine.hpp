#pragma once
// The description of the machine every report carries: the figures mean little without it.

#include "report.hpp"

namespace nogil_tool {

/// Cores, CPU model, load average, kernel, memory and the compiler of this program.
Machine describe_machine();

/// The 1-minute load average (0 if unknown).
double load_average();

}  // namespace nogil_tool
