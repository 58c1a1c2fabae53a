// See process_memory.hpp.
#include "inspect/process_memory.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace nogil_tool::inspect {

namespace {
std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

[[noreturn]] void throw_read_error(pid_t pid, int e) {
    if (e == ESRCH) throw RemoteError(RemoteError::exited, "process " + std::to_string(pid) + " exited while being read");
    if (e == EPERM || e == EACCES)
        throw RemoteError(RemoteError::permission,
                          "cannot read the memory of process " + std::to_string(pid) + ": permission denied");
    throw RemoteError(RemoteError::unreadable,
                      "cannot read the memory of process " + std::to_string(pid) + ": " + errno_text(e));
}

bool process_exists(pid_t pid) {
    struct stat st {};
    return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0;
}

// --------------------------------------------------------------------------- ELF symbols

std::vector<Mapping> read_maps(pid_t pid) {
    const std::string maps = "/proc/" + std::to_string(pid) + "/maps";
    std::ifstream in(maps);
    if (!in) {
        const int e = errno;
        if (!process_exists(pid)) throw RemoteError(RemoteError::no_process, "no process with PID " + std::to_string(pid));
        if (e == EACCES || e == EPERM)
            throw RemoteError(RemoteError::permission, "cannot read " + maps + ": permission denied");
        throw RemoteError(RemoteError::unreadable, "cannot read " + maps + ": " + errno_text(e));
    }
    std::vector<Mapping> out;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string range, perms, offset, dev, inode, path;
        fields >> range >> perms >> offset >> dev >> inode;
        std::getline(fields >> std::ws, path);
        if (path.empty() || path[0] != '/') continue;
        Mapping m;
        try {
            m.start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
            m.end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
            m.offset = std::stoull(offset, nullptr, 16);
            const auto colon = dev.find(':');
            if (colon != std::string::npos)
                m.device = makedev(std::stoul(dev.substr(0, colon), nullptr, 16), std::stoul(dev.substr(colon + 1), nullptr, 16));
            m.inode = std::stoull(inode);
        } catch (const std::exception&) {
            continue;  // not a line of the form the kernel writes
        }
        m.path = path;
        out.push_back(std::move(m));
    }
    if (out.empty() && !process_exists(pid))
        throw RemoteError(RemoteError::no_process, "no process with PID " + std::to_string(pid));
    return out;
}

namespace {
class MappedFile {
public:
    explicit MappedFile(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_size > 0) {
            void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
            if (p != MAP_FAILED) {
                data_ = static_cast<const unsigned char*>(p);
                size_ = static_cast<std::size_t>(st.st_size);
            }
        }
        ::close(fd);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() {
        if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
    }
    template <class T>
    const T* at(std::uint64_t offset, std::size_t count = 1) const {
        if (!data_ || offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
        return reinterpret_cast<const T*>(data_ + offset);
    }

private:
    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
};

// Calls fn(sym, name, name_room) for every defined symbol of the file's symbol tables of type
// `type` (SHT_SYMTAB or SHT_DYNSYM) until fn returns true; first_load is the lowest PT_LOAD
// address. False if the file is no 64-bit ELF file with a load segment.
template <class Fn>
bool for_each_symbol(const MappedFile& f, std::uint32_t type, std::uint64_t& first_load, Fn&& fn) {
    const auto* eh = f.at<Elf64_Ehdr>(0);
    if (!eh || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return false;
    const auto* ph = f.at<Elf64_Phdr>(eh->e_phoff, eh->e_phnum);
    const auto* sh = f.at<Elf64_Shdr>(eh->e_shoff, eh->e_shnum);
    if (!ph || !sh) return false;
    first_load = UINT64_MAX;
    for (int i = 0; i < eh->e_phnum; ++i)
        if (ph[i].p_type == PT_LOAD) first_load = std::min<std::uint64_t>(first_load, ph[i].p_vaddr & ~std::uint64_t(0xfff));
    if (first_load == UINT64_MAX) return false;
    for (int i = 0; i < eh->e_shnum; ++i) {
        if (sh[i].sh_type != type) continue;
        if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym)) continue;
        const Elf64_Shdr& strtab = sh[sh[i].sh_link];
        const std::size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        const auto* syms = f.at<Elf64_Sym>(sh[i].sh_offset, n);
        const auto* names = f.at<char>(strtab.sh_offset, strtab.sh_size);
        if (!syms || !names) continue;
        for (std::size_t k = 0; k < n; ++k) {
            if (syms[k].st_name >= strtab.sh_size || syms[k].st_shndx == SHN_UNDEF) continue;
            if (fn(syms[k], names + syms[k].st_name, strtab.sh_size - syms[k].st_name)) return true;
        }
    }
    return true;
}

}  // namespace

bool elf_symbol(const std::string& path, const std::string& symbol, std::uint64_t& value, std::uint64_t& first_load) {
    MappedFile f(path);
    bool found = false;
    for (std::uint32_t type : {SHT_SYMTAB, SHT_DYNSYM}) {
        const bool elf = for_each_symbol(f, type, first_load, [&](const Elf64_Sym& sym, const char* name, std::size_t room) {
            if (std::strncmp(name, symbol.c_str(), room) != 0) return false;
            value = sym.st_value;
            return found = true;
        });
        if (!elf || found) break;
    }
    return found;
}

std::unordered_map<std::string, std::uint64_t> mapped_files(pid_t pid) {
    std::unordered_map<std::string, std::uint64_t> base;
    for (const Mapping& m : read_maps(pid)) {
        if (m.offset != 0) continue;
        auto it = base.find(m.path);
        if (it == base.end() || m.start < it->second) base[m.path] = m.start;
    }
    return base;
}

