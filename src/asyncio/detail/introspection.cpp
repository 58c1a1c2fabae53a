// The registries `nogil ps` reads (loops, link kinds), the exported debug record, and the
// names of frames. The rules are written in include/nogil/asyncio/detail/introspection.hpp;
// the record's walk in include/nogil/asyncio/detail/debug_offsets.hpp.
#include <nogil/asyncio/detail/introspection.hpp>

#include <nogil/asyncio/task_group.hpp>
#include <nogil/asyncio/detail/debug_offsets.hpp>
#include <nogil/asyncio/detail/future_awaiter.hpp>
#include <nogil/asyncio/detail/future_base.hpp>
#include <nogil/asyncio/detail/loop_core.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include "asyncio/detail/introspection_layout.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>
#include <source_location>

namespace nogil::asyncio::detail {

namespace {
std::mutex loops_mutex;
// Written under loops_mutex; read without it only from another process (torn reads allowed).
LoopCore* loops_head = nullptr;
// The link kinds: two fixed ones, then whatever the composite futures register (never removed).
std::atomic<const LinkKind*> kinds_head{&DebugLayout::group_kind};
}  // namespace

bool register_link_kind(LinkKind& kind) noexcept {
    const LinkKind* head = kinds_head.load(std::memory_order_acquire);
    do {
        kind.next = head;
    } while (!kinds_head.compare_exchange_weak(head, &kind, std::memory_order_acq_rel, std::memory_order_acquire));
    return true;
}

const LinkKind* find_link_kind(void (*fn)(void*, FutureBase&)) noexcept {
    for (const LinkKind* k = kinds_head.load(std::memory_order_acquire); k; k = k->next)
        if (k->fn == fn) return k;
    return nullptr;
}

const LinkKind* link_kinds() noexcept { return kinds_head.load(std::memory_order_acquire); }

void register_loop(LoopCore& loop) noexcept {
    std::lock_guard lock(loops_mutex);
    DebugLayout::link_loop(loop, loops_head);
}

void unregister_loop(LoopCore& loop) noexcept {
    std::lock_guard lock(loops_mutex);
    DebugLayout::unlink_loop(loop, loops_head);
}

// ------------------------------------------------------------------------------ frame names

namespace {
// Index of the bracket that opens the one closing at `close` (s[close] is ')' or '>'), or npos.
std::size_t matching_open(std::string_view s, std::size_t close) {
    int depth = 0;
    for (std::size_t i = close + 1; i-- > 0;) {
        const char c = s[i];
        if (c == ')' || c == '>' || c == ']') ++depth;
        if (c == '(' || c == '<' || c == '[') {
            if (--depth == 0) return i;
        }
    }
    return std::string_view::npos;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
}
}  // namespace

std::string frame_qualname(std::string_view s) {
    // g++ inside a coroutine body: "void NAME(SIG::<mangled>.Frame*)", the actor function:
    // NAME is the coroutine's qualified name (SIG drops the namespace of an unnamed one).
    constexpr std::string_view actor_tail = ".Frame*)";
    bool has_parameters = true;
    if (s.size() > actor_tail.size() && s.ends_with(actor_tail)) {
        const std::size_t open = matching_open(s, s.size() - 1);
        if (open != std::string_view::npos) {
            s = s.substr(0, open);
            has_parameters = false;
        }
    }
    // Template arguments the compilers append: " [with T = int]" (g++), " [T = int]" (clang).
    if (s.ends_with(']')) {
        const std::size_t open = matching_open(s, s.size() - 1);
        if (open != std::string_view::npos && open > 0 && s[open - 1] == ' ') s = s.substr(0, open - 1);
    }
    // Qualifiers after the parameter list, then the parameter list itself.
    for (std::string_view q : {" const", " volatile", " &&", " &", " noexcept"})
        while (s.ends_with(q)) s.remove_suffix(q.size());
    if (has_parameters && s.ends_with(')')) {
        const std::size_t open = matching_open(s, s.size() - 1);
        if (open != std::string_view::npos && open > 0) s = s.substr(0, open);
    }
    // The return type: everything up to the last space outside brackets.
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '(' || c == '<' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == '>' || c == ']' || c == '}') --depth;
        if (c == ' ' && depth == 0) start = i + 1;
    }
    std::string name(s.substr(start));
    // One spelling for both compilers.
    replace_all(name, "{anonymous}", "(anonymous namespace)");
    replace_all(name, "(anonymous class)::operator()", "<lambda>");
    replace_all(name, "(anonymous class)", "<lambda>");
    for (std::size_t at = name.find("<lambda("); at != std::string::npos; at = name.find("<lambda(", at + 1)) {
        const std::size_t close = name.find(")>", at);
        if (close == std::string::npos) break;
        name.replace(at, close + 2 - at, "<lambda>");
    }
    replace_all(name, "<lambda>::operator()", "<lambda>");
    // Template arguments (g++ names an instantiation "run<void>"): Python's qualname has none.
    std::string out;
    int angle = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name.compare(i, 8, "<lambda>") == 0 && angle == 0) {
            out += "<lambda>";
            i += 7;
        } else if (name[i] == '<') {
            ++angle;
        } else if (name[i] == '>' && angle > 0) {
            --angle;
        } else if (angle == 0) {
            out += name[i];
        }
    }
    return out;
}

}  // namespace nogil::asyncio::detail

