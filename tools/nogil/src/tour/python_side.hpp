#pragma once
// The Python side of the tour: the same sections, run by CPython from tour.py as a child process
// that prints its progress and then one JSON object on stdout.

#include "progress.hpp"
#include "report.hpp"

#include <string>

namespace nogil_tool {

/// Where tour.py is: next to this program (build tree: python/tour.py) or installed
/// (../share/nogil/python/tour.py). "" if neither exists.
std::string find_python_script();

/// Runs tour.py with `interpreter` and these sizes, reporting its steps on `progress`, and adds
/// its rows (runtime "python") to the report's sections. Fills report.python; a failure is noted
/// there and on `progress`, never fatal (the nogil side stands on its own).
void run_python_side(Report& report, const std::string& interpreter, Progress& progress);

}  // namespace nogil_tool
