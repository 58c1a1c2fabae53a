#pragma once
// The record a program using executors exports for `nogil ps` (the executors' part of what
// include/nogil/asyncio/detail/debug_offsets.hpp is for loops): one symbol,
// `nogil_executor_debug_offsets`, with the address of the registry of live executors and the
// layout of what the reader follows from there. A program that uses a pool links this record
// whether or not it uses asyncio.
//
// The walk (tools/nogil/src/inspect/remote.cpp, read_executors):
//   executors_head (ExecutorRecord*) → each record: kind, name, max_workers, how many worker
//   slots are started (*started), the slots (workers[i], a WorkerSlot each), the injection
//   queue (its head word, its stub, its tail word with the closed bit);
//   each slot: the worker's OS thread id, the item it runs (null: idle), its local batch;
//   each item (a FutureStateBase): its next_in_queue, its status word, and what it calls — the
//   C++ type of the callable, from the item's dynamic type: vtable pointer → type_info →
//   mangled name "N...WorkItem<R, F, Args...>E", demangled by the reader; when F is a function
//   pointer, the pointer itself, at the offset the instantiation's static member
//   WorkItem<R, F, Args...>::nogil_ps_call_offset holds (its symbol is "_Z" + the mangled name
//   without its last 'E' + "20nogil_ps_call_offsetE"), named with the target's ELF symbol tables.
// A process pool (kind process_pool) keeps its calls in its manager's state instead
// (src/concurrent/futures/detail/process_pool_impl.hpp, ProcessPoolCore::Impl), which `pool`
// points to:
//   the pool: its section count (`sections`, the seqlock word of the pool's mutex: odd while it is
//   held), `pending` (a std::deque<Task>: submitted, not sent to a worker), `workers` (a
//   std::vector<std::unique_ptr<Worker>>), `shutdown` (bool), `broken` (a std::string, non-empty
//   once broken);
//   each worker: its pid, the address of its `running` word in the shared block the pool maps
//   (id << 1 | 1 while the worker process runs task `id`, id << 1 once it finished it: the one
//   store the worker makes before and after each call), `inflight` (a std::deque<Task>: sent to
//   it, in the order it runs them);
//   each task: its id, and what it calls, `call.target`, a FunctionId {object (std::string, ""
//   for the executable), offset from the object's load bias}, named with the ELF symbol tables.
//   The standard library's layouts (libstdc++: a deque's start and finish iterators, an
//   iterator's cur/first/node, a string's data and size, a vector's begin and end) are in
//   the record; 0 in deque_elements means "not readable" (another standard library).
// A multiprocessing::Pool (kind mp_pool) has its own manager (src/multiprocessing/detail/
// pool_core.cpp, PoolCore::Impl), which `pool` points to:
//   the pool: `sections` (its mutex's count, as above) over `pending` (a std::deque<Pending>:
//   submitted, not sent; Pool sends a worker one task at a time, so nothing else is queued),
//   `state` (uint8: 0 running, 1 closed, 2 terminated) and `broken` (bool); and `changes`, the
//   manager's own count (odd while it changes) over `view`, a std::vector<WorkerView> the manager
//   keeps of its workers (it changes them outside the mutex): each a pid and the Pending it runs
//   (null: idle);
//   each Pending: its id, its call's target (a FunctionId, as a process pool's task) and its label
//   (a FunctionId, offset 0 when empty: the call's target is what the user called; else the
//   function map/imap/starmap was given, the target being the chunk runner) with the chunk's
//   number (1-based, 0: not a chunk) and the number of chunks (0: unknown, imap).
//   The deque's layout is the process pool's but for how many Pending a node holds.
// The reader accepts a read when both counts were even and unchanged around it.
// Everything there is changed under the pool's mutex, so the reader reads it as a seqlock: the
// section count before and after, equal and even, or the read is taken again (up to 1,000 times,
// then what one more read saw, marked as torn). Every list is bounded all the same; a worker's
// `running` word is not under the mutex (the worker process writes it) and is read as it is.
// Nothing here is written for the reader on a hot path but two relaxed stores per call in the
// worker (the item it runs, then null; a process pool's worker: the task id before and after)
// and, in a process pool, two increments per critical section of its mutex (under it): the
// submit path and the items are unchanged.
// Every read may be torn: the reader bounds every list, re-reads a worker's item after naming it
// (a different item means the name may be another's: it reads again), and takes a name only
// from an item whose status word is still what it expects.
//
// Version 1. Fields are only added at the end (size grows); a change of meaning bumps the version.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nogil::concurrent::futures::detail {

