#pragma once
// Naming a function so that another process of the same program can call it.
//
// A function is named by the loaded object holding it (the executable: "", or a shared library's
// path) and its offset from that object's load address. Offsets do not depend on where ASLR put
// the object, so the name resolves in a forked child, in a fork-server child, and in a spawned
// child (a fresh exec of /proc/self/exe) alike. Resolution is checked: the object must be loaded
// (a library is dlopen'ed if needed) and the address must fall in one of its executable segments;
// anything else throws instead of jumping somewhere.

#include <cstdint>
#include <string>

namespace nogil::multiprocessing::detail {

struct FunctionId {
    std::string object;       // "" = the main executable, else the shared object's path
    std::uint64_t offset = 0;  // address minus the object's load bias

    template <class Archive>
    void serialize(Archive& ar) {
        ar(object, offset);
    }
    friend bool operator==(const FunctionId&, const FunctionId&) = default;
};

/// Names the function at `address`. Throws std::invalid_argument if it is in no loaded object's code.
FunctionId identify_function(std::uintptr_t address);

/// The address of `id` in this process. Throws std::runtime_error if it cannot be resolved safely.
std::uintptr_t resolve_function(const FunctionId& id);

/// The launcher thread, right before fork(): records where every loaded object is, so that the
/// child resolves functions without dl_iterate_phdr (whose lock another thread may hold at fork).
void snapshot_loaded_objects();
/// First thing in a child made by fork() (single-threaded then; async-signal-safe): resolve_function
/// uses the snapshot from now on, falling back to dl_iterate_phdr for objects it does not list.
void adopt_loaded_objects_snapshot() noexcept;

template <class Fn>
FunctionId identify(Fn* fn) {
    return identify_function(reinterpret_cast<std::uintptr_t>(fn));
}

template <class Fn>
Fn* resolve_as(const FunctionId& id) {
    return reinterpret_cast<Fn*>(resolve_function(id));
}

}  // namespace nogil::multiprocessing::detail
