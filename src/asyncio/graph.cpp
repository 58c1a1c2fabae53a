// Python 3.14's Lib/asyncio/graph.py: capture_call_graph, format_call_graph, print_call_graph.
// Who awaits what is read from the done callbacks (rules 1-3 in
// include/nogil/asyncio/detail/introspection.hpp).
#include <nogil/asyncio/graph.hpp>

#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include "asyncio/detail/introspection_layout.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace nogil::asyncio::detail {

namespace {

void add_awaiters(const FutureBase& f, std::vector<FutureBase*>& out, int depth) {
    auto add = [&](FutureBase* a) {
        if (a && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    };
    DebugLayout::for_each_link(f, [&](const DoneLink& link) {
        const LinkKind* kind = find_link_kind(link.fn);
        if (!kind) return;  // a user's callback, or one that is no await
        char* ctx = static_cast<char*>(link.ctx);
        switch (kind->kind) {
        case LinkKind::awaiting_task:
            add(static_cast<TaskBase*>(static_cast<void*>(ctx)));
            break;
        case LinkKind::task_group:  // the group's parent: a Ref<TaskBase>, one pointer
            add(*reinterpret_cast<TaskBase* const*>(ctx + kind->offset));
            break;
        case LinkKind::composite:  // whoever awaits the composite awaits its children
            if (depth < 32) add_awaiters(*reinterpret_cast<const FutureBase*>(ctx + kind->offset), out, depth + 1);
            break;
        default:
            break;
        }
    });
}

// The stack of a task that is not running, innermost first, cut as Python's
// _build_graph_for_future cuts it (before reversing: outermost first).
std::vector<FrameCallGraphEntry> suspended_stack(const TaskBase& task, const std::optional<int>& limit) {
    if (limit && *limit == 0) return {};
    std::vector<FrameCallGraphEntry> st = task.get_stack();
    if (limit) {
        const std::size_t n = static_cast<std::size_t>(*limit > 0 ? *limit : -*limit);
        if (n < st.size()) {
            if (*limit > 0)
                st.erase(st.begin() + static_cast<std::ptrdiff_t>(n), st.end());
            else
                st.erase(st.begin(), st.end() - static_cast<std::ptrdiff_t>(n));
        }
    }
    std::reverse(st.begin(), st.end());
    return st;
}

FutureCallGraph build(FutureBase* f, const std::optional<int>& limit, std::vector<FutureBase*>& path);

void build_awaited_by(FutureCallGraph& node, FutureBase* f, const std::optional<int>& limit, std::vector<FutureBase*>& path) {
    std::vector<FutureBase*> awaiters;
    add_awaiters(*f, awaiters, 0);
    path.push_back(f);
    for (FutureBase* a : awaiters)
        if (std::find(path.begin(), path.end(), a) == path.end())  // a cycle closes here: cut it
            node.awaited_by.push_back(build(a, limit, path));
    path.pop_back();
}

FutureCallGraph build(FutureBase* f, const std::optional<int>& limit, std::vector<FutureBase*>& path) {
    FutureCallGraph node;
    node.id = reinterpret_cast<std::uintptr_t>(f);
    if (auto* t = dynamic_cast<TaskBase*>(f)) {
        node.task = Task<>(Ref<TaskBase>(t));
        node.call_stack = suspended_stack(*t, limit);
    }
    build_awaited_by(node, f, limit, path);
    return node;
}

FutureCallGraph build_current(TaskBase& task, const CallGraphOptions& options, const std::source_location& where) {
    FutureCallGraph node;
    node.id = reinterpret_cast<std::uintptr_t>(static_cast<FutureBase*>(&task));
    node.task = Task<>(Ref<TaskBase>(&task));
    const std::optional<int>& limit = options.limit;
    if (!limit || *limit != 0) {
        std::vector<FrameCallGraphEntry> st = task.get_stack();
        std::reverse(st.begin(), st.end());
        // The innermost frame is running: its line is the caller's, or the caller is a plain
        // function it called (Python's synchronous frames; only the caller's is known).
        FrameCallGraphEntry caller{frame_qualname(where.function_name()), where.file_name(), where.line(), false};
        if (!st.empty() && st.front().function == caller.function) {
            st.front().file = caller.file;
            st.front().line = caller.line;
        } else {
            st.insert(st.begin(), std::move(caller));
        }
        const std::size_t skip = options.depth > 1 ? static_cast<std::size_t>(options.depth - 1) : 0;
        st.erase(st.begin(), st.begin() + static_cast<std::ptrdiff_t>(std::min(skip, st.size())));
        if (limit) {  // Python negates the limit here: the stack is innermost first already
            const std::size_t n = static_cast<std::size_t>(*limit > 0 ? *limit : -*limit);
            if (n < st.size()) {
                if (*limit > 0)
                    st.erase(st.begin(), st.end() - static_cast<std::ptrdiff_t>(n));
                else
                    st.erase(st.begin() + static_cast<std::ptrdiff_t>(n), st.end());
            }
        }
        node.call_stack = std::move(st);
    }
    std::vector<FutureBase*> path;
    build_awaited_by(node, &task, limit, path);
    return node;
}

// Python's repr() of a str.
std::string py_repr(const std::string& s) {
    const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char quote = use_double ? '"' : '\'';
    std::string out(1, quote);
    for (unsigned char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == static_cast<unsigned char>(quote))
            out += std::string("\\") + quote;
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else
            out += static_cast<char>(c);
    }
    return out + quote;
}

std::string hex_id(std::uintptr_t id) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(id));
    return buf;
}

