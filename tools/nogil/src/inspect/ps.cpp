// The layouts of Python 3.14's Lib/asyncio/tools.py: build_task_table and
// display_awaited_by_tasks_table (ps), build_async_tree with its cycle check (pstree).
#include "inspect/ps.hpp"

#include <fmt/format.h>

#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nogil_tool::inspect {

namespace {

std::string hex(std::uint64_t v) { return fmt::format("{:#x}", v); }

std::string chain(const std::vector<Frame>& frames) {
    std::string s;
    for (const Frame& f : frames) s += (s.empty() ? "" : " -> ") + f.function;
    return s;
}

std::string frame_label(const Frame& f) { return f.line == 0 && f.file.empty() ? f.function : fmt::format("{} {}:{}", f.function, f.file, f.line); }

struct Index {
    std::unordered_map<std::uint64_t, const TaskSnapshot*> tasks;
    std::unordered_map<std::uint64_t, int> tid;
};

Index index(const ProcessSnapshot& snap) {
    Index ix;
    for (const auto& loop : snap.loops)
        for (const auto& t : loop.tasks) {
            ix.tasks[t.address] = &t;
            ix.tid[t.address] = loop.tid;
        }
    return ix;
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

}  // namespace

void print_table(const ProcessSnapshot& snap, const std::string& format, std::ostream& out) {
    const Index ix = index(snap);
    std::vector<std::vector<std::string>> rows;
    for (const auto& loop : snap.loops)
        for (const auto& t : loop.tasks) {
            const std::string tid = std::to_string(loop.tid);
            if (t.awaited_by.empty()) {
                rows.push_back({tid, hex(t.address), t.name, chain(t.frames), "", "", "0x0"});
                continue;
            }
            for (std::uint64_t a : t.awaited_by) {
                auto it = ix.tasks.find(a);
                const TaskSnapshot* awaiter = it == ix.tasks.end() ? nullptr : it->second;
                rows.push_back({tid, hex(t.address), t.name, chain(t.frames), awaiter ? chain(awaiter->frames) : "",
                                awaiter ? awaiter->name : "Unknown", hex(a)});
            }
        }
    static const char* const header[] = {"tid", "task id", "task name", "coroutine stack", "awaiter chain", "awaiter name", "awaiter id"};
    if (format == "csv") {
        for (int i = 0; i < 7; ++i) out << (i ? "," : "") << header[i];
        out << '\n';
        for (const auto& r : rows) {
            for (int i = 0; i < 7; ++i) out << (i ? "," : "") << csv_field(r[static_cast<std::size_t>(i)]);
            out << '\n';
        }
        print_executors_csv(snap, out);
        return;
    }
    out << fmt::format("{:<10} {:<20} {:<20} {:<50} {:<50} {:<15} {:<15}\n", header[0], header[1], header[2], header[3],
                       header[4], header[5], header[6]);
    out << std::string(180, '-') << '\n';
    for (const auto& r : rows)
        out << fmt::format("{:<10} {:<20} {:<20} {:<50} {:<50} {:<15} {:<15}\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
    print_executors(snap, out);
}

namespace {
std::string worker_state(const WorkerSnapshot& w) {
    return w.dead ? "dead" : w.booting ? "starting" : w.call.empty() ? "idle" : "running";
}
std::string shut_down_as(const ExecutorSnapshot& ex) { return ex.shut_down_as.empty() ? "shut down" : ex.shut_down_as; }
std::string pool_status(const ExecutorSnapshot& ex) { return !ex.broken.empty() ? "broken" : ex.shut_down ? shut_down_as(ex) : "open"; }
}  // namespace

void print_executors(const ProcessSnapshot& snap, std::ostream& out) {
    for (const auto& ex : snap.executors) {
        out << fmt::format("\n{}{} ({:#x}): {} of {} workers started, {} call{} queued{}{}{}\n", ex.kind,
                           ex.name.empty() ? "" : " '" + ex.name + "'", ex.address, ex.workers.size(), ex.max_workers,
                           ex.queued, ex.queued == 1 ? "" : "s", ex.shut_down ? ", " + shut_down_as(ex) : "",
                           ex.broken.empty() ? "" : ", broken: " + ex.broken,
                           ex.torn ? " (it changed under every read: this read may be inexact)" : "");
        if (ex.mpi) {
            // What the master knows: a worker runs the first call it was sent (or has just
            // answered it), the others sent to it wait there; its pid only when on this host.
            if (!ex.workers.empty())
                out << fmt::format("  {:<8} {:<6} {:<10} {:<20} {:<8} {:<6} {}\n", "worker", "rank", "pid", "host", "state", "sent",
                                   "call");
            for (std::size_t i = 0; i < ex.workers.size(); ++i) {
                const auto& w = ex.workers[i];
                out << fmt::format("  {:<8} {:<6} {:<10} {:<20} {:<8} {:<6} {}\n", i, w.rank, w.tid ? std::to_string(w.tid) : "-",
                                   w.host.empty() ? "-" : w.host, worker_state(w), w.sent, w.call);
            }
        } else {
            if (!ex.workers.empty())
                out << fmt::format("  {:<8} {:<10} {:<8} {}\n", "worker", ex.processes ? "pid" : "tid", "state", "call");
            for (std::size_t i = 0; i < ex.workers.size(); ++i) {
                const auto& w = ex.workers[i];
                out << fmt::format("  {:<8} {:<10} {:<8} {}\n", i, w.tid, worker_state(w), w.call);
            }
        }
        // The queued calls in the order they will run, runs of the same call counted.
        for (std::size_t i = 0; i < ex.queued_calls.size();) {
            std::size_t j = i;
            while (j < ex.queued_calls.size() && ex.queued_calls[j] == ex.queued_calls[i]) ++j;
            out << fmt::format("  {:<8} {}{}\n", i == 0 ? "queued" : "", ex.queued_calls[i], j - i > 1 ? fmt::format(" \u00d7{}", j - i) : "");
            i = j;
        }
        if (ex.queued > ex.queued_calls.size()) out << fmt::format("  {:<8} ... and {} more\n", "", ex.queued - ex.queued_calls.size());
    }
}

void print_executors_csv(const ProcessSnapshot& snap, std::ostream& out) {
    if (snap.executors.empty()) return;
    // A second table after an empty line: a row per worker and per named queued call, each with
    // its pool's columns (`queued` counts every queued call, named or not).
    out << "\nexecutor id,kind,name,status,max workers,queued,worker,tid,pid,state,call,rank,host,sent\n";
    for (const auto& ex : snap.executors) {
        const std::string pool = fmt::format("{:#x},{},{},{},{},{}", ex.address, ex.kind, csv_field(ex.name), pool_status(ex),
                                             ex.max_workers, ex.queued);
        for (std::size_t i = 0; i < ex.workers.size(); ++i) {
            const auto& w = ex.workers[i];
            const std::string pid = !ex.processes || (ex.mpi && !w.tid) ? "" : std::to_string(w.tid);
            out << fmt::format("{},{},{},{},{},{},{},{},{}\n", pool, i, ex.processes ? "" : std::to_string(w.tid), pid,
                               worker_state(w), csv_field(w.call), ex.mpi ? std::to_string(w.rank) : "", csv_field(w.host),
                               ex.mpi ? std::to_string(w.sent) : "");
        }
        for (const auto& call : ex.queued_calls) out << fmt::format("{},queued,,,queued,{},,,\n", pool, csv_field(call));
    }
}

bool print_tree(const ProcessSnapshot& snap, std::ostream& out, std::ostream& err) {
    const Index ix = index(snap);
    // awaits: (parent task, parent's stack innermost first, child task), as tools._index.
    struct Await {
        std::uint64_t parent;
        const std::vector<Frame>* stack;
        std::uint64_t child;
    };
    std::vector<Await> awaits;
    std::vector<std::uint64_t> order;  // tasks in snapshot order
    static const std::vector<Frame> no_frames;
    for (const auto& loop : snap.loops)
        for (const auto& t : loop.tasks) {
            order.push_back(t.address);
            for (std::uint64_t a : t.awaited_by) {
                auto it = ix.tasks.find(a);
                awaits.push_back({a, it == ix.tasks.end() ? &no_frames : &it->second->frames, t.address});
            }
        }
    auto name_of = [&](std::uint64_t id) {
        auto it = ix.tasks.find(id);
        return it == ix.tasks.end() ? hex(id) : it->second->name;
    };

    // Cycles in the task graph (tools._find_cycles: depth-first search for back edges).
    std::map<std::uint64_t, std::vector<std::uint64_t>> graph;
    std::vector<std::uint64_t> graph_order;
    for (const Await& a : awaits) {
        if (!graph.count(a.parent)) graph_order.push_back(a.parent);
        auto& kids = graph[a.parent];
        if (std::find(kids.begin(), kids.end(), a.child) == kids.end()) kids.push_back(a.child);
    }
    std::map<std::uint64_t, int> color;  // 0 white, 1 grey, 2 black
    std::vector<std::uint64_t> path;
    std::vector<std::vector<std::uint64_t>> cycles;
    std::function<void(std::uint64_t)> dfs = [&](std::uint64_t v) {
        color[v] = 1;
        path.push_back(v);
        auto g = graph.find(v);
        if (g != graph.end())
            for (std::uint64_t w : g->second) {
                if (color[w] == 0) {
                    dfs(w);
                } else if (color[w] == 1) {
                    auto at = std::find(path.begin(), path.end(), w);
                    std::vector<std::uint64_t> c(at, path.end());
                    c.push_back(w);
                    cycles.push_back(std::move(c));
                }
            }
        color[v] = 2;
        path.pop_back();
    };
    for (std::uint64_t v : graph_order)
        if (color[v] == 0) dfs(v);
    if (!cycles.empty()) {
        err << "ERROR: await-graph contains cycles - cannot print a tree!\n\n";
        for (const auto& c : cycles) {
            std::string line;
            for (std::uint64_t id : c) line += (line.empty() ? "" : " \u2192 ") + name_of(id);
            err << "cycle: " << line << '\n';
        }
        return false;
    }

    // The tree (tools._build_tree): a node is a task or a coroutine frame under its parent.
    struct Node {
        std::string label;
        std::vector<int> children;
        std::map<std::string, int> frames;  // frame label -> child node
    };
    std::vector<Node> nodes;
    std::unordered_map<std::uint64_t, int> task_node;
    auto node_of_task = [&](std::uint64_t id) {
        auto it = task_node.find(id);
        if (it != task_node.end()) return it->second;
        nodes.push_back({"(T) " + name_of(id), {}, {}});
        return task_node[id] = static_cast<int>(nodes.size() - 1);
    };
    for (std::uint64_t id : order) node_of_task(id);
    auto frame_node = [&](int parent, const Frame& f) {
        const std::string label = frame_label(f);
        auto it = nodes[static_cast<std::size_t>(parent)].frames.find(label);
        if (it != nodes[static_cast<std::size_t>(parent)].frames.end()) return it->second;
        nodes.push_back({" " + label, {}, {}});
        const int n = static_cast<int>(nodes.size() - 1);
        nodes[static_cast<std::size_t>(parent)].children.push_back(n);
        nodes[static_cast<std::size_t>(parent)].frames[label] = n;
        return n;
    };
    std::set<int> is_child;
    for (const Await& a : awaits) {
        int cur = node_of_task(a.parent);
        for (auto f = a.stack->rbegin(); f != a.stack->rend(); ++f) cur = frame_node(cur, *f);
        const int child = node_of_task(a.child);
        auto& kids = nodes[static_cast<std::size_t>(cur)].children;
        if (std::find(kids.begin(), kids.end(), child) == kids.end()) kids.push_back(child);
        is_child.insert(child);
    }
    std::set<std::uint64_t> awaiting;
    for (const Await& a : awaits) awaiting.insert(a.parent);
    for (const auto& loop : snap.loops)
        for (const auto& t : loop.tasks) {
            if (awaiting.count(t.address)) continue;
            int cur = node_of_task(t.address);
            for (auto f = t.frames.rbegin(); f != t.frames.rend(); ++f) cur = frame_node(cur, *f);
        }

    std::function<void(int, const std::string&, bool)> render = [&](int n, const std::string& prefix, bool last) {
        out << prefix << (last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ") << nodes[static_cast<std::size_t>(n)].label << '\n';
        const std::string next = prefix + (last ? "    " : "\u2502   ");
        const auto& kids = nodes[static_cast<std::size_t>(n)].children;
        for (std::size_t i = 0; i < kids.size(); ++i) render(kids[i], next, i + 1 == kids.size());
    };
    for (std::uint64_t id : order) {
        const int n = task_node[id];
        if (!is_child.count(n)) render(n, "", true);
    }
    return true;
}

namespace {
template <class Fn>
int guarded(pid_t pid, Fn&& fn) {
    try {
        ProcessSnapshot snap = read_process(pid);
        if (!snap.complete)
            std::cerr << "nogil: warning: process " << pid
                      << " kept changing its tasks while being read; what follows may be incomplete\n";
        return fn(snap);
    } catch (const RemoteError& e) {
        std::cerr << "nogil: error: " << e.what() << '\n';
        if (e.kind == RemoteError::permission) std::cerr << permission_help() << '\n';
        return 1;
    }
}
}  // namespace

int ps_command(pid_t pid, const std::string& format) {
    return guarded(pid, [&](const ProcessSnapshot& snap) {
        print_table(snap, format, std::cout);
        return 0;
    });
}

int pstree_command(pid_t pid) {
    return guarded(pid, [&](const ProcessSnapshot& snap) { return print_tree(snap, std::cout, std::cerr) ? 0 : 1; });
}

}  // namespace nogil_tool::inspect