class FutureStateBase;

/// A worker's slot, as the reader sees it: the live part of a pool's worker.
struct WorkerSlot {
    std::atomic<FutureStateBase*> running{nullptr};  // the call it runs now; null when idle
    std::atomic<int> tid{0};                          // the OS thread id, once the thread started
};

/// One live executor, linked into the registry while it exists (executor_registry.cpp).
struct ExecutorRecord {
    enum Kind : std::uint32_t { thread_pool = 1, process_pool = 2, mp_pool = 3, mpi_pool = 4 };
    ExecutorRecord* next = nullptr;
    ExecutorRecord* prev = nullptr;
    std::uint32_t kind = thread_pool;
    std::int32_t max_workers = 0;
    const char* name = nullptr;                       // NUL-terminated, lives as long as the executor
    const std::atomic<std::size_t>* started = nullptr;  // how many worker slots are in use
    const void* const* workers = nullptr;             // slot i's address is workers[i] (a WorkerSlot*
                                                      // at the start of the pool's worker)
    std::uint64_t local_head = 0;  // offset of the worker's local batch head (FutureStateBase*) from its slot
    std::uint64_t local_size = 0;  // offset of its size (std::atomic<std::size_t>)
    const void* queue_head = nullptr;  // the injection queue's head word (FutureStateBase*)
    const void* queue_tail = nullptr;  // its tail word (uintptr_t, bit 0: closed)
    const void* queue_stub = nullptr;  // its stub item, which stands for "nothing"
    const void* pool = nullptr;        // a process pool's state (see the top); null for a thread pool
    const void* layout = nullptr;      // an MPI pool's MpiPoolDebugOffsets (its library's own record)
};

/// Links `record` into the registry; unlinks it. Under a mutex; the reader reads without it.
void register_executor(ExecutorRecord& record) noexcept;
void unregister_executor(ExecutorRecord& record) noexcept;

struct ExecutorDebugOffsets {
    char cookie[16];  // "nogil-exec-v1" and NULs
    std::uint64_t version;
    std::uint64_t size;  // sizeof(ExecutorDebugOffsets) in the target

    std::uint64_t executors_head;  // address of the ExecutorRecord* head

    // ExecutorRecord.
    std::uint64_t record_next;
    std::uint64_t record_kind;         // uint32
    std::uint64_t record_max_workers;  // int32
    std::uint64_t record_name;         // const char*
    std::uint64_t record_started;      // const size_t*
    std::uint64_t record_workers;      // const void* const*
    std::uint64_t record_local_head;   // uint64: an offset in the worker
    std::uint64_t record_local_size;   // uint64: an offset in the worker
    std::uint64_t record_queue_head;
    std::uint64_t record_queue_tail;
    std::uint64_t record_queue_stub;

    // WorkerSlot.
    std::uint64_t slot_running;  // FutureStateBase*
    std::uint64_t slot_tid;      // int

    // FutureStateBase.
    std::uint64_t item_next;         // FutureStateBase* next_in_queue
    std::uint64_t item_word;         // uint32: bits 0-1 the status (0 pending, 1 running)

    // Process pools (added in place: a reader that knows them checks `size`).
    std::uint64_t record_pool;       // const void*: the pool's state
    std::uint64_t pool_sections;     // uint64: the mutex's section count (odd: held)
    std::uint64_t pool_pending;      // std::deque<Task>
    std::uint64_t pool_workers;      // std::vector<std::unique_ptr<Worker>> (a unique_ptr is its pointer)
    std::uint64_t pool_shutdown;     // bool
    std::uint64_t pool_broken;       // std::string
    std::uint64_t worker_pid;        // int
    std::uint64_t worker_running;    // const std::atomic<uint64_t>*
    std::uint64_t worker_inflight;   // std::deque<Task>
    std::uint64_t task_size;         // sizeof(Task)
    std::uint64_t task_id;           // uint64
    std::uint64_t task_object;       // std::string: call.target.object
    std::uint64_t task_offset;       // uint64: call.target.offset
    std::uint64_t deque_elements;    // Task elements per deque node (0: the deque is not readable)
    std::uint64_t deque_start;       // iterator: the first element
    std::uint64_t deque_finish;      // iterator: one past the last
    std::uint64_t iterator_cur;      // Task*
    std::uint64_t iterator_first;    // Task*: its node's first element
    std::uint64_t iterator_node;     // Task**: its node in the map
    std::uint64_t string_data;       // char*
    std::uint64_t string_size;       // size_t
    std::uint64_t vector_begin;
    std::uint64_t vector_end;

