// See remote.hpp. The record's fields and the walk are described in
// include/nogil/asyncio/detail/debug_offsets.hpp; the awaiter rules in
// include/nogil/asyncio/detail/introspection.hpp.
#include "inspect/remote.hpp"
#include "inspect/executors.hpp"
#include "inspect/process_memory.hpp"

#include <nogil/asyncio/detail/debug_offsets.hpp>
#include <nogil/asyncio/detail/introspection.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace nogil_tool::inspect {

namespace {

using nogil::asyncio::detail::DebugOffsets;
using nogil::asyncio::detail::LinkKind;

// Bounds on what one snapshot reads: a torn pointer can make any list look endless.
constexpr std::size_t max_loops = 4096;
constexpr std::size_t max_frames = 1024;
constexpr std::size_t max_callbacks = 4096;
constexpr std::size_t max_kinds = 65536;
constexpr int max_composite_depth = 32;

// --------------------------------------------------------------------------- the walk

class Walker {
public:
    Walker(Memory& mem, const DebugOffsets& r) : mem_(mem), r_(r) { read_kinds(); }

    /// One try at the whole process; false if something did not hold together.
    bool snapshot(ProcessSnapshot& out) {
        bool ok = true;
        out.loops.clear();
        std::uint64_t loop = mem_.word(r_.loops_head, ok);
        std::unordered_set<std::uint64_t> seen_loops;
        while (ok && loop && out.loops.size() < max_loops) {
            if (!seen_loops.insert(loop).second) return false;
            LoopSnapshot ls;
            ls.address = loop;
            std::int32_t tid = 0;
            if (!mem_.get(loop + r_.loop_running_tid, tid)) return false;
            ls.tid = tid;
            const std::uint64_t count = mem_.word(loop + r_.loop_task_count, ok);
            running_task_ = mem_.word(loop + r_.loop_running_task, ok);
            running_frame_ = mem_.word(loop + r_.loop_running_frame, ok);
            std::uint64_t task = mem_.word(loop + r_.loop_tasks_head, ok);
            std::unordered_set<std::uint64_t> seen;
            while (ok && task) {
                if (seen.size() > count + 1024 || !seen.insert(task).second) return false;
                TaskSnapshot ts;
                if (!read_task(task, ts)) return false;
                ls.tasks.push_back(std::move(ts));
                task = mem_.word(task + r_.task_reg_next, ok);
            }
            std::reverse(ls.tasks.begin(), ls.tasks.end());  // creation order, as all_tasks()
            out.loops.push_back(std::move(ls));
            loop = mem_.word(loop + r_.loop_next, ok);
        }
        return ok;
    }

private:
    void read_kinds() {
        bool ok = true;
        std::uint64_t k = mem_.word(r_.link_kinds_head, ok);
        for (std::size_t i = 0; ok && k && i < max_kinds; ++i) {
            const std::uint64_t fn = mem_.word(k + r_.kind_fn, ok);
            std::uint32_t kind = 0;
            std::int32_t offset = 0;
            if (!mem_.get(k + r_.kind_kind, kind) || !mem_.get(k + r_.kind_offset, offset)) break;
            kinds_[fn] = {kind, offset};
            k = mem_.word(k + r_.kind_next, ok);
        }
    }

    bool read_task(std::uint64_t task, TaskSnapshot& ts) {
        ts.address = task;
        std::uint8_t state = 0, flags = 0;
        std::uint16_t frame_offset = 0;
        std::uint32_t id = 0;
        if (!mem_.get(task + r_.future_state, state) || !mem_.get(task + r_.task_flags, flags) ||
            !mem_.get(task + r_.task_frame_offset, frame_offset) || !mem_.get(task + r_.task_id, id))
            return false;
        if (state != 0) return false;  // a registered task is pending: this one was torn
        bool ok = true;
        const std::uint64_t slot = mem_.word(task + r_.future_slot, ok);
        if (!ok) return false;
        ts.name = task_name(slot, id);
        if (flags & r_.task_frame_alive_bit) read_frames(task, task + frame_offset, ts.frames);
        add_awaiters(slot, ts.awaited_by, 0);
        return true;
    }

    std::string task_name(std::uint64_t slot, std::uint32_t id) {
        if ((slot & 1) && r_.string_size != r_.string_data) {
            bool ok = true;
            const std::uint64_t s = (slot & ~std::uint64_t(1)) + r_.extras_task_name;
            const std::uint64_t data = mem_.word(s + r_.string_data, ok);
            const std::uint64_t size = mem_.word(s + r_.string_size, ok);
            if (ok && size > 0 && size <= max_string) {
                std::string name(size, '\0');
                if (mem_.read(data, name.data(), size)) return name;
            }
        }
        return "Task-" + std::to_string(id);
    }

    // From the innermost frame out to the root (debug_offsets.hpp): innermost first.
    void read_frames(std::uint64_t task, std::uint64_t root, std::vector<Frame>& frames) {
        bool ok = true;
        std::uint64_t frame = task == running_task_ ? running_frame_ : mem_.word(root + r_.promise_in_frame + r_.promise_continuation, ok);
        if (!ok) return;
        if (!frame) frame = root;  // not started yet
        while (frames.size() < max_frames) {
            const std::uint64_t promise = frame + r_.promise_in_frame;
            const std::uint64_t where = mem_.word(promise + r_.promise_where, ok);
            const std::uint64_t next = mem_.word(promise + r_.promise_continuation, ok);
            if (!ok || !where) break;
            const std::uint64_t file = mem_.word(where + r_.location_file, ok);
            const std::uint64_t function = mem_.word(where + r_.location_function, ok);
            std::uint32_t line = 0;
            if (!ok || !mem_.get(where + r_.location_line, line)) break;
            frames.push_back({nogil::asyncio::detail::frame_qualname(mem_.c_string(function)), mem_.c_string(file), line});
            if (frame == root || !next) break;
            frame = next;
        }
    }

