#pragma once
// `nogil tour`: runs every section's models, then the Python side, and reports.

#include "report.hpp"

#include <string>

namespace nogil_tool {

struct TourOptions {
    Sizes sizes;
    bool quick = false;
    bool no_python = false;
    std::string python = "python3";  ///< the interpreter for the Python side
    std::string json_path;           ///< --json FILE ("" = none)
    std::string chart_path;          ///< --chart FILE.svg ("" = none)
};

/// The default sizes (quick or full) for a machine with `cores` usable cores.
Sizes default_sizes(bool quick, int cores);

/// Runs the tour; returns the program's exit status (non-zero if a model's result was wrong).
int run_tour(const TourOptions& options);

/// `nogil _probe-memory MODEL N`: runs one memory model in this (fresh) process and prints the
/// resident-set growth in bytes. Returns the exit status.
int probe_memory(const std::string& model, int n);

}  // namespace nogil_tool
