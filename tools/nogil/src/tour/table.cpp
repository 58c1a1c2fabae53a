#include "table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <vector>

namespace nogil_tool {

// Lines in the order nogil lists its models; a model only Python has goes right after the
// Python row that preceded it, so that e.g. ProcessPoolExecutor sits next to Process.
std::vector<Line> side_by_side(const Section& s) {
    std::vector<Line> lines;
    auto find = [&](const Row& r) {
        return std::find_if(lines.begin(), lines.end(), [&](const Line& l) { return l.model == r.model && l.workers == r.workers; });
    };
    for (const std::string runtime : {"nogil", "python"}) {
        std::size_t insert_at = 0;
        for (const Row& r : s.rows) {
            if (r.runtime != runtime) continue;
            auto it = find(r);
            if (it == lines.end()) it = lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(insert_at), Line{r.model, r.workers, {}});
            it->by_runtime[runtime] = &r;
            insert_at = static_cast<std::size_t>(it - lines.begin()) + 1;
        }
    }
    return lines;
}

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
    // Three significant digits, deciding on the rounded value (99.99 shows as "100", not "100.0").
    if (std::fabs(x) >= 99.95) return fmt::format("{:.0f}", x);
    if (std::fabs(x) >= 9.995) return fmt::format("{:.1f}", x);
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
    std::function<std::string(const Line&)> cell;
    bool right = false;
};

std::vector<Column> columns_for(const Section& s, const std::vector<std::string>& runtimes) {
    std::vector<Column> cols{{"model", [](const Line& l) { return l.model; }}};
    auto count = [](std::string header) {
        return Column{std::move(header), [](const Line& l) { return l.workers ? fmt::format("{}", l.workers) : "-"; }, true};
    };
    // runtime's figure: median and spread, or only the median (when another column has the spread).
    auto figure = [](const std::string& runtime, std::string header, std::string name, bool spread) {
        return Column{runtime + " " + header,
                      [=](const Line& l) {
                          auto it = l.by_runtime.find(runtime);
                          if (it == l.by_runtime.end()) return std::string("-");
                          const Figure* f = it->second->find(name);
                          if (!f) return std::string("-");
                          return spread ? median_and_spread(*it->second, name) : format_value(f->median, f->unit);
                      },
                      true};
    };
    if (s.id == "cpu") cols.push_back(count("n"));
    if (s.id == "io") cols.push_back(count("in flight"));
    if (s.id == "memory") cols.push_back(count("N"));
    for (const auto& rt : runtimes) {
        if (s.id == "cpu") {
            cols.push_back(figure(rt, "time", "wall", false));
            cols.push_back(figure(rt, "speedup (min-max)", "speedup", true));
        } else if (s.id == "io") {
            cols.push_back(figure(rt, "waits/s (min-max)", "throughput", true));
        } else if (s.id == "memory") {
            cols.push_back(figure(rt, "per wait (min-max)", "bytes_per_wait", true));
        } else {
            cols.push_back(figure(rt, "per unit (min-max)", "per_unit", true));
        }
    }
    return cols;
}

// The best median of `figure` among `runtime`'s rows of this kind (and n, when n > 0).
const Row* best_row(const Section& s, const std::string& runtime, const std::string& kind, const std::string& figure,
                    int n = 0, bool highest = true) {
    const Row* best = nullptr;
    for (const Row& r : s.rows) {
        const Figure* f = r.find(figure);
        if (r.runtime != runtime || r.kind != kind || !f || (n > 0 && r.workers != n)) continue;
        const Figure* b = best ? best->find(figure) : nullptr;
        if (!b || (highest ? f->median > b->median : f->median < b->median)) best = &r;
    }
    return best;
}

double median_of(const Row* r, const std::string& figure) { return r ? r->find(figure)->median : 0; }

