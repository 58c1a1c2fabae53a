#pragma once
// Honest measurement: one warm-up round, then `repeat` measured rounds, each round running every
// measurement once (interleaved, so a load that drifts during the tour affects all models alike);
// a figure reports the median and spread (min–max) of its rounds. Every run's result is compared
// with the first, so a model that computes something else is caught, not timed.

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

/// Remembers the first result of a measurement's runs and checks every later one against it.
class SameResult {
public:
    explicit SameResult(std::string what) : what_(std::move(what)) {}
    /// Throws std::runtime_error if `result` differs from the first one seen.
    void check(std::uint64_t result);
    /// The first result (0 before any).
    std::uint64_t value() const noexcept { return first_; }

private:
    std::string what_;
    std::uint64_t first_ = 0;
    int runs_ = 0;
};

/// Wall-clock seconds `run` takes; `result` receives what it returned.
double time_run(const std::function<std::uint64_t()>& run, std::uint64_t& result);

/// Seconds since `start`, on the steady clock.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The process's resident set size, in bytes (/proc/self/statm).
std::int64_t resident_bytes();

}  // namespace nogil_tool
