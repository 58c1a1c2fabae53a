// See executors.hpp; the walk is described in
// include/nogil/concurrent/futures/detail/debug_offsets.hpp.
#include "inspect/executors.hpp"

#include <nogil/concurrent/futures/detail/debug_offsets.hpp>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace nogil_tool::inspect {

namespace {

using nogil::concurrent::futures::detail::ExecutorDebugOffsets;
using nogil::concurrent::futures::detail::ExecutorRecord;

// Bounds on one read: a torn pointer can make any list look endless.
constexpr std::size_t max_executors = 4096;
constexpr std::size_t max_workers = 4096;
constexpr std::size_t max_queued = std::size_t(1) << 20;  // counted
constexpr std::size_t max_named = 32;                      // named
constexpr int max_tries = 3;

// "a, b<c, d>, e" -> {"a", "b<c, d>", "e"}: the top-level arguments of a template.
std::vector<std::string> template_arguments(const std::string& s) {
    std::vector<std::string> out;
    int depth = 0;
    std::string cur;
    for (char c : s) {
        if (c == '<' || c == '(' || c == '[' || c == '{') ++depth;
        if (c == '>' || c == ')' || c == ']' || c == '}') --depth;
        if (c == ',' && depth == 0) {
            out.push_back(cur);
            cur.clear();
            continue;
        }
        if (!(c == ' ' && cur.empty())) cur += c;
    }
    out.push_back(cur);
    return out;
}

// One spelling of a lambda's type for both compilers: g++ demangles it "f()::{lambda(int)#1}",
// clang, for a lambda with internal linkage, "f()::$_0" (a number per translation unit): both
// become "f()::<lambda>", as frame names do (frame_qualname).
std::string lambda_names(std::string s) {
    for (std::size_t at = s.find("{lambda("); at != std::string::npos; at = s.find("{lambda(", at + 1)) {
        int depth = 0;
        std::size_t end = at;
        for (; end < s.size(); ++end) {
            if (s[end] == '{') ++depth;
            if (s[end] == '}' && --depth == 0) break;
        }
        if (end == s.size()) break;
        s.replace(at, end + 1 - at, "<lambda>");
    }
    for (std::size_t at = s.find("$_"); at != std::string::npos; at = s.find("$_", at + 1)) {
        std::size_t end = at + 2;
        while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        if (end > at + 2) s.replace(at, end - at, "<lambda>");
    }
    return s;
}

class Reader {
public:
    Reader(Memory& mem, const ExecutorDebugOffsets& r) : mem_(mem), r_(r), symbols_(mem.pid()) {}

    std::vector<ExecutorSnapshot> read() {
        std::vector<ExecutorSnapshot> out;
        bool ok = true;
        std::uint64_t record = mem_.word(r_.executors_head, ok);
        std::unordered_set<std::uint64_t> seen;
        while (ok && record && out.size() < max_executors && seen.insert(record).second) {
            ExecutorSnapshot ex;
            if (read_executor(record, ex)) out.push_back(std::move(ex));
            record = mem_.word(record + r_.record_next, ok);
        }
        return out;
    }

private:
    bool read_executor(std::uint64_t record, ExecutorSnapshot& ex) {
        bool ok = true;
        std::uint32_t kind = 0;
        std::int32_t max = 0;
        if (!mem_.get(record + r_.record_kind, kind) || !mem_.get(record + r_.record_max_workers, max)) return false;
        ex.address = record;
        ex.kind = kind == ExecutorRecord::thread_pool ? "thread pool" : kind == ExecutorRecord::process_pool ? "process pool" : "executor";
        ex.max_workers = max;
        ex.name = mem_.c_string(mem_.word(record + r_.record_name, ok));
        const std::uint64_t started_at = mem_.word(record + r_.record_started, ok);
        const std::uint64_t workers_at = mem_.word(record + r_.record_workers, ok);
        const std::uint64_t local_head = mem_.word(record + r_.record_local_head, ok);
        const std::uint64_t local_size = mem_.word(record + r_.record_local_size, ok);
        const std::uint64_t queue_head = mem_.word(record + r_.record_queue_head, ok);
        const std::uint64_t queue_tail = mem_.word(record + r_.record_queue_tail, ok);
        const std::uint64_t stub = mem_.word(record + r_.record_queue_stub, ok);
        std::uint64_t started = mem_.word(started_at, ok);
        if (!ok) return false;
        ex.shut_down = mem_.word(queue_tail, ok) & 1;
        started = std::min<std::uint64_t>({started, static_cast<std::uint64_t>(std::max(max, 0)), max_workers});

        std::vector<std::uint64_t> slots;
        for (std::uint64_t i = 0; i < started && ok; ++i) slots.push_back(mem_.word(workers_at + 8 * i, ok));
        if (!ok) return false;
        for (std::uint64_t slot : slots) {
            WorkerSnapshot w;
            std::int32_t tid = 0;
            if (!mem_.get(slot + r_.slot_tid, tid)) return false;
            w.tid = tid;
            w.call = running_call(slot);
            ex.workers.push_back(std::move(w));
        }
        // What runs next: each worker's batch (taken from the queue already), then the queue.
        for (std::uint64_t slot : slots) {
            const std::uint64_t n = std::min<std::uint64_t>(mem_.word(slot + local_size, ok), max_queued);
            walk(mem_.word(slot + local_head, ok), n, 0, ex);
        }
        walk(mem_.word(queue_head, ok), max_queued, stub, ex);
        return true;
    }

