#pragma once
// The four sections of the tour: their words, and the jobs that measure nogil's models.

#include "report.hpp"

#include <functional>
#include <string>
#include <vector>

namespace nogil_tool {

/// One step of the tour: a label for the progress display and what to run. A job adds its row
/// to the report's section.
struct Job {
    std::string label;
    std::function<void(Report&)> run;
};

/// The sections, in order, with their explanations and workloads filled in and no rows yet.
std::vector<Section> make_sections(const Sizes& sizes);

/// Every nogil measurement of the tour, in order.
std::vector<Job> nogil_jobs(const Sizes& sizes);

/// The CPU section's speedups, for both runtimes: each row's time against the same runtime's
/// serial run (so Python's threads are compared with Python's serial loop).
void add_derived_figures(Report& report);

/// The CPU rows whose checksum differs from their runtime's serial row, as messages.
std::vector<std::string> checksum_mismatches(const Report& report);

}  // namespace nogil_tool
