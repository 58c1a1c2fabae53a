#pragma once
// Reading a running nogil program from outside (`nogil ps`, `nogil pstree`), as Python 3.14's
// _remote_debugging module reads an interpreter: find the exported record `nogil_debug_offsets`
// (include/nogil/asyncio/detail/debug_offsets.hpp) in the ELF symbol tables of the objects the
// target maps (/proc/PID/maps), then walk its loops and tasks with process_vm_readv. No code
// runs in the target (no signal, no injected thread, no ptrace stop): a loop that is blocked or
// deadlocked reads the same as any other. The target keeps running meanwhile, so every list is
// bounded and checked, and a snapshot that does not hold together is taken again (3 tries).
//
// Needs the right to read the target's memory (ptrace access mode "attach", as a debugger):
// RemoteError::kind says which failure it was, and permission_help() how to grant it.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/types.h>

namespace nogil_tool::inspect {

struct RemoteError : std::runtime_error {
    enum Kind { no_process, exited, permission, not_nogil, bad_record, unreadable };
    RemoteError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
    Kind kind;
};

/// The text that says how to get ptrace permission (printed after a permission error).
std::string permission_help();

struct Frame {
    std::string function;  // qualified name, as frame_qualname() gives in-process
    std::string file;
    std::uint32_t line = 0;
};

struct TaskSnapshot {
    std::uint64_t address = 0;  // the task's id (Python's id(); capture_call_graph shows the same)
    std::string name;
    std::vector<Frame> frames;             // innermost first
    std::vector<std::uint64_t> awaited_by;  // addresses of the tasks awaiting this one
};

struct LoopSnapshot {
    std::uint64_t address = 0;
    int tid = 0;  // the OS thread running it, 0 when it does not run
    std::vector<TaskSnapshot> tasks;
};

/// A worker of a pool: its thread (a process pool's: its process) and the call it runs ("" while
/// idle).
struct WorkerSnapshot {
    int tid = 0;  // 0 until the thread has started; a process pool's worker: its pid
    std::string call;
    bool dead = false;  // a process pool's worker that exited (the pool did not notice yet)
    // An MPI pool's worker (what its master knows; the worker itself is not read): its rank, its
    // host, tid = its pid when it runs on the master's host (else 0), the calls sent to it and
    // not answered (`call`, the first of them, is the one it runs or runs next), and whether it
    // has not reported its boot yet.
    int rank = -1;
    std::string host;
    std::size_t sent = 0;
    bool booting = false;
};

/// A live executor (include/nogil/concurrent/futures/detail/debug_offsets.hpp). A call is named
/// by the function it calls ("square(int)") or, for any other callable, by its C++ type
/// ("main::{lambda()#1}").
struct ExecutorSnapshot {
    std::uint64_t address = 0;
    std::string kind;  // "thread pool", "process pool", "multiprocessing pool", "MPI pool"
    bool processes = false;  // the workers are processes (WorkerSnapshot::tid is a pid)
    bool mpi = false;        // an MPI pool: its workers are ranks (WorkerSnapshot::rank, host, sent)
    std::string name;  // the thread name prefix (a process pool has none)
    int max_workers = 0;
    bool shut_down = false;  // shutdown() was called (queued calls still run)
    std::string shut_down_as;  // how, when not "shut down": a multiprocessing pool "closed" or "terminated"
    std::string broken;      // a process pool that broke: why (its workers are gone)
    bool torn = false;       // it changed under every read: what one read saw, maybe inexact
    std::vector<WorkerSnapshot> workers;  // the started ones, in start order
    std::size_t queued = 0;               // calls submitted and not started yet
    std::vector<std::string> queued_calls;  // the first of them, in the order they will run
};

struct ProcessSnapshot {
    pid_t pid = 0;
    std::vector<LoopSnapshot> loops;
    std::vector<ExecutorSnapshot> executors;
    bool complete = true;  // false: the target changed under every try; what could be read
};

/// Reads every loop and executor of process `pid`. Throws RemoteError.
ProcessSnapshot read_process(pid_t pid);

/// The address of `symbol` in process `pid` (from /proc/PID/maps and the mapped ELF files), or
/// 0 if no mapped object defines it. Throws RemoteError for a missing process or permission.
std::uint64_t find_symbol(pid_t pid, const std::string& symbol);

}  // namespace nogil_tool::inspect
