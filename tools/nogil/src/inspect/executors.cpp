// See executors.hpp; the walk is described in
// include/nogil/concurrent/futures/detail/debug_offsets.hpp.
#include "inspect/executors.hpp"

#include <nogil/concurrent/futures/detail/debug_offsets.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace nogil_tool::inspect {

namespace {

using nogil::concurrent::futures::detail::ExecutorDebugOffsets;
using nogil::concurrent::futures::detail::ExecutorRecord;
using nogil::concurrent::futures::detail::MpiPoolDebugOffsets;

// Bounds on one read: a torn pointer can make any list look endless.
constexpr std::size_t max_executors = 4096;
constexpr std::size_t max_workers = 4096;
constexpr std::size_t max_queued = std::size_t(1) << 20;  // counted
constexpr std::size_t max_named = 32;                      // named
constexpr int max_tries = 3;
// A busy pool's mutex is taken all the time, and a read of it takes some twenty system calls
// (tens of microseconds): it is tried again up to this many times (tens of milliseconds).
constexpr int max_pool_tries = 1000;
constexpr std::size_t max_depth = 4096;  // tasks read of a process pool worker's pipeline (64 at most)

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

// A captureless lambda sent to a process pool is called through its static invoker, whose
// symbol names the lambda: "f()::<lambda>::_FUN()" (g++) or "f()::<lambda>::__invoke()" (clang),
// once lambda_names spelled the lambda. Both become "f()::<lambda>", as a thread pool shows it.
std::string lambda_invoker(std::string s) {
    for (std::string_view invoker : {"<lambda>::_FUN(", "<lambda>::__invoke("}) {
        const std::size_t at = s.rfind(invoker);
        if (at != std::string::npos && s.ends_with(')')) return s.substr(0, at + std::string_view("<lambda>").size());
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
        if (kind == ExecutorRecord::process_pool) return read_process_pool(record, ex);
        if (kind == ExecutorRecord::mpi_pool) return read_mpi_pool(record, ex);
        if (kind == ExecutorRecord::mp_pool) return r_.size >= sizeof(ExecutorDebugOffsets) && read_mp_pool(record, ex);
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

    // ---- process pools: the manager's state, read as a seqlock (debug_offsets.hpp) -------------

    struct QueuedTask {
        std::uint64_t address = 0;  // in the target
        std::uint64_t id = 0;
        std::string call;  // named for the first max_named of the pool only
    };

    // A std::deque<Task>: how many tasks, and the first `limit` of them (id and call). False
    // when its iterators do not hold together (a torn read).
    // A deque's element: its size, how many a node holds, where its id is.
    // A deque's element: its size, how many a node holds, where its id is; and the deque's
    // iterators (libstdc++'s: the same for every element type).
    struct TaskLayout {
        std::uint64_t size, per_node, id;
        std::uint64_t start, finish, cur, first, node;
    };
    TaskLayout process_pool_task() const { return deque_of(r_.task_size, r_.deque_elements, r_.task_id); }
    TaskLayout mp_pool_task() const { return deque_of(r_.mp_task_size, r_.mp_deque_elements, r_.mp_task_id); }
    TaskLayout deque_of(std::uint64_t size, std::uint64_t per_node, std::uint64_t id) const {
        return {size, per_node, id, r_.deque_start, r_.deque_finish, r_.iterator_cur, r_.iterator_first, r_.iterator_node};
    }
    static TaskLayout deque_of(const MpiPoolDebugOffsets& m, std::uint64_t size, std::uint64_t per_node, std::uint64_t id) {
        return {size, per_node, id, m.deque_start, m.deque_finish, m.iterator_cur, m.iterator_first, m.iterator_node};
    }

    bool read_tasks(std::uint64_t deque, std::size_t limit, std::size_t& size, std::vector<QueuedTask>& out) {
        return read_tasks(deque, process_pool_task(), limit, size, out);
    }
    bool read_tasks(std::uint64_t deque, const TaskLayout& layout, std::size_t limit, std::size_t& size,
                    std::vector<QueuedTask>& out) {
        struct Iterator {
            std::uint64_t cur, first, node;
        };
        const std::uint64_t elem = layout.size, per = layout.per_node, node_bytes = elem * per;
        if (!elem || !per) return false;
        auto iterator = [&](std::uint64_t at, Iterator& it) {
            bool ok = true;
            it = {mem_.word(at + layout.cur, ok), mem_.word(at + layout.first, ok), mem_.word(at + layout.node, ok)};
            return ok && it.cur >= it.first && it.cur <= it.first + node_bytes && (it.cur - it.first) % elem == 0;
        };
        Iterator s, f;
        if (!iterator(deque + layout.start, s) || !iterator(deque + layout.finish, f) || f.node < s.node ||
            (f.node - s.node) % 8 != 0 || (f.node - s.node) / 8 > max_queued / per + 1)
            return false;
        const std::uint64_t before = (s.cur - s.first) / elem, in_last = (f.cur - f.first) / elem;
        const std::uint64_t n = per * ((f.node - s.node) / 8) + in_last;
        if (n < before) return false;
        size = static_cast<std::size_t>(n - before);
        std::vector<unsigned char> buffer(node_bytes);
        std::uint64_t node = s.node, first = s.first, cur = s.cur;
        while (out.size() < limit) {
            const std::uint64_t end = node == f.node ? f.cur : first + node_bytes;
            if (end < cur || end - cur > node_bytes) return false;  // torn: not one node's tasks
            if (end > cur && !mem_.read(cur, buffer.data(), end - cur)) return false;
            for (std::uint64_t p = 0; p < end - cur && out.size() < limit; p += elem) {
                QueuedTask t;
                t.address = cur + p;
                std::memcpy(&t.id, buffer.data() + p + layout.id, sizeof t.id);
                out.push_back(std::move(t));
            }
            if (node == f.node) break;
            bool ok = true;
            node += 8;
            first = cur = mem_.word(node, ok);
            if (!ok) return false;
        }
        return true;
    }

    // What the task at `task` calls: its FunctionId named with the target's symbol tables.
    std::string task_call(std::uint64_t task) { return function_name(task + r_.task_object, task + r_.task_offset); }

    // A FunctionId {object (std::string at `object`), offset (at `offset`)} named.
    std::string function_name(std::uint64_t object_at, std::uint64_t offset_at) {
        bool ok = true;
        const std::uint64_t offset = mem_.word(offset_at, ok);
        const std::uint64_t data = mem_.word(object_at + r_.string_data, ok);
        const std::uint64_t length = mem_.word(object_at + r_.string_size, ok);
        if (!ok || length > max_string) return "?";
        std::string object(length, '\0');
        if (length && !mem_.read(data, object.data(), length)) return "?";
        const auto key = std::make_pair(object, offset);
        auto it = functions_.find(key);
        if (it != functions_.end()) return it->second;
        std::string name = lambda_invoker(lambda_names(symbols_.function_in(object, offset)));
        if (name.empty()) name = fmt_offset(object.empty() ? "the executable" : object, offset);
        return functions_[key] = name;
    }

    static std::string fmt_offset(const std::string& object, std::uint64_t offset) {
        char hex[32];
        std::snprintf(hex, sizeof hex, "%#llx", static_cast<unsigned long long>(offset));
        std::string out = object;
        out.append(1, '+').append(hex);
        return out;
    }

    // One read of the pool at `pool` into `ex` (its workers, their calls, the queue). False when
    // something did not hold together.
    bool read_pool_once(std::uint64_t pool, ExecutorSnapshot& ex) {
        bool ok = true;
        clear_contents(ex);
        std::uint8_t shutdown = 0;
        if (!mem_.get(pool + r_.pool_shutdown, shutdown)) return false;
        ex.shut_down = shutdown != 0;
        const std::uint64_t broken_length = mem_.word(pool + r_.pool_broken + r_.string_size, ok);
        if (ok && broken_length > 0) {
            const std::uint64_t data = mem_.word(pool + r_.pool_broken + r_.string_data, ok);
            ex.broken.assign(std::min<std::uint64_t>(broken_length, 256), '\0');
            if (!ok || !mem_.read(data, ex.broken.data(), ex.broken.size())) ex.broken.assign(1, '?');  // (not = "?": g++ 12 -Wrestrict)
        }
        const std::uint64_t begin = mem_.word(pool + r_.pool_workers + r_.vector_begin, ok);
        const std::uint64_t end = mem_.word(pool + r_.pool_workers + r_.vector_end, ok);
        if (!ok || end < begin || (end - begin) % 8 != 0 || (end - begin) / 8 > max_workers) return false;
        std::vector<std::uint64_t> workers((end - begin) / 8);
        if (!workers.empty() && !mem_.read(begin, workers.data(), end - begin)) return false;
        std::vector<QueuedTask> queue;  // in the order they will run
        for (std::uint64_t w : workers) {
            WorkerSnapshot ws;
            std::int32_t pid = 0;
            if (!mem_.get(w + r_.worker_pid, pid)) return false;
            ws.tid = pid;
            ws.dead = pid > 0 && !process_alive(pid);
            const std::uint64_t note = mem_.word(mem_.word(w + r_.worker_running, ok), ok);  // shared memory
            if (!ok) return false;
            // A worker runs its tasks in the order it was sent them; those after the one it runs
            // (or last finished) are queued in it. Those before were answered, not yet read.
            std::size_t size = 0;
            std::vector<QueuedTask> inflight;
            if (!read_tasks(w + r_.worker_inflight, max_depth, size, inflight)) return false;
            const std::uint64_t id = note >> 1;
            for (std::size_t i = 0; i < inflight.size(); ++i) {
                if ((note & 1) && inflight[i].id == id) ws.call = task_call(inflight[i].address);
                if (inflight[i].id > id) {
                    queue.push_back(inflight[i]);
                    queue.back().call = queue.size() <= max_named ? task_call(inflight[i].address) : "";
                }
            }
            if ((note & 1) && ws.call.empty()) ws.call.assign(1, '?');  // answered and read meanwhile
            ex.workers.push_back(std::move(ws));
        }
        std::size_t pending = 0;
        std::vector<QueuedTask> first;
        const std::size_t room = queue.size() < max_named ? max_named - queue.size() : 0;
        if (!read_tasks(pool + r_.pool_pending, room, pending, first)) return false;
        for (std::size_t i = 0; i < first.size(); ++i) first[i].call = task_call(first[i].address);
        ex.queued = queue.size() + pending;
        for (auto& t : queue)
            if (ex.queued_calls.size() < max_named) ex.queued_calls.push_back(std::move(t.call));
        for (auto& t : first)
            if (ex.queued_calls.size() < max_named) ex.queued_calls.push_back(std::move(t.call));
        return true;
    }

    bool read_process_pool(std::uint64_t record, ExecutorSnapshot& ex) {
        ex.processes = true;
        bool ok = true;
        const std::uint64_t pool = mem_.word(record + r_.record_pool, ok);
        if (!ok || !pool || !r_.deque_elements || !r_.task_size) return false;  // another standard library
        return read_as_seqlock({pool + r_.pool_sections}, ex, [&] { return read_pool_once(pool, ex); });
    }

    // Reads with `once` until a read held together between two looks at each count in `counts`
    // that were even and equal (nobody changed what it guards meanwhile), up to max_pool_tries.
    // Then what one more read sees, marked torn: the pool is listed even when that read did not
    // hold together (the registry says it exists).
    template <class Once>
    bool read_as_seqlock(std::initializer_list<std::uint64_t> counts, ExecutorSnapshot& ex, Once once) {
        std::vector<std::uint64_t> before(counts.size());
        for (int attempt = 0; attempt < max_pool_tries; ++attempt) {
            bool ok = true, changing = false;
            std::size_t i = 0;
            for (std::uint64_t at : counts) changing |= (before[i++] = mem_.word(at, ok)) & 1;
            if (!ok) return false;
            if (changing) {  // held: let the holder finish
                ::sched_yield();
                continue;
            }
            if (!once()) continue;
            bool same = true;
            i = 0;
            for (std::uint64_t at : counts) same = same && mem_.word(at, ok) == before[i++];
            if (same && ok) return true;
        }
        ex.torn = true;
        once();
        return true;
    }

    void clear_contents(ExecutorSnapshot& ex) {
        ex.workers.clear();
        ex.queued = 0;
        ex.queued_calls.clear();
        ex.broken.clear();
    }

    // ---- multiprocessing::Pool: its queue under its mutex's count, its workers under the
    // manager's own count (debug_offsets.hpp) --------------------------------------------------

    // What the Pending at `task` calls, as the user wrote it: the function given to apply, or
    // the one given to map (the call itself runs the chunk) with the chunk's number.
    std::string mp_task_call(std::uint64_t task) {
        bool ok = true;
        const std::uint64_t label = mem_.word(task + r_.mp_label, ok);
        if (!ok) return "?";
        if (!label) return function_name(task + r_.mp_task_object, task + r_.mp_task_offset);
        std::string name = function_name(label + r_.mp_label_object, label + r_.mp_label_offset);
        const std::uint64_t chunk = mem_.word(label + r_.mp_label_chunk, ok);
        const std::uint64_t chunks = mem_.word(label + r_.mp_label_chunks, ok);
        if (ok && chunk) name += chunks ? ", chunk " + std::to_string(chunk) + " of " + std::to_string(chunks) : ", chunk " + std::to_string(chunk);
        return name;
    }

    bool read_mp_pool_once(std::uint64_t pool, ExecutorSnapshot& ex) {
        bool ok = true;
        clear_contents(ex);
        std::uint8_t state = 0, broken = 0;
        if (!mem_.get(pool + r_.mp_state, state) || !mem_.get(pool + r_.mp_broken, broken)) return false;
        ex.shut_down = state != 0;
        ex.shut_down_as = state == 1 ? "closed" : state == 2 ? "terminated" : "";
        if (broken) ex.broken = "its workers keep dying";
        const std::uint64_t begin = mem_.word(pool + r_.mp_view + r_.vector_begin, ok);
        const std::uint64_t end = mem_.word(pool + r_.mp_view + r_.vector_end, ok);
        const std::uint64_t size = r_.mp_view_size;
        if (!ok || !size || end < begin || (end - begin) % size != 0 || (end - begin) / size > max_workers) return false;
        std::vector<unsigned char> view(end - begin);
        if (!view.empty() && !mem_.read(begin, view.data(), view.size())) return false;
        for (std::uint64_t at = 0; at < view.size(); at += size) {
            WorkerSnapshot ws;
            std::int32_t pid = 0;
            std::uint64_t task = 0;
            std::memcpy(&pid, view.data() + at + r_.mp_view_pid, sizeof pid);
            std::memcpy(&task, view.data() + at + r_.mp_view_task, sizeof task);
            ws.tid = pid;
            ws.dead = pid > 0 && !process_alive(pid);
            if (task) ws.call = mp_task_call(task);
            ex.workers.push_back(std::move(ws));
        }
        std::vector<QueuedTask> first;
        if (!read_tasks(pool + r_.mp_pending, mp_pool_task(), max_named, ex.queued, first)) return false;
        for (const auto& t : first) ex.queued_calls.push_back(mp_task_call(t.address));
        return true;
    }

    bool read_mp_pool(std::uint64_t record, ExecutorSnapshot& ex) {
        ex.processes = true;
        ex.kind = "multiprocessing pool";
        bool ok = true;
        const std::uint64_t pool = mem_.word(record + r_.record_pool, ok);
        if (!ok || !pool || !r_.mp_deque_elements || !r_.mp_task_size) return false;  // another standard library
        return read_as_seqlock({pool + r_.mp_changes, pool + r_.mp_sections}, ex, [&] { return read_mp_pool_once(pool, ex); });
    }

    // ---- MPI pools: what the master knows, under its mutex's count ----------------------------

    bool read_mpi_pool(std::uint64_t record, ExecutorSnapshot& ex) {
        ex.processes = true;
        ex.mpi = true;
        ex.kind = "MPI pool";
        if (r_.size < offsetof(ExecutorDebugOffsets, record_layout) + sizeof r_.record_layout) return false;
        bool ok = true;
        const std::uint64_t pool = mem_.word(record + r_.record_pool, ok);
        const std::uint64_t layout = mem_.word(record + r_.record_layout, ok);
        MpiPoolDebugOffsets m{};
        if (!ok || !pool || !mem_.get(layout, m) || std::strncmp(m.cookie, "nogil-mpi-v1", sizeof m.cookie) != 0 ||
            m.version != 1 || m.size < sizeof m || !m.task_elements || !m.worker_elements)
            return false;  // another version, or another standard library
        return read_as_seqlock({pool + m.sections}, ex, [&] { return read_mpi_pool_once(pool, m, ex); });
    }

    std::string remote_string(std::uint64_t at, std::size_t limit) {
        bool ok = true;
        const std::uint64_t length = mem_.word(at + r_.string_size, ok);
        const std::uint64_t data = mem_.word(at + r_.string_data, ok);
        if (!ok || length == 0) return "";
        std::string out(std::min<std::uint64_t>(length, limit), '\0');
        if (!mem_.read(data, out.data(), out.size())) return "?";
        return out;
    }

    bool read_mpi_pool_once(std::uint64_t pool, const MpiPoolDebugOffsets& m, ExecutorSnapshot& ex) {
        clear_contents(ex);
        std::int32_t phase = 0;
        std::uint8_t shutdown = 0;
        if (!mem_.get(pool + m.phase, phase) || !mem_.get(pool + m.shutdown, shutdown)) return false;
        ex.shut_down = shutdown != 0;
        if (phase == 3) {
            ex.broken = remote_string(pool + m.broken, 256);
            if (ex.broken.empty()) ex.broken.assign(1, '?');
        }
        std::size_t count = 0;
        std::vector<QueuedTask> workers;  // their addresses
        if (!read_tasks(pool + m.workers, deque_of(m, m.worker_size, m.worker_elements, m.worker_rank), max_workers, count, workers))
            return false;
        std::vector<QueuedTask> queue;  // sent to a worker, behind the call it runs
        for (const auto& w : workers) {
            WorkerSnapshot ws;
            std::int32_t rank = 0, pid = 0;
            std::uint8_t booted = 0;
            if (!mem_.get(w.address + m.worker_rank, rank) || !mem_.get(w.address + m.worker_local_pid, pid) ||
                !mem_.get(w.address + m.worker_booted, booted))
                return false;
            ws.rank = rank;
            ws.tid = pid;
            ws.host = remote_string(w.address + m.worker_host, 256);
            ws.booting = !booted;
            std::vector<QueuedTask> sent;
            if (!read_tasks(w.address + m.worker_in_flight, deque_of(m, m.task_size, m.task_elements, m.task_id), max_named + 1,
                            ws.sent, sent))
                return false;
            for (std::size_t i = 0; i < sent.size(); ++i) {
                std::string name = function_name(sent[i].address + m.task_object, sent[i].address + m.task_offset);
                if (i == 0) {
                    ws.call = std::move(name);
                } else {
                    queue.push_back(sent[i]);
                    queue.back().call = std::move(name);
                }
            }
            if (ws.sent > 1) ex.queued += ws.sent - 1;
            ex.workers.push_back(std::move(ws));
        }
        for (auto& t : queue)
            if (ex.queued_calls.size() < max_named) ex.queued_calls.push_back(std::move(t.call));
        std::size_t pending = 0;
        std::vector<QueuedTask> first;
        const std::size_t room = max_named - ex.queued_calls.size();
        if (!read_tasks(pool + m.pending, deque_of(m, m.task_size, m.task_elements, m.task_id), room, pending, first)) return false;
        for (const auto& t : first) ex.queued_calls.push_back(function_name(t.address + m.task_object, t.address + m.task_offset));
        ex.queued += pending;
        return true;
    }

    // Whether process `pid` lives, `pid` as the target knows it: the target may run in a
    // container, in a PID namespace of its own, where its pids are not ours. So the process is
    // looked up in the target's /proc (/proc/TARGET/root/proc, when it is a procfs), else in
    // ours if the target shares our PID namespace; else nobody can tell here: alive (never
    // called dead on a guess).
    bool process_alive(int pid) {
        if (!proc_known_) {
            proc_known_ = true;
            proc_ = target_proc(mem_.pid());
        }
        if (proc_.empty()) return true;
        std::ifstream stat(proc_ + "/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) return false;
        const auto paren = line.rfind(')');
        return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z' && line[paren + 2] != 'X';
    }

    static std::string target_proc(pid_t target) {
        const std::string proc = "/proc/" + std::to_string(target);
        struct statfs fs {};
        if (::statfs((proc + "/root/proc").c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC) return proc + "/root/proc";
        char ours[64] = {}, theirs[64] = {};
        const ssize_t a = ::readlink("/proc/self/ns/pid", ours, sizeof ours - 1);
        const ssize_t b = ::readlink((proc + "/ns/pid").c_str(), theirs, sizeof theirs - 1);
        if (a > 0 && b > 0) return std::strcmp(ours, theirs) == 0 ? "/proc" : "";
        return a < 0 ? "/proc" : "";  // a kernel without PID namespaces: one /proc
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
    std::map<std::pair<std::string, std::uint64_t>, std::string> functions_;  // FunctionId -> name
    bool proc_known_ = false;
    std::string proc_;  // the target's view of /proc ("": none to be had)
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
    // A record from before process pools ends at record_pool: the rest stays 0 (none listed).
    if (r.size < offsetof(ExecutorDebugOffsets, record_pool) ||
        !mem.read(record_address, &r, std::min<std::size_t>(r.size, sizeof r)))
        throw RemoteError(RemoteError::bad_record, "process " + std::to_string(pid) + " has a truncated executor debug record");
    return Reader(mem, r).read();
}

}  // namespace nogil_tool::inspect
