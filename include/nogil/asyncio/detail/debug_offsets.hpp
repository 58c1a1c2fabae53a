#pragma once
// The record a program linked with nogil exports for `nogil ps` / `nogil pstree` (Python's
// _Py_DebugOffsets): one well-known symbol, `nogil_debug_offsets`, holding where the registry of
// loops is and the layout of everything the reader follows from there. The reader finds the
// symbol in the ELF symbol tables of the objects mapped into the target (/proc/PID/maps), copies
// this record with process_vm_readv, checks the cookie, version and size, and then walks the
// target's memory with nothing but these numbers: it never runs code in the target.
//
// The walk (tools/nogil/src/inspect/remote.cpp):
//   loops_head (LoopCore**) → each loop: running tid at loop_running_tid, its pending tasks
//   from loop_tasks_head through task_reg_next;
//   each task: its name (extras' std::string, else "Task-<id>"), its frames from the innermost
//   out (the loop's running frame if the task runs, else the root promise's continuation, the
//   resume point; each promise at frame + promise_in_frame, its continuation the next frame out,
//   up to the root frame at task + frame offset), each frame's source_location (file,
//   function, line), and its awaiters: the DoneLinks on its callback slot, told apart with the
//   list at link_kinds_head (introspection.hpp, rules 1-3).
// Every read may be torn (the target keeps running): the reader bounds every list and string,
// and treats an unreadable address as the end of what it can show.
//
// Version 1. A field is only ever added at the end (size grows); a change of meaning bumps the
// version, and the reader refuses a version it does not know.

#include <cstdint>

namespace nogil::asyncio::detail {

struct DebugOffsets {
    char cookie[16];  // "nogil-debug-v1" and NULs
    std::uint64_t version;
    std::uint64_t size;  // sizeof(DebugOffsets) in the target

    // Roots.
    std::uint64_t loops_head;       // address of the LoopCore* head of the registry of loops
    std::uint64_t link_kinds_head;  // address of the const LinkKind* head of the link kinds

    // LoopCore.
    std::uint64_t loop_next;
    std::uint64_t loop_running_tid;  // int: the OS thread id while running, else 0
    std::uint64_t loop_tasks_head;   // TaskBase*
    std::uint64_t loop_task_count;   // std::size_t
    std::uint64_t loop_running_task;   // TaskBase*: the task whose step runs now, or null
    std::uint64_t loop_running_frame;  // void*: the frame of it that runs

    // FutureBase / TaskBase.
    std::uint64_t future_state;          // uint8: 0 pending, 1 cancelled, 2 finished
    std::uint64_t future_slot;           // uintptr: 0, a DoneLink*, or Extras* | 1
    std::uint64_t task_flags;            // uint8 (derived_flags_)
    std::uint64_t task_frame_alive_bit;  // mask in task_flags
    std::uint64_t task_frame_offset;     // uint16: the root frame is at task + this
    std::uint64_t task_id;               // uint32: the N of "Task-N"
    std::uint64_t task_reg_next;         // TaskBase*
    std::uint64_t promise_in_frame;      // the root promise is at frame + this
    std::uint64_t promise_continuation;  // void*: the awaiting frame (the root: the resume point)
    std::uint64_t promise_where;         // a std::source_location (one pointer to its data)

    // Extras (the lazily allocated part of a future).
    std::uint64_t extras_task_name;     // std::string
    std::uint64_t extras_callbacks;     // std::vector<Entry>
    std::uint64_t entry_size;           // sizeof(Entry)
    std::uint64_t entry_link;           // const DoneLink*

    // DoneLink and LinkKind.
    std::uint64_t link_fn;
    std::uint64_t link_ctx;
    std::uint64_t kind_fn;
    std::uint64_t kind_kind;    // uint32
    std::uint64_t kind_offset;  // int32
    std::uint64_t kind_next;

    // The standard library's layouts (0 in both string fields: names are not readable).
    std::uint64_t string_data;  // char*
    std::uint64_t string_size;  // size_t
    std::uint64_t vector_begin;
    std::uint64_t vector_end;
    std::uint64_t location_file;      // in the data a std::source_location points to: const char*
    std::uint64_t location_function;  // const char*
    std::uint64_t location_line;      // uint32
};

}  // namespace nogil::asyncio::detail

/// The one exported symbol (defined in src/asyncio/detail/introspection.cpp).
extern "C" const nogil::asyncio::detail::DebugOffsets nogil_debug_offsets;
