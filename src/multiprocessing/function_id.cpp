#include <nogil/detail/mp_function.hpp>

#include <dlfcn.h>
#include <link.h>
#include <stdexcept>
#include <utility>

namespace nogil::detail {

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

}  // namespace

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

}  // namespace nogil::detail
