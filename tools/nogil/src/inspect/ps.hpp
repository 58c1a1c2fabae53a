#pragma once
// `nogil ps PID` and `nogil pstree PID`: Python 3.14's `python -m asyncio ps` / `pstree`
// (Lib/asyncio/tools.py) for a nogil program, read from outside (inspect/remote.hpp).

#include "inspect/remote.hpp"

#include <ostream>
#include <string>

namespace nogil_tool::inspect {

/// The table: one row per (task, awaiter), Python's columns. format: "table" or "csv".
void print_table(const ProcessSnapshot& snap, const std::string& format, std::ostream& out);
/// The live executors (after the table): each pool's workers with the call each runs, and its
/// queued calls.
void print_executors(const ProcessSnapshot& snap, std::ostream& out);
/// The same as CSV: a second table after Python's, an empty line between them (nothing when
/// there is no executor, so a program without pools gets Python's table alone).
void print_executors_csv(const ProcessSnapshot& snap, std::ostream& out);
/// The await tree; false (and the cycles on `err`) when tasks await each other in a cycle.
bool print_tree(const ProcessSnapshot& snap, std::ostream& out, std::ostream& err);

/// The commands: read PID, print, and turn every error into a message and exit status 1.
int ps_command(pid_t pid, const std::string& format);
int pstree_command(pid_t pid);

}  // namespace nogil_tool::inspect
