// The registry of live executors and the record `nogil ps` reads it with
// (include/nogil/concurrent/futures/detail/debug_offsets.hpp).
#include <nogil/concurrent/futures/detail/debug_offsets.hpp>
#include <nogil/concurrent/futures/detail/future_state.hpp>
#include "concurrent/futures/detail/process_pool_impl.hpp"
#include "multiprocessing/detail/pool_record.hpp"

#include <cstddef>
#include <cstring>
#include <mutex>

namespace nogil::concurrent::futures::detail {

namespace {
std::mutex executors_mutex;
// Written under executors_mutex; read without it only from another process (torn reads allowed).
ExecutorRecord* executors_head = nullptr;
}  // namespace

void register_executor(ExecutorRecord& record) noexcept {
    std::lock_guard lock(executors_mutex);
    record.prev = nullptr;
    record.next = executors_head;
    if (executors_head) executors_head->prev = &record;
    executors_head = &record;
}

void unregister_executor(ExecutorRecord& record) noexcept {
    std::lock_guard lock(executors_mutex);
    if (record.prev)
        record.prev->next = record.next;
    else if (executors_head == &record)
        executors_head = record.next;
    if (record.next) record.next->prev = record.prev;
    record.next = record.prev = nullptr;
}

}  // namespace nogil::concurrent::futures::detail

#if defined(__GNUC__)
#pragma GCC diagnostic push
// offsetof on classes with virtual functions (FutureStateBase): the Itanium ABI's layout is
// fixed, and both compilers compute it; the reader checks the record's size and version.
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#endif

namespace nogil::concurrent::futures::detail {

struct ExecutorDebugLayout {
    static ExecutorDebugOffsets record() noexcept {
        ExecutorDebugOffsets r{};
        constexpr char cookie[] = "nogil-exec-v1";
        for (std::size_t i = 0; i < sizeof cookie; ++i) r.cookie[i] = cookie[i];
        r.version = 1;
        r.size = sizeof(ExecutorDebugOffsets);
        r.executors_head = reinterpret_cast<std::uint64_t>(&executors_head);
        r.record_next = offsetof(ExecutorRecord, next);
        r.record_kind = offsetof(ExecutorRecord, kind);
        r.record_max_workers = offsetof(ExecutorRecord, max_workers);
        r.record_name = offsetof(ExecutorRecord, name);
        r.record_started = offsetof(ExecutorRecord, started);
        r.record_workers = offsetof(ExecutorRecord, workers);
        r.record_local_head = offsetof(ExecutorRecord, local_head);
        r.record_local_size = offsetof(ExecutorRecord, local_size);
        r.record_queue_head = offsetof(ExecutorRecord, queue_head);
        r.record_queue_tail = offsetof(ExecutorRecord, queue_tail);
        r.record_queue_stub = offsetof(ExecutorRecord, queue_stub);
        r.slot_running = offsetof(WorkerSlot, running);
        r.slot_tid = offsetof(WorkerSlot, tid);
        r.item_next = offsetof(FutureStateBase, next_in_queue);
        r.item_word = offsetof(FutureStateBase, word_);
        using Impl = ProcessPoolCore::Impl;
        r.record_pool = offsetof(ExecutorRecord, pool);
        r.record_layout = offsetof(ExecutorRecord, layout);
        r.pool_sections = offsetof(Impl, mutex) + CountedMutex::sections_offset();
        r.pool_pending = offsetof(Impl, pending);
        r.pool_workers = offsetof(Impl, workers);
        r.pool_shutdown = offsetof(Impl, shutdown);
        r.pool_broken = offsetof(Impl, broken);
        r.worker_pid = offsetof(Impl::Worker, pid);
        r.worker_running = offsetof(Impl::Worker, running);
        r.worker_inflight = offsetof(Impl::Worker, inflight);
        r.task_size = sizeof(Impl::Task);
        r.task_id = offsetof(Impl::Task, id);
        r.task_object = offsetof(Impl::Task, call) + offsetof(EncodedCall, target) +
                        offsetof(::nogil::multiprocessing::detail::FunctionId, object);
        r.task_offset = offsetof(Impl::Task, call) + offsetof(EncodedCall, target) +
                        offsetof(::nogil::multiprocessing::detail::FunctionId, offset);
        static_assert(sizeof(std::unique_ptr<Impl::Worker>) == sizeof(void*), "a unique_ptr is its pointer");
#if defined(__GLIBCXX__)
        // libstdc++: basic_string is {pointer, length, ...}, vector {begin, end, capacity end}
        // (as asyncio's record says); the deque's iterators as deque_layout finds them.
        r.string_data = 0;
        r.string_size = 8;
        r.vector_begin = 0;
        r.vector_end = 8;
        const auto deque = ::nogil::multiprocessing::detail::deque_layout<Impl::Task>();
        r.deque_elements = deque.elements;
        ::nogil::multiprocessing::detail::put_deque_layout(r, deque);
#endif
        if (&::nogil::multiprocessing::detail::describe_pool) ::nogil::multiprocessing::detail::describe_pool(r);
        return r;
    }
};

}  // namespace nogil::concurrent::futures::detail

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// Filled before main() by dynamic initialization; `used` keeps it in a static link that never
// names it (the thread pool's translation unit references this one through register_executor).
extern "C" {
__attribute__((used)) const nogil::concurrent::futures::detail::ExecutorDebugOffsets nogil_executor_debug_offsets =
    nogil::concurrent::futures::detail::ExecutorDebugLayout::record();
}
