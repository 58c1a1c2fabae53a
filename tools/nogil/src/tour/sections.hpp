#pragma once
// The four sections of the tour: their words, and the jobs that measure nogil's models.

#include "report.hpp"

#include <functional>
#include <string>
#include <vector>

namespace nogil_tool {

/// One measurement of the tour: `sample` runs it once and returns the measured value (checking
/// what the run computed); after every round, `record` turns the samples into the report's row.
struct Job {
    std::string label;
    std::function<double()> sample;
    std::function<void(Report&, const std::vector<double>& samples)> record;
    /// False when a warm-up would change nothing (each sample runs in a fresh process).
    bool warm_up = true;
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
