#include <nogil/multiprocessing/detail/function.hpp>

#include <dlfcn.h>
#include <iterator>
#include <link.h>
#include <optional>
#include <stdexcept>
#include <utility>

namespace nogil::multiprocessing::detail {

namespace {

struct Search {
    std::uintptr_t address = 0;   // in: the address to find (identify) ...
    const std::string* name = nullptr;  // ... or the object to find (resolve)
    bool first = true;            // dl_iterate_phdr lists the main executable first
    bool found = false;
    std::string object;
    std::uintptr_t bias = 0;
    bool executable = false;      // resolve: the candidate address is in an executable segment
    std::uint64_t offset = 0;
};

bool in_executable_segment(const dl_phdr_info* info, std::uintptr_t address) {
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
        std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        if (address >= start && address < start + ph.p_memsz) return true;
    }
    return false;
}

int find_by_address(dl_phdr_info* info, std::size_t, void* data) {
    auto* s = static_cast<Search*>(data);
    bool main_exe = std::exchange(s->first, false);
    if (!in_executable_segment(info, s->address)) return 0;
    s->found = true;
    s->object = main_exe ? std::string() : std::string(info->dlpi_name);
    s->bias = info->dlpi_addr;
    return 1;
}

int find_by_name(dl_phdr_info* info, std::size_t, void* data) {
    auto* s = static_cast<Search*>(data);
    bool main_exe = std::exchange(s->first, false);
    bool match = s->name->empty() ? main_exe : (!main_exe && *s->name == info->dlpi_name);
    if (!match) return 0;
    s->found = true;
    s->bias = info->dlpi_addr;
    s->executable = in_executable_segment(info, info->dlpi_addr + s->offset);
    return 1;
}

// Loaded objects as the launcher thread saw them just before a fork(): a forked child resolves
// functions from this copy of its parent's memory instead of calling dl_iterate_phdr. Another
// thread of the parent may have been inside dl_iterate_phdr (holding glibc's dl_load_write_lock,
// which fork() does not reset, unlike dl_load_lock) at the moment of the fork: the child would
// block on that lock forever. Plain data, no allocation: the names point into the loader's
// link maps, which the child has too.
struct LoadedObject {
    const char* name;  // "" for the main executable
    std::uintptr_t bias;
    int ranges;
    std::uintptr_t begin[4], end[4];  // executable PT_LOAD segments
};
struct LoadedObjects {
    int count = 0;
    LoadedObject objects[128];
};
LoadedObjects before_fork;       // written by the launcher thread only (forks are serialized there)
LoadedObjects child_copy;        // a forked child's: written once, before it has other threads
bool child_copy_valid = false;   // then read-only

int record_object(dl_phdr_info* info, std::size_t, void* data) {
    auto* all = static_cast<LoadedObjects*>(data);
    if (all->count == static_cast<int>(std::size(all->objects))) return 1;  // the rest: dl_iterate_phdr
    LoadedObject o{info->dlpi_name != nullptr ? info->dlpi_name : "", info->dlpi_addr, 0, {}, {}};
    if (all->count == 0) o.name = "";  // dl_iterate_phdr lists the main executable first
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
        if (o.ranges == 4) return 0;  // unusual layout: leave it to dl_iterate_phdr
        o.begin[o.ranges] = info->dlpi_addr + ph.p_vaddr;
        o.end[o.ranges] = o.begin[o.ranges] + ph.p_memsz;
        ++o.ranges;
    }
    all->objects[all->count++] = o;
    return 0;
}

// The forked child's copy, when it knows `object`: the address, or 0 if the offset is outside its code.
std::optional<std::uintptr_t> resolve_in_child_copy(const FunctionId& id) {
    if (!child_copy_valid) return std::nullopt;
    for (int i = 0; i < child_copy.count; ++i) {
        const LoadedObject& o = child_copy.objects[i];
        if (id.object != o.name) continue;
        std::uintptr_t address = o.bias + id.offset;
        for (int r = 0; r < o.ranges; ++r)
            if (address >= o.begin[r] && address < o.end[r]) return address;
        return 0;
    }
    return std::nullopt;
}

}  // namespace

void snapshot_loaded_objects() {
    before_fork.count = 0;
    dl_iterate_phdr(record_object, &before_fork);
}

void adopt_loaded_objects_snapshot() noexcept {
    child_copy = before_fork;
    child_copy_valid = true;
}

FunctionId identify_function(std::uintptr_t address) {
    Search s;
    s.address = address;
    dl_iterate_phdr(find_by_address, &s);
    if (!s.found)
        throw std::invalid_argument("nogil::multiprocessing: the callable is not code of any loaded object "
                                    "(it must be a plain function or a captureless lambda)");
    return FunctionId{std::move(s.object), address - s.bias};
}

std::uintptr_t resolve_function(const FunctionId& id) {
    if (auto address = resolve_in_child_copy(id)) {
        if (*address == 0)
            throw std::runtime_error("nogil::multiprocessing: function offset " + std::to_string(id.offset) +
                                     " is outside the code of '" + (id.object.empty() ? "<executable>" : id.object) + "'");
        return *address;
    }
    auto search = [&] {
        Search s;
        s.name = &id.object;
        s.offset = id.offset;
        dl_iterate_phdr(find_by_name, &s);
        return s;
    };
    Search s = search();
    if (!s.found && !id.object.empty()) {
        // A library the parent loaded at run time: load it here too (kept loaded for the process).
        if (::dlopen(id.object.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr)
            throw std::runtime_error("nogil::multiprocessing: cannot load " + id.object + " in the child: " + ::dlerror());
        s = search();
    }
    if (!s.found) throw std::runtime_error("nogil::multiprocessing: object '" + id.object + "' is not loaded");
    if (!s.executable)
        throw std::runtime_error("nogil::multiprocessing: function offset " + std::to_string(id.offset) +
                                 " is outside the code of '" + (id.object.empty() ? "<executable>" : id.object) + "'");
    return s.bias + id.offset;
}

}  // namespace nogil::multiprocessing::detail