    // multiprocessing::Pool (kind mp_pool; added in place, a reader checks `size`).
    std::uint64_t mp_sections;        // uint64: its mutex's section count (odd: held)
    std::uint64_t mp_changes;         // uint64: the manager's change count over `view` (odd: changing)
    std::uint64_t mp_pending;         // std::deque<Pending>
    std::uint64_t mp_state;           // uint8: 0 running, 1 closed, 2 terminated
    std::uint64_t mp_broken;          // bool
    std::uint64_t mp_view;            // std::vector<WorkerView>
    std::uint64_t mp_view_size;       // sizeof(WorkerView)
    std::uint64_t mp_view_pid;        // int
    std::uint64_t mp_view_task;       // const Pending* (null: idle)
    std::uint64_t mp_task_size;       // sizeof(Pending)
    std::uint64_t mp_task_id;         // uint64
    std::uint64_t mp_task_object;     // std::string: call.target.object
    std::uint64_t mp_task_offset;     // uint64: call.target.offset
    std::uint64_t mp_label;           // const TaskLabel* (null: no label, the call's own target)
    std::uint64_t mp_label_object;    // in TaskLabel: std::string function.object
    std::uint64_t mp_label_offset;    // in TaskLabel: uint64 function.offset
    std::uint64_t mp_label_chunk;     // in TaskLabel: uint64
    std::uint64_t mp_label_chunks;    // in TaskLabel: uint64
    std::uint64_t mp_deque_elements;  // Pending elements per deque node (0: not readable)

    // MPI pools (kind mpi_pool): where the record's layout pointer is.
    std::uint64_t record_layout;      // const MpiPoolDebugOffsets*
};

/// An MPI pool's layout (nogil::mpi's MPIPoolExecutor, src/mpi/pool_core.cpp, PoolCore::Impl),
/// which its ExecutorRecord points to (`layout`): nogil::mpi is a library of its own, which the
/// core's record cannot name. Its workers are other processes, maybe on other hosts: the reader
/// shows what the master knows (each worker's rank, host, pid when on this host, the tasks sent to
/// it in the order it runs them) and reads no worker. Everything is under the pool's mutex, a
/// CountedMutex (`sections`), read as a seqlock as a process pool's.
struct MpiPoolDebugOffsets {
    char cookie[16];  // "nogil-mpi-v1" and NULs
    std::uint64_t version;
    std::uint64_t size;
    std::uint64_t sections;          // uint64: the mutex's section count (odd: held)
    std::uint64_t phase;             // int32: 0 idle, 1 starting, 2 running, 3 broken, 4 closed
    std::uint64_t shutdown;          // bool: shutdown() was called
    std::uint64_t broken;            // std::string: why it broke
    std::uint64_t pending;           // std::deque<Task>: not sent yet
    std::uint64_t workers;           // std::deque<Worker>
    std::uint64_t worker_size;       // sizeof(Worker)
    std::uint64_t worker_elements;   // Workers per deque node (0: not readable)
    std::uint64_t worker_rank;       // int32
    std::uint64_t worker_in_flight;  // std::deque<Task>: sent, in the order it runs them
    std::uint64_t worker_local_pid;  // int32: its pid when on this host, else 0
    std::uint64_t worker_host;       // std::string
    std::uint64_t worker_booted;     // bool
    std::uint64_t task_size;         // sizeof(Task)
    std::uint64_t task_elements;     // Tasks per deque node (0: not readable)
    std::uint64_t task_id;           // uint64
    std::uint64_t task_object;       // std::string: call.target.object
    std::uint64_t task_offset;       // uint64: call.target.offset
    std::uint64_t deque_start, deque_finish, iterator_cur, iterator_first, iterator_node;
    std::uint64_t string_data, string_size;
};

}  // namespace nogil::concurrent::futures::detail

/// The one exported symbol (defined in src/concurrent/futures/detail/executor_registry.cpp).
extern "C" const nogil::concurrent::futures::detail::ExecutorDebugOffsets nogil_executor_debug_offsets;