    void add_awaiters(std::uint64_t slot, std::vector<std::uint64_t>& out, int depth) {
        std::vector<std::uint64_t> links;
        bool ok = true;
        if (slot & 1) {
            const std::uint64_t v = (slot & ~std::uint64_t(1)) + r_.extras_callbacks;
            const std::uint64_t begin = mem_.word(v + r_.vector_begin, ok);
            const std::uint64_t end = mem_.word(v + r_.vector_end, ok);
            if (!ok || end < begin || r_.entry_size == 0) return;
            const std::uint64_t n = std::min<std::uint64_t>((end - begin) / r_.entry_size, max_callbacks);
            for (std::uint64_t i = 0; i < n && ok; ++i) links.push_back(mem_.word(begin + i * r_.entry_size + r_.entry_link, ok));
        } else if (slot) {
            links.push_back(slot);
        }
        for (std::uint64_t link : links) {
            if (!link) continue;  // a user's callback
            bool lok = true;
            const std::uint64_t fn = mem_.word(link + r_.link_fn, lok);
            const std::uint64_t ctx = mem_.word(link + r_.link_ctx, lok);
            auto it = kinds_.find(fn);
            if (!lok || it == kinds_.end() || !ctx) continue;
            const auto [kind, offset] = it->second;
            std::uint64_t awaiter = 0;
            if (kind == LinkKind::awaiting_task) {
                awaiter = ctx;
            } else if (kind == LinkKind::task_group) {
                awaiter = mem_.word(ctx + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset)), lok);
            } else if (kind == LinkKind::composite && depth < max_composite_depth) {
                const std::uint64_t fut = ctx + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset));
                const std::uint64_t fslot = mem_.word(fut + r_.future_slot, lok);
                if (lok) add_awaiters(fslot, out, depth + 1);
            }
            if (lok && awaiter && std::find(out.begin(), out.end(), awaiter) == out.end()) out.push_back(awaiter);
        }
    }

    Memory& mem_;
    const DebugOffsets& r_;
    std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::int32_t>> kinds_;
    std::uint64_t running_task_ = 0;  // of the loop being read
    std::uint64_t running_frame_ = 0;
};

}  // namespace

std::string permission_help() {
    std::string scope;
    std::ifstream in("/proc/sys/kernel/yama/ptrace_scope");
    if (in) std::getline(in, scope);
    const std::string yama = scope.empty()
        ? std::string("This kernel has no Yama ptrace_scope: only the process's own user (or root) may read it.\n")
        : "This kernel's Yama ptrace_scope is " + scope +
              " (/proc/sys/kernel/yama/ptrace_scope; 1 = only a process's ancestors may read it).\n";
    return "Reading another process's memory needs ptrace permission (what a debugger needs).\n" + yama +
           "Either:\n"
           "  - run nogil as root, or give it CAP_SYS_PTRACE once:\n"
           "      sudo setcap cap_sys_ptrace+ep \"$(command -v nogil)\"\n"
           "  - or allow any process of the same user (until reboot):\n"
           "      echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope\n"
           "In a container, start it with --cap-add=SYS_PTRACE.";
}

std::uint64_t find_symbol(pid_t pid, const std::string& symbol) {
    for (const auto& [path, start] : mapped_files(pid)) {
        std::uint64_t value = 0, first_load = 0;
        // The file as the target sees it (its mount namespace), else by name.
        if (!elf_symbol("/proc/" + std::to_string(pid) + "/root" + path, symbol, value, first_load) &&
            !elf_symbol(path, symbol, value, first_load))
            continue;
        return start - first_load + value;
    }
    return 0;
}

ProcessSnapshot read_process(pid_t pid) {
    if (pid <= 0) throw RemoteError(RemoteError::no_process, "invalid PID " + std::to_string(pid));
    const std::uint64_t address = find_symbol(pid, "nogil_debug_offsets");
    const std::uint64_t executors = find_symbol(pid, "nogil_executor_debug_offsets");
    if (!address && !executors)
        throw RemoteError(RemoteError::not_nogil,
                          "process " + std::to_string(pid) +
                              " does not use nogil's asyncio or executors: none of its mapped files defines the symbol "
                              "nogil_debug_offsets or nogil_executor_debug_offsets (a stripped binary keeps none either)");
    Memory mem(pid);
    ProcessSnapshot snap;
    snap.pid = pid;
    if (executors) snap.executors = read_executors(mem, executors);
    if (!address) return snap;  // executors only: a program that uses no asyncio
    DebugOffsets r{};
    if (!mem.read(address, &r, offsetof(DebugOffsets, loops_head)))
        throw RemoteError(RemoteError::bad_record, "cannot read nogil_debug_offsets in process " + std::to_string(pid));
    if (std::strncmp(r.cookie, "nogil-debug-v1", sizeof r.cookie) != 0 || r.version != 1)
        throw RemoteError(RemoteError::bad_record, "process " + std::to_string(pid) +
                                                       " has a nogil debug record of another version (this nogil reads version 1)");
    if (r.size < sizeof(DebugOffsets) || !mem.read(address, &r, sizeof r))
        throw RemoteError(RemoteError::bad_record, "process " + std::to_string(pid) + " has a truncated nogil debug record");
    Walker walker(mem, r);
    for (int attempt = 0; attempt < 3; ++attempt)
        if (walker.snapshot(snap)) return snap;
    snap.complete = false;
    return snap;
}

}  // namespace nogil_tool::inspect
