#include "measure.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <unistd.h>

namespace nogil_tool {

Figure make_figure(std::string name, std::string unit, std::vector<double> values) {
    if (values.empty()) throw std::invalid_argument("make_figure: no values for " + name);
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    const double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    return Figure{std::move(name), std::move(unit), median, values.front(), values.back(), static_cast<int>(n)};
}

Figure derive_figure(const Figure& from, std::string name, std::string unit, const std::function<double(double)>& f) {
    const double a = f(from.min), b = f(from.max);
    return Figure{std::move(name), std::move(unit), f(from.median), std::min(a, b), std::max(a, b), from.samples};
}

void SameResult::check(std::uint64_t result) {
    if (runs_++ == 0) {
        first_ = result;
    } else if (result != first_) {
        throw std::runtime_error(fmt::format("{}: run {} gave {:#x}, the first run gave {:#x}", what_, runs_, result, first_));
    }
}

double time_run(const std::function<std::uint64_t()>& run, std::uint64_t& result) {
    const auto start = std::chrono::steady_clock::now();
    result = run();
    return seconds_since(start);
}

std::int64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm");
    return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace nogil_tool