namespace nogil::asyncio {

std::string FrameCallGraphEntry::name() const {
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < function.size(); ++i) {
        const char c = function[i];
        if (c == '(' || c == '<') ++depth;
        if (c == ')' || c == '>') --depth;
        if (depth == 0 && c == ':' && i + 1 < function.size() && function[i + 1] == ':') start = i + 2;
    }
    return function.substr(start);
}

}  // namespace nogil::asyncio

// ------------------------------------------------------------------------------ the record

#if defined(__GNUC__)
#pragma GCC diagnostic push
// offsetof on classes with virtual functions (FutureBase): what the Itanium ABI lays out is
// fixed, and both compilers compute it; the reader checks the record's size and version.
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#endif

namespace nogil::asyncio::detail {

constinit LinkKind DebugLayout::waiter_kind{&FutureWaiter::on_done, LinkKind::awaiting_task, 0, nullptr};
constinit LinkKind DebugLayout::group_kind{&asyncio::TaskGroup::task_done, LinkKind::task_group,
                                           static_cast<std::int32_t>(offsetof(asyncio::TaskGroup, parent_)),
                                           &DebugLayout::waiter_kind};

DebugOffsets DebugLayout::record() noexcept {
    DebugOffsets r{};
    constexpr char cookie[] = "nogil-debug-v1";
    for (std::size_t i = 0; i < sizeof cookie; ++i) r.cookie[i] = cookie[i];
    r.version = 1;
    r.size = sizeof(DebugOffsets);
    r.loops_head = reinterpret_cast<std::uint64_t>(&loops_head);
    r.link_kinds_head = reinterpret_cast<std::uint64_t>(&kinds_head);
    r.loop_next = offsetof(LoopCore, debug_next_);
    r.loop_running_tid = offsetof(LoopCore, running_tid_);
    r.loop_tasks_head = offsetof(LoopCore, tasks_head_);
    r.loop_task_count = offsetof(LoopCore, task_count_);
    r.loop_running_task = offsetof(LoopCore, running_task);
    r.loop_running_frame = offsetof(LoopCore, running_frame);
    r.future_state = offsetof(FutureBase, state_);
    r.future_slot = offsetof(FutureBase, slot_);
    r.task_flags = offsetof(FutureBase, derived_flags_);
    r.task_frame_alive_bit = TaskBase::frame_alive_flag;
    r.task_frame_offset = offsetof(FutureBase, derived_small_);
    r.task_id = offsetof(TaskBase, id_);
    r.task_reg_next = offsetof(TaskBase, reg_next);
    r.promise_in_frame = TaskBase::promise_offset;
    r.promise_continuation = offsetof(PromiseBase, continuation);
    r.promise_where = offsetof(PromiseBase, where);
    r.extras_task_name = offsetof(FutureBase::Extras, task_name);
    r.extras_callbacks = offsetof(FutureBase::Extras, callbacks);
    r.entry_size = sizeof(FutureBase::Entry);
    r.entry_link = offsetof(FutureBase::Entry, link);
    r.link_fn = offsetof(DoneLink, fn);
    r.link_ctx = offsetof(DoneLink, ctx);
    r.kind_fn = offsetof(LinkKind, fn);
    r.kind_kind = offsetof(LinkKind, kind);
    r.kind_offset = offsetof(LinkKind, offset);
    r.kind_next = offsetof(LinkKind, next);
#if defined(__GLIBCXX__)
    // libstdc++: basic_string is {pointer, length, ...}, vector {begin, end, capacity end},
    // source_location points to {file, function, line, column} (checked by
    // tests/asyncio_graph_test.cpp, DebugRecordDescribesThisProcess).
    r.string_data = 0;
    r.string_size = 8;
    r.vector_begin = 0;
    r.vector_end = 8;
    r.location_file = 0;
    r.location_function = 8;
    r.location_line = 16;
#endif
    return r;
}

}  // namespace nogil::asyncio::detail

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// Filled before main() by dynamic initialization (the roots' addresses are not constants the
// compiler can fold into integers); `used` keeps it in a static link that never names it.
extern "C" {
__attribute__((used)) const nogil::asyncio::detail::DebugOffsets nogil_debug_offsets =
    nogil::asyncio::detail::DebugLayout::record();
}