// One line per section that says what the table shows, from its own figures.
std::string summary(const Section& s, const std::vector<std::string>& runtimes, int cores) {
    std::vector<std::string> parts;
    for (const auto& rt : runtimes) {
        std::vector<std::string> said;
        if (s.id == "cpu") {
            int n = 0;
            for (const Row& r : s.rows) n = std::max(n, r.workers);
            for (const char* kind : {"thread", "process"})
                if (const Row* r = best_row(s, rt, kind, "speedup", n))
                    said.push_back(fmt::format("{} {:.2f}x ({})", kind == std::string("thread") ? "threads" : "processes",
                                               median_of(r, "speedup"), r->model));
            if (!said.empty()) parts.push_back(fmt::format("{} at n = {}: {}", rt, n, fmt::join(said, ", ")));
        } else if (s.id == "io") {
            const double serial = median_of(best_row(s, rt, "serial", "throughput"), "throughput");
            for (const char* kind : {"thread", "coroutine"})
                if (const Row* r = best_row(s, rt, kind, "throughput"); r && serial > 0)
                    said.push_back(fmt::format("{} {:.0f}x", r->model, median_of(r, "throughput") / serial));
            if (!said.empty()) parts.push_back(fmt::format("{} vs serial: {}", rt, fmt::join(said, ", ")));
        } else if (s.id == "memory") {
            const Row* thread = best_row(s, rt, "thread", "bytes_per_wait", 0, false);
            const Row* task = best_row(s, rt, "coroutine", "bytes_per_wait", 0, false);
            if (thread && task)
                parts.push_back(fmt::format("{}: a coroutine task waits in {}, a thread in {} ({:.0f}x less)", rt,
                                            format_value(median_of(task, "bytes_per_wait"), "bytes"),
                                            format_value(median_of(thread, "bytes_per_wait"), "bytes"),
                                            median_of(thread, "bytes_per_wait") / median_of(task, "bytes_per_wait")));
        } else if (s.id == "cost") {
            auto start_of = [&](const std::string& kind) -> const Row* {
                for (const Row& r : s.rows)
                    if (r.runtime == rt && r.kind == kind && r.model.find("start+join") != std::string::npos) return &r;
                return nullptr;
            };
            const Row* thread = start_of("thread");
            const Row* process = start_of("process");
            if (thread && process)
                parts.push_back(fmt::format("{}: starting a process costs {:.0f}x starting a thread", rt,
                                            median_of(process, "per_unit") / median_of(thread, "per_unit")));
        }
    }
    std::string out = parts.empty() ? "" : "\n";
    for (const auto& part : parts) out += fmt::format("  => {}\n", part);
    if (s.id == "cpu") out += fmt::format("     (ideal: {}x on {} cores)\n", cores, cores);
    return out;
}

std::string format_section(const Section& s, int cores) {
    std::string out = fmt::format("\n== {} ==\n{}\nWorkload: {}\n\n", s.title, s.text, s.workload);
    std::vector<std::string> runtimes;
    for (const std::string rt : {"nogil", "python"})
        if (std::any_of(s.rows.begin(), s.rows.end(), [&](const Row& r) { return r.runtime == rt; })) runtimes.push_back(rt);
    const auto cols = columns_for(s, runtimes);
    std::vector<std::vector<std::string>> cells;
    std::vector<std::size_t> width;
    for (const auto& c : cols) width.push_back(c.header.size());
    for (const Line& line : side_by_side(s)) {
        std::vector<std::string> text;
        for (std::size_t i = 0; i < cols.size(); ++i) {
            text.push_back(cols[i].cell(line));
            width[i] = std::max(width[i], text.back().size());
        }
        cells.push_back(std::move(text));
    }
    auto print_line = [&](const std::vector<std::string>& line) {
        std::string text = " ";
        for (std::size_t i = 0; i < cols.size(); ++i)
            text += cols[i].right ? fmt::format(" {:>{}}", line[i], width[i]) : fmt::format(" {:<{}}", line[i], width[i]);
        while (!text.empty() && text.back() == ' ') text.pop_back();
        out += text + "\n";
    };
    std::vector<std::string> headers, rule;
    for (std::size_t i = 0; i < cols.size(); ++i) {
        headers.push_back(cols[i].header);
        rule.push_back(std::string(width[i], '-'));
    }
    print_line(headers);
    print_line(rule);
    for (const auto& line : cells) print_line(line);
    return out + summary(s, runtimes, cores);
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
    out += report.sizes.repeat == 1 ? std::string("Each figure: one run after a warm-up.\n")
                                    : fmt::format("Each figure: median of {} runs after a warm-up, (min-max) over them.\n",
                                                  report.sizes.repeat);
    if (std::max(m.load_before, m.load_after) > 0.5 * m.cores)
        out += fmt::format("Note: the machine was busy (load {:.1f} on {} cores): other programs took CPU time, so\n"
                           "speedups are lower and spreads wider than an idle machine would show.\n",
                           std::max(m.load_before, m.load_after), m.cores);
    for (const Section& s : report.sections)
        if (!s.rows.empty()) out += format_section(s, m.cores);
    return out;
}

}  // namespace nogil_tool