    // Up to `limit` items from `item` on (the stub skipped), counted and the first named.
    void walk(std::uint64_t item, std::uint64_t limit, std::uint64_t stub, ExecutorSnapshot& ex) {
        std::unordered_set<std::uint64_t> seen;
        for (std::uint64_t k = 0; item && k < limit && seen.insert(item).second; ++k) {
            if (item != stub) {
                ++ex.queued;
                if (ex.queued_calls.size() < max_named) ex.queued_calls.push_back(call_name(item));
            }
            bool ok = true;
            item = mem_.word(item + r_.item_next, ok);
            if (!ok) break;
        }
    }

    // The worker's call; read again until the item stayed the same while it was named.
    std::string running_call(std::uint64_t slot) {
        std::string name;
        for (int attempt = 0; attempt < max_tries; ++attempt) {
            bool ok = true;
            const std::uint64_t item = mem_.word(slot + r_.slot_running, ok);
            if (!ok || !item) return "";
            name = call_name(item);
            if (mem_.word(slot + r_.slot_running, ok) == item && ok) return name;
        }
        return name;
    }

    // The item's dynamic type (vtable → type_info → name), and for a WorkItem<R, F, Args...>
    // what F names: the function a function pointer points to, else F's type.
    std::string call_name(std::uint64_t item) {
        bool ok = true;
        const std::uint64_t vptr = mem_.word(item, ok);
        const std::uint64_t type_info = ok && vptr >= 8 ? mem_.word(vptr - 8, ok) : 0;
        const std::uint64_t mangled = ok && type_info ? mem_.word(type_info + 8, ok) : 0;
        if (!ok || !mangled) return "?";
        const std::string raw = mem_.c_string(mangled);
        const std::string type = demangle(raw);
        constexpr std::string_view work_item = "nogil::concurrent::futures::detail::WorkItem<";
        if (!type.starts_with(work_item) || !type.ends_with('>')) return type;
        const auto args = template_arguments(type.substr(work_item.size(), type.size() - work_item.size() - 1));
        if (args.size() < 2) return type;
        const std::string callable = lambda_names(args[1]);
        if (callable.find("(*)") != std::string::npos) {
            const std::uint64_t offset = call_offset(raw);
            const std::uint64_t target = offset ? mem_.word(item + offset, ok) : 0;
            if (ok && target) {
                std::string fn = symbols_.function_at(target);
                if (!fn.empty()) return fn;
            }
        }
        return callable;
    }

    // WorkItem<R, F, Args...>::nogil_ps_call_offset of the type named `mangled` ("N...E"), read
    // from the target; 0 if the program has no such symbol (stripped).
    std::uint64_t call_offset(const std::string& mangled) {
        auto it = offsets_.find(mangled);
        if (it != offsets_.end()) return it->second;
        const std::string name = mangled.substr(mangled.starts_with('*') ? 1 : 0);
        std::uint64_t offset = 0;
        if (name.size() > 2 && name.front() == 'N' && name.back() == 'E') {
            const std::uint64_t at = find_symbol(mem_.pid(), "_Z" + name.substr(0, name.size() - 1) + "20nogil_ps_call_offsetE");
            if (at && !mem_.get(at, offset)) offset = 0;
        }
        return offsets_[mangled] = offset;
    }

    Memory& mem_;
    const ExecutorDebugOffsets& r_;
    Symbolizer symbols_;
    std::unordered_map<std::string, std::uint64_t> offsets_;  // per item type: nogil_ps_call_offset
};

}  // namespace

std::vector<ExecutorSnapshot> read_executors(Memory& mem, std::uint64_t record_address) {
    ExecutorDebugOffsets r{};
    const pid_t pid = mem.pid();
    if (!mem.read(record_address, &r, offsetof(ExecutorDebugOffsets, executors_head)))
        throw RemoteError(RemoteError::bad_record, "cannot read nogil_executor_debug_offsets in process " + std::to_string(pid));
    if (std::strncmp(r.cookie, "nogil-exec-v1", sizeof r.cookie) != 0 || r.version != 1)
        throw RemoteError(RemoteError::bad_record, "process " + std::to_string(pid) +
                                                       " has an executor debug record of another version (this nogil reads version 1)");
    if (r.size < sizeof(ExecutorDebugOffsets) || !mem.read(record_address, &r, sizeof r))
        throw RemoteError(RemoteError::bad_record, "process " + std::to_string(pid) + " has a truncated executor debug record");
    return Reader(mem, r).read();
}

}  // namespace nogil_tool::inspect
