#pragma once
// Who this process is (name, identity, daemon flag): set once by child_main in a child, defaults
// to "MainProcess" in the original program. Machinery behind current_process() and child naming.

#include <string>

namespace nogil::multiprocessing::detail {

struct CurrentProcess {
    std::string name = "MainProcess";
    std::string identity;  // "" in the main process
    bool daemon = false;
    int parent_pid = 0;
    int channel = -1;      // our end of the channel to the parent, in a child
};

/// This process's record. Written only by child_main before any user code runs; read after.
CurrentProcess& current_process_record();

}  // namespace nogil::multiprocessing::detail
