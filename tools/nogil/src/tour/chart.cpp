#include "chart.hpp"

#include "table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace nogil_tool {

namespace {

constexpr int width = 960;
constexpr int label_width = 330;
constexpr int bar_area = 480;
constexpr int bar_height = 18;
constexpr int bar_gap = 6;

const char* colour(const std::string& runtime) { return runtime == "nogil" ? "#1b9e77" : "#d95f02"; }

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

struct Bar {
    std::string runtime;
    std::string label;
    const Figure* figure;
};

// One panel: a title, a scale (linear from 0, or logarithmic by decades), one bar per row with a
// whisker for the spread. Returns the panel's height.
int panel(std::string& svg, int top, const std::string& title, const std::vector<Bar>& bars, bool log_scale,
          double reference = 0, const std::string& reference_label = "") {
    if (bars.empty()) return 0;
    double lo = 0, hi = reference;
    double smallest = INFINITY;
    for (const Bar& b : bars) {
        hi = std::max(hi, b.figure->max);
        smallest = std::min(smallest, std::max(b.figure->min, 1e-12));
    }
    // Log scales step by 10 (by 4 for bytes, so that ticks land on KiB and MiB); linear ones
    // by a round step (1, 2 or 5 times a power of ten).
    const double base = bars.front().figure->unit == "bytes" ? 4 : 10;
    auto log_b = [base](double v) { return std::log(v) / std::log(base); };
    double step = 0;
    if (log_scale) {
        lo = std::pow(base, std::floor(log_b(smallest)));
        hi = std::pow(base, std::ceil(log_b(std::max(hi, lo * base))));
    } else {
        const double raw = hi / 5, magnitude = std::pow(10, std::floor(std::log10(raw)));
        step = raw / magnitude < 1.5 ? magnitude : raw / magnitude < 3.5 ? 2 * magnitude : 5 * magnitude;
        hi = std::ceil(hi * 1.05 / step) * step;
    }
    auto x_of = [&](double v) {
        double t = log_scale ? (log_b(std::max(v, lo)) - log_b(lo)) / (log_b(hi) - log_b(lo)) : v / hi;
        return label_width + std::clamp(t, 0.0, 1.0) * bar_area;
    };
    const std::string& unit = bars.front().figure->unit;
    svg += fmt::format(R"(<text x="10" y="{}" class="title">{}</text>)"
                       "\n",
                       top + 20, escape(title));
    const int chart_top = top + 34;
    const int chart_height = static_cast<int>(bars.size()) * (bar_height + bar_gap);
    // Grid: decades on a log scale, five steps on a linear one.
    std::vector<double> ticks;
    if (log_scale) {
        for (double v = lo; v <= hi * 1.0001; v *= base) ticks.push_back(v);
    } else {
        for (double v = 0; v <= hi * 1.0001; v += step) ticks.push_back(v);
    }
    for (double v : ticks) {
        svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" class="grid"/>)"
                           R"(<text x="{0:.1f}" y="{3}" class="tick">{4}</text>)"
                           "\n",
                           x_of(v), chart_top - 4, chart_top + chart_height, chart_top + chart_height + 14,
                           escape(format_value(v, unit)));
    }
    if (reference > 0) {
        svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" class="reference"/>)"
                           R"(<text x="{0:.1f}" y="{3}" class="reflabel">{4}</text>)"
                           "\n",
                           x_of(reference), chart_top - 4, chart_top + chart_height, chart_top - 8,
                           escape(reference_label));
    }
    int y = chart_top;
    for (const Bar& b : bars) {
        const Figure& f = *b.figure;
        const double x0 = label_width, x1 = x_of(f.median);
        svg += fmt::format(R"(<text x="{}" y="{}" class="label">{}</text>)"
                           R"(<rect x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/>)"
                           R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" class="whisker"/>)"
                           R"(<text x="{:.1f}" y="{}" class="value">{}</text>)"
                           "\n",
                           label_width - 8, y + 13, escape(b.label), x0, y, std::max(1.0, x1 - x0), bar_height,
                           colour(b.runtime), x_of(f.min), y + bar_height / 2, x_of(f.max), y + bar_height / 2,
                           std::max(x1, x_of(f.max)) + 6, y + 13, escape(format_value(f.median, f.unit)));
        y += bar_height + bar_gap;
    }
    return chart_height + 34 + 30;
}

// The section's bars, nogil's and Python's of one model next to each other.
std::vector<Bar> bars_of(const Report& report, const std::string& section, const std::string& figure,
                         bool widest_only = false) {
    std::vector<Bar> bars;
    for (const Section& s : report.sections) {
        if (s.id != section) continue;
        // For the CPU section, each model at its largest n: the speedup the machine allows.
        std::map<std::pair<std::string, std::string>, int> widest;
        for (const Row& r : s.rows) {
            auto& w = widest[{r.runtime, r.model}];
            w = std::max(w, r.workers);
        }
        for (const Line& line : side_by_side(s)) {
            for (const auto& [runtime, row] : line.by_runtime) {
                const Figure* f = row->find(figure);
                if (!f || (widest_only && row->workers != widest[{runtime, row->model}])) continue;
                std::string label = runtime + " " + row->model;
                if (row->workers > 1) label += fmt::format(" ({})", row->workers);
                bars.push_back({runtime, label, f});
            }
        }
    }
    return bars;
}

}  // namespace

std::string make_chart(const Report& report) {
    std::string body;
    int y = 56;
    const int cores = report.machine.cores;
    y += panel(body, y, fmt::format("CPU-bound: speedup over serial, each model at its most workers ({} cores)", cores),
               bars_of(report, "cpu", "speedup", true), false, cores, fmt::format("{} cores", cores));
    y += panel(body, y, "I/O-bound: waits completed per second (log scale)", bars_of(report, "io", "throughput"), true);
    y += panel(body, y, "Memory per in-flight wait (log scale)", bars_of(report, "memory", "bytes_per_wait"), true);
    y += panel(body, y, "Cost of one unit (log scale)", bars_of(report, "cost", "per_unit"), true);
    const Machine& m = report.machine;
    std::string svg = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="sans-serif">)"
        "\n<style>.title{{font-size:15px;font-weight:bold}} .label{{font-size:12px;text-anchor:end}} "
        ".value{{font-size:11px}} .tick{{font-size:10px;text-anchor:middle;fill:#555}} .grid{{stroke:#ddd}} "
        ".whisker{{stroke:#000;stroke-width:1.5}} .reference{{stroke:#888;stroke-dasharray:4 3}} "
        ".reflabel{{font-size:10px;text-anchor:middle;fill:#555}} .sub{{font-size:11px;fill:#444}}</style>\n"
        R"(<rect width="100%" height="100%" fill="white"/>)"
        "\n"
        R"(<text x="10" y="22" class="title">nogil tour {2}: nogil and Python, same workloads</text>)"
        "\n"
        R"(<text x="10" y="40" class="sub">{3} cores, {4}; load {5:.2f}; bars: median, whiskers: min-max</text>)"
        "\n"
        R"(<rect x="{6}" y="8" width="12" height="12" fill="{7}"/><text x="{8}" y="18" class="value">nogil</text>)"
        R"(<rect x="{9}" y="8" width="12" height="12" fill="{10}"/><text x="{11}" y="18" class="value">Python</text>)"
        "\n",
        width, y + 10, report.version, m.cores, escape(m.cpu_model), m.load_before, width - 170, colour("nogil"),
        width - 154, width - 100, colour("python"), width - 84);
    return svg + body + "</svg>\n";
}

}  // namespace nogil_tool
