#pragma once
// Honest measurement: one warm-up run, then `repeat` timed runs; a figure reports their median
// and spread (min–max). Every run's result is compared with the first, so a model that computes
// something else is caught, not timed.

#include "report.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nogil_tool {

/// Median, min and max of `values` as a figure (values must not be empty).
Figure make_figure(std::string name, std::string unit, std::vector<double> values);

/// The same figure with every value mapped by `f` (which may reverse the order: speedup = base /
/// time turns the slowest run into the smallest speedup, so min and max swap as needed).
Figure derive_figure(const Figure& from, std::string name, std::string unit, const std::function<double(double)>& f);

/// Wall-clock seconds of `repeat` runs of `run` after one warm-up run. `run` returns the work's
/// result; std::runtime_error if two runs disagree. `result` receives that value.
std::vector<double> time_runs(int repeat, const std::function<std::uint64_t()>& run, std::uint64_t& result);

/// Seconds since `start`, on the steady clock.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The process's resident set size, in bytes (/proc/self/statm).
std::int64_t resident_bytes();

}  // namespace nogil_tool
