#include "table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace nogil_tool {

namespace {

// How a value is shown: divided by `factor`, then the suffix ("ms", "KiB", "x", "/s").
struct Scale {
    double factor;
    const char* suffix;
};

Scale scale_for(double v, const std::string& unit) {
    const double a = std::fabs(v);
    if (unit == "s") return a >= 1 ? Scale{1, " s"} : a >= 1e-3 ? Scale{1e-3, " ms"} : a >= 1e-6 ? Scale{1e-6, " us"} : Scale{1e-9, " ns"};
    if (unit == "bytes") return a >= (1 << 20) ? Scale{1 << 20, " MiB"} : a >= (1 << 10) ? Scale{1 << 10, " KiB"} : Scale{1, " B"};
    if (unit == "x") return {1, "x"};
    if (unit == "ops/s") return {1, "/s"};
    return {1, ""};
}

// 1234567 -> "1,234,567"
std::string group_thousands(long long n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string number(double v, const std::string& unit, Scale scale) {
    const double x = v / scale.factor;
    if (unit == "ops/s") return group_thousands(std::llround(x));
    if (unit == "x") return fmt::format("{:.2f}", x);
    if (std::fabs(x) >= 100) return fmt::format("{:.0f}", x);
    if (std::fabs(x) >= 10) return fmt::format("{:.1f}", x);
    return fmt::format("{:.2f}", x);
}

}  // namespace

std::string format_value(double v, const std::string& unit) {
    const Scale scale = scale_for(v, unit);
    return number(v, unit, scale) + scale.suffix;
}

namespace {

// "251 ms (248-260)": the median, then the spread over the repetitions, in the median's unit.
std::string median_and_spread(const Row& row, const std::string& name) {
    const Figure* f = row.find(name);
    if (!f) return "-";
    if (f->samples < 2) return format_value(f->median, f->unit);
    const Scale scale = scale_for(f->median, f->unit);
    return fmt::format("{}{} ({}-{})", number(f->median, f->unit, scale), scale.suffix, number(f->min, f->unit, scale),
                       number(f->max, f->unit, scale));
}

struct Column {
    std::string header;
    std::function<std::string(const Row&)> cell;
    bool right = false;
};

std::vector<Column> columns_for(const Section& s) {
    std::vector<Column> cols{{"runtime", [](const Row& r) { return r.runtime; }},
                             {"model", [](const Row& r) { return r.model; }}};
    auto figure = [](std::string header, std::string name) {
        return Column{std::move(header), [name](const Row& r) { return median_and_spread(r, name); }, true};
    };
    auto count = [](std::string header) {
        return Column{std::move(header), [](const Row& r) { return r.workers ? fmt::format("{}", r.workers) : "-"; }, true};
    };
    if (s.id == "cpu") {
        cols.push_back(count("n"));
        cols.push_back(figure("wall time (min-max)", "wall"));
        cols.push_back(figure("speedup vs serial", "speedup"));
    } else if (s.id == "io") {
        cols.push_back(count("in flight"));
        cols.push_back(figure("wall time (min-max)", "wall"));
        cols.push_back(figure("throughput", "throughput"));
    } else if (s.id == "memory") {
        cols.push_back(count("N"));
        cols.push_back(figure("memory per wait (min-max)", "bytes_per_wait"));
    } else {
        cols.push_back(figure("per unit (min-max)", "per_unit"));
    }
    return cols;
}

std::string format_section(const Section& s) {
    std::string out = fmt::format("\n== {} ==\n{}\nWorkload: {}\n\n", s.title, s.text, s.workload);
    auto cols = columns_for(s);
    std::vector<std::vector<std::string>> cells;
    std::vector<std::size_t> width;
    for (const auto& c : cols) width.push_back(c.header.size());
    for (const Row& row : s.rows) {
        std::vector<std::string> line;
        for (std::size_t i = 0; i < cols.size(); ++i) {
            line.push_back(cols[i].cell(row));
            width[i] = std::max(width[i], line.back().size());
        }
        cells.push_back(std::move(line));
    }
    auto print_line = [&](const std::vector<std::string>& line) {
        std::string text = " ";
        for (std::size_t i = 0; i < cols.size(); ++i)
            text += cols[i].right ? fmt::format(" {:>{}}", line[i], width[i]) : fmt::format(" {:<{}}", line[i], width[i]);
        while (!text.empty() && text.back() == ' ') text.pop_back();
        out += text + "\n";
    };
    std::vector<std::string> headers;
    for (const auto& c : cols) headers.push_back(c.header);
    print_line(headers);
    std::vector<std::string> rule;
    for (auto w : width) rule.push_back(std::string(w, '-'));
    print_line(rule);
    std::string last_runtime;
    for (std::size_t r = 0; r < cells.size(); ++r) {
        if (!last_runtime.empty() && s.rows[r].runtime != last_runtime) out += "\n";
        last_runtime = s.rows[r].runtime;
        print_line(cells[r]);
    }
    return out;
}

}  // namespace

std::string format_tables(const Report& report) {
    const Machine& m = report.machine;
    std::string out = fmt::format("nogil {} tour{} - {} cores ({}), load {:.2f} -> {:.2f}, {}, {}\n", report.version,
                                  report.quick ? " (--quick)" : "", m.cores, m.cpu_model, m.load_before, m.load_after,
                                  m.kernel, m.compiler);
    out += report.python.ran ? fmt::format("Python side: {} ({}{})\n", report.python.executable, report.python.version,
                                           report.python.gil ? ", with the GIL" : ", free-threaded, GIL off")
                             : fmt::format("Python side: {}\n", report.python.status);
    out += fmt::format("Each figure: median of {} runs after a warm-up, (min-max) over them.\n", report.sizes.repeat);
    for (const Section& s : report.sections)
        if (!s.rows.empty()) out += format_section(s);
    return out;
}

}  // namespace nogil_tool