std::string demangle(const std::string& mangled) {
    int status = 0;
    // libstdc++ marks the names of types local to a translation unit with a leading '*'.
    const char* name = mangled.c_str() + (mangled.starts_with('*') ? 1 : 0);
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(name);
}

// ------------------------------------------------------------------------------ symbolizer

namespace {
bool stat_id(const std::string& path, std::vector<FileId>& out) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    const FileId id{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    return true;
}
}  // namespace

struct Symbolizer::File {
    std::string path;        // as /proc/PID/maps names it
    std::vector<FileId> ids;  // what it is: see load()
    std::uint64_t bias = 0;  // the target's address of the file's address 0
    struct Function {
        std::uint64_t start, size;
        std::string name;
    };
    std::vector<Function> functions;  // sorted by start
};

Symbolizer::Symbolizer(pid_t pid) : pid_(pid) {}
Symbolizer::~Symbolizer() = default;

void Symbolizer::load() {
    loaded_ = true;
    char exe[4096];
    const ssize_t n = ::readlink(("/proc/" + std::to_string(pid_) + "/exe").c_str(), exe, sizeof exe - 1);
    if (n > 0) executable_.assign(exe, static_cast<std::size_t>(n));
    const std::string proc = "/proc/" + std::to_string(pid_);
    std::unordered_map<std::string, Mapping> lowest;  // each file's mapping at offset 0, the lowest
    for (Mapping& m : read_maps(pid_)) {
        if (m.offset != 0) continue;
        auto it = lowest.find(m.path);
        if (it == lowest.end() || m.start < it->second.start) lowest[m.path] = std::move(m);
    }
    for (const auto& [path, mapping] : lowest) {
        const std::uint64_t start = mapping.start;
        // The file as the target sees it (its mount namespace), else by name.
        auto f = std::make_unique<MappedFile>("/proc/" + std::to_string(pid_) + "/root" + path);
        if (!f->at<Elf64_Ehdr>(0)) f = std::make_unique<MappedFile>(path);
        auto file = std::make_unique<File>();
        file->path = path;
        std::uint64_t first_load = 0;
        // .symtab holds every function (local ones too); .dynsym only the exported ones.
        for (std::uint32_t type : {SHT_SYMTAB, SHT_DYNSYM}) {
            for_each_symbol(*f, type, first_load, [&](const Elf64_Sym& sym, const char* name, std::size_t room) {
                if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC)
                    file->functions.push_back({sym.st_value, std::max<std::uint64_t>(sym.st_size, 1), std::string(name, strnlen(name, room))});
                return false;
            });
            if (!file->functions.empty()) break;
        }
        if (file->functions.empty()) continue;
        file->bias = start - first_load;
        // What the mapped file is, however it is named: the file the mapping holds (map_files/,
        // which a stat() follows to it), the file its name gives in the target's mount namespace,
        // and the maps line's device and inode (on overlayfs these can be the layer's, where a
        // stat() says the overlay's: all are kept, a match with any is a match).
        char range[64];
        std::snprintf(range, sizeof range, "%llx-%llx", static_cast<unsigned long long>(mapping.start),
                      static_cast<unsigned long long>(mapping.end));
        stat_id(proc + "/map_files/" + range, file->ids);
        stat_id(proc + "/root" + path, file->ids);
        if (mapping.inode) file->ids.push_back(FileId{mapping.device, mapping.inode});
        std::sort(file->functions.begin(), file->functions.end(),
                  [](const File::Function& a, const File::Function& b) { return a.start < b.start; });
        files_.push_back(std::move(file));
    }
}

std::string Symbolizer::name_in(const File& file, std::uint64_t at) const {
    auto it = std::upper_bound(file.functions.begin(), file.functions.end(), at,
                               [](std::uint64_t a, const File::Function& f) { return a < f.start; });
    if (it == file.functions.begin()) return "";
    --it;
    return at < it->start + it->size ? demangle(it->name) : "";
}

std::string Symbolizer::function_at(std::uint64_t address) {
    if (!loaded_) load();
    for (const auto& file : files_) {
        if (address < file->bias) continue;
        std::string name = name_in(*file, address - file->bias);
        if (!name.empty()) return name;
    }
    return "";
}

std::string Symbolizer::function_in(const std::string& path, std::uint64_t offset) {
    if (!loaded_) load();
    const std::string& wanted = path.empty() ? executable_ : path;
    for (const auto& file : files_)
        if (file->path == wanted) return name_in(*file, offset);
    // Not by its name: the target named the object as it loaded it (dl_iterate_phdr's dlpi_name:
    // through a symlink, /lib/... for /usr/lib/...), the kernel's maps by the file's own path.
    // The same file by device and inode.
    const std::vector<FileId>& ids = identities_of(wanted);
    for (const auto& file : files_)
        for (const FileId& id : file->ids)
            if (std::find(ids.begin(), ids.end(), id) != ids.end()) return name_in(*file, offset);
    return "";
}

const std::vector<FileId>& Symbolizer::identities_of(const std::string& path) {
    auto it = identities_.find(path);
    if (it != identities_.end()) return it->second;
    std::vector<FileId> ids;
    if (!path.empty() && path[0] == '/') {
        stat_id("/proc/" + std::to_string(pid_) + "/root" + path, ids);
        stat_id(path, ids);  // the reader's own view (no access to the target's root)
    }
    return identities_[path] = std::move(ids);
}

}  // namespace nogil_tool::inspect
