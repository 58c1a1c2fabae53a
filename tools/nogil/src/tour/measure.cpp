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

std::vector<double> time_runs(int repeat, const std::function<std::uint64_t()>& run, std::uint64_t& result) {
    result = run();  // warm-up: first-touch of memory, lazy thread starts, caches
    std::vector<double> seconds;
    for (int i = 0; i < repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const std::uint64_t r = run();
        seconds.push_back(seconds_since(start));
        if (r != result) throw std::runtime_error(fmt::format("run {} gave {:#x}, the warm-up gave {:#x}", i + 1, r, result));
    }
    return seconds;
}

std::int64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm");
    return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace nogil_tool