void render_level(const FutureCallGraph& st, std::vector<std::string>& buf, int level) {
    const std::string indent(static_cast<std::size_t>(level) * 4, ' ');
    auto add_line = [&](const std::string& line) { buf.push_back(indent + line); };
    if (st.is_task())
        add_line("* Task(name=" + py_repr(st.task.get_name()) + ", id=" + hex_id(st.id) + ")");
    else
        add_line("* Future(id=" + hex_id(st.id) + ")");
    if (!st.call_stack.empty()) {
        add_line("  + Call stack:");
        for (const auto& f : st.call_stack)
            add_line("  |   File " + py_repr(f.file) + ", line " + std::to_string(f.line) + ", in " +
                     (f.is_async ? "async " : "") + f.function + "()");
    }
    if (!st.awaited_by.empty()) {
        add_line("  + Awaited by:");
        for (const auto& a : st.awaited_by) render_level(a, buf, level + 1);
    }
}

}  // namespace

FutureCallGraph capture_call_graph(FutureBase* future, const CallGraphOptions& options, const std::source_location& where) {
    if (!future) throw std::invalid_argument("capture_call_graph: an empty Task or Future");
    TaskBase* current = TaskBase::current();
    if (running_loop && current && static_cast<FutureBase*>(current) == future)
        return build_current(*current, options, where);
    std::vector<FutureBase*> path;
    return build(future, options.limit, path);
}

std::string format_call_graph(const FutureCallGraph& graph) {
    std::vector<std::string> buf;
    render_level(graph, buf, 0);
    std::string out;
    for (std::size_t i = 0; i < buf.size(); ++i) {
        if (i) out += '\n';
        out += buf[i];
    }
    return out;
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

std::optional<FutureCallGraph> capture_call_graph(CallGraphOptions options, std::source_location where) {
    if (!detail::running_loop)
        throw std::runtime_error(
            "capture_call_graph() is called outside of a running event loop and no *future* to introspect was provided");
    detail::TaskBase* current = detail::TaskBase::current();
    if (!current) return std::nullopt;
    return detail::capture_call_graph(current, options, where);
}

std::string format_call_graph(CallGraphOptions options, std::source_location where) {
    auto graph = capture_call_graph(options, where);
    return graph ? detail::format_call_graph(*graph) : std::string();
}

void print_call_graph(std::ostream& file, CallGraphOptions options, std::source_location where) {
    file << format_call_graph(options, where) << '\n';
}

}  // namespace nogil::asyncio
