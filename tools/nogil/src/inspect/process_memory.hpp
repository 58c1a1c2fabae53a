#pragma once
// Reading another process's memory and the ELF files it maps: what `nogil ps` is built on
// (remote.cpp reads the loops, executors.cpp the executors). process_vm_readv only: no code runs
// in the target.

#include "inspect/remote.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/types.h>
#include <sys/uio.h>

namespace nogil_tool::inspect {

/// The longest string one read follows (names, files).
constexpr std::size_t max_string = 4096;

[[noreturn]] void throw_read_error(pid_t pid, int e);
bool process_exists(pid_t pid);

/// process_vm_readv of one range: true if all of it was read; false for an address that is not
/// mapped (EFAULT, or a short read); throws for the process's own failures (gone, permission).
class Memory {
public:
    explicit Memory(pid_t pid) : pid_(pid) {}
    bool read(std::uint64_t address, void* out, std::size_t size) const {
        if (address == 0) return false;
        iovec local{out, size};
        iovec remote{reinterpret_cast<void*>(address), size};
        const ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
        if (n == static_cast<ssize_t>(size)) return true;
        if (n >= 0 || errno == EFAULT) return false;
        throw_read_error(pid_, errno);
    }
    template <class T>
    bool get(std::uint64_t address, T& out) const {
        return read(address, &out, sizeof(T));
    }
    std::uint64_t word(std::uint64_t address, bool& ok) const {
        std::uint64_t w = 0;
        if (!get(address, w)) ok = false;
        return w;
    }
    /// A NUL-terminated string (static data: cached by address).
    std::string c_string(std::uint64_t address) {
        auto it = strings_.find(address);
        if (it != strings_.end()) return it->second;
        std::string s;
        char chunk[64];
        while (s.size() < max_string) {
            // A read that crosses into an unmapped page fails: fall back to smaller reads.
            std::size_t n = sizeof chunk;
            while (n > 0 && !read(address + s.size(), chunk, n)) n /= 2;
            if (n == 0) break;
            const void* nul = std::memchr(chunk, 0, n);
            if (nul) {
                s.append(chunk, static_cast<const char*>(nul) - chunk);
                break;
            }
            s.append(chunk, n);
        }
        return strings_[address] = s;
    }
    pid_t pid() const noexcept { return pid_; }

private:
    pid_t pid_;
    std::unordered_map<std::uint64_t, std::string> strings_;
};

struct Mapping {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::uint64_t offset = 0;
    std::uint64_t device = 0;  // the maps line's dev (makedev(major, minor)) and inode
    std::uint64_t inode = 0;
    std::string path;
};

/// A file's identity: its device and inode. The same file can have several names (a symlink, a
/// merged /usr where /lib is /usr/lib), and one name several files (another mount namespace).
struct FileId {
    std::uint64_t device = 0, inode = 0;
    bool operator==(const FileId&) const = default;
};

/// The file-backed mappings of /proc/PID/maps. Throws RemoteError (no process, permission).
std::vector<Mapping> read_maps(pid_t pid);

/// Each mapped file's load bias: its lowest mapping at file offset 0 (path -> start).
std::unordered_map<std::string, std::uint64_t> mapped_files(pid_t pid);

/// The symbol's value and the lowest PT_LOAD address of the file, or false.
bool elf_symbol(const std::string& path, const std::string& symbol, std::uint64_t& value, std::uint64_t& first_load);

/// Names code addresses of the target with the function symbols of the files it maps (.symtab,
/// else .dynsym), demangled: what a debugger's backtrace shows without debug information.
class Symbolizer {
public:
    explicit Symbolizer(pid_t pid);
    ~Symbolizer();
    /// The demangled name of the function containing `address`, or "" if none is known.
    std::string function_at(std::uint64_t address);
    /// The same for the function at `offset` from the load bias of the mapped file `path` (""
    /// for the executable): a multiprocessing FunctionId's spelling.
    std::string function_in(const std::string& path, std::uint64_t offset);

private:
    struct File;
    void load();
    // What `path` (as the target named it) is: stat()ed in the target's mount namespace
    // (/proc/PID/root), then in ours. Cached.
    const std::vector<FileId>& identities_of(const std::string& path);
    std::string name_in(const File& file, std::uint64_t at) const;
    pid_t pid_;
    std::string executable_;  // /proc/PID/exe's target
    bool loaded_ = false;
    std::vector<std::unique_ptr<File>> files_;
    std::unordered_map<std::string, std::vector<FileId>> identities_;
};

/// The readable form of a mangled name (a symbol "_Z..." or a type's), or the name itself.
std::string demangle(const std::string& mangled);

}  // namespace nogil_tool::inspect
