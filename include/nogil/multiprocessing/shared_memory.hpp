#pragma once
// multiprocessing.shared_memory.SharedMemory: a named block of memory any process can attach to.
//
//   mp::shared_memory::SharedMemory shm(std::nullopt, true, 4096);   // create, random name
//   std::memcpy(shm.buf().data(), "hi", 2);
//   mp::shared_memory::SharedMemory other(shm.name());              // attach (any process)
//   other.close(); shm.close(); shm.unlink();
//
// POSIX shared memory (/dev/shm). As in Python, the name outlives every handle until unlink().
// With track (the default, Python 3.13's `track=True`), the name is registered with the program's
// resource tracker (detail/mp_resource_tracker.hpp), which unlinks whatever is still registered
// once the program and all its children are gone, killed or not: /dev/shm is left clean. A SharedMemory is a shared
// handle; serializing it sends its name (the child attaches by name).

#include <nogil/detail/serial.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace nogil::multiprocessing::shared_memory {

class SharedMemory {
public:
    /// create: a new block of `size` bytes (> 0), named `name` or a random "psm_..." name; throws
    /// OSError(EEXIST) if the name is taken. !create: attaches to `name` (OSError(ENOENT) if
    /// missing); std::invalid_argument for a missing name or a zero size on create.
    explicit SharedMemory(std::optional<std::string> name = std::nullopt, bool create = false, std::size_t size = 0,
                          bool track = true);

    /// The mapped bytes (empty after close()).
    std::span<std::byte> buf() const;
    /// The name, without the leading '/', as Python shows it.
    const std::string& name() const;
    /// The size of the block (rounded to whole pages when attaching, as on Linux in Python).
    std::size_t size() const;
    /// Unmaps this handle's view (every copy of it). Idempotent.
    void close();
    /// Removes the name; processes already attached keep their mapping.
    void unlink();

    template <class Archive>
    void save(Archive& ar) const {
        ar(name());
    }
    static SharedMemory nogil_load(detail::serial::InputArchive& ar) {
        std::string name;
        ar(name);
        return SharedMemory(name, false, 0, false);
    }

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace nogil::multiprocessing::shared_memory
