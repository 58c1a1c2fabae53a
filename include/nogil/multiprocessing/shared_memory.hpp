#pragma once
// multiprocessing.shared_memory.SharedMemory: a named block of memory any process can attach to.
//
//   mp::shared_memory::SharedMemory shm(std::nullopt, true, 4096);   // create, random name
//   std::memcpy(shm.buf().data(), "hi", 2);
//   mp::shared_memory::SharedMemory other(shm.name());              // attach (any process)
//   other.close(); shm.close(); shm.unlink();
//
// POSIX shared memory (/dev/shm). As in Python, the name outlives every handle until unlink(). With
// track (the default, Python 3.13's `track=True`), the name is registered with the program's
// resource tracker (src/multiprocessing/detail/resource_tracker.hpp), which unlinks whatever is
// still registered once the program and all its children are gone, killed or not: /dev/shm is left
// clean. A SharedMemory is a shared handle; serializing it sends its name (the child attaches by
// name).

#include <nogil/detail/serial.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace nogil::multiprocessing::shared_memory {

/// Thread safety: every member may be called from any thread at once (the handle's state is under a
/// lock). The bytes of buf() are shared memory: concurrent writers need a Lock.
class SharedMemory {
public:
    /// create: a new block of `size` bytes (> 0), named `name` or a random "psm_..." name; throws
    /// FileExistsError (an OSError, EEXIST) if the name is taken. !create: attaches to `name`
    /// (FileNotFoundError, ENOENT, if missing); std::invalid_argument for a missing name or a
    /// zero size on create. As Python's.
    explicit SharedMemory(std::optional<std::string> name = std::nullopt, bool create = false, std::size_t size = 0,
                          bool track = true);

    /// The mapped bytes (empty after close()).
    std::span<std::byte> buf() const;
    /// The name, without the leading '/', as Python shows it.
    const std::string& name() const;
    /// The size of the block (when attaching: the size its creator gave it).
    std::size_t size() const;
    /// Unmaps this handle's view (every copy of it). Idempotent.
    void close();
    /// Removes the name; processes already attached keep their mapping.
    void unlink();

    template <class Archive>
    void save(Archive& ar) const {
        ar(name());
    }
    static SharedMemory nogil_load(nogil::detail::serial::InputArchive& ar) {
        std::string name;
        ar(name);
        return SharedMemory(name, false, 0, false);
    }

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// Python's bytes, as a ShareableList item (str is std::string).
using Bytes = std::vector<std::byte>;

/// multiprocessing.shared_memory.ShareableList: a fixed-length list of int, float, bool, str,
/// bytes or None items, stored in a SharedMemory block that any process can attach to by name.
///
///   mp::shared_memory::ShareableList sl({std::int64_t{1}, 2.5, true, "text", std::monostate{}});
///   auto other = mp::shared_memory::ShareableList::attach(sl.shm().name());  // any process
///   other[3] = "new";                   // seen by every process attached
///   std::string s = std::get<std::string>(sl[3].get());
///
/// Each slot gets a fixed capacity when the list is created, as in Python: 8 bytes for a number,
/// bool or None, the length rounded up to a multiple of 8 (at least 8) for str and bytes. Any item
/// that fits may replace any other (an int over a str, a shorter str); a longer str or bytes throws
/// std::invalid_argument. Like Python's, the list is not synchronized: concurrent writers of one
/// slot, or a reader racing a writer, must hold a multiprocessing Lock. The layout is nogil's own
/// (Python processes cannot attach to it). The list is a handle: copies share the mapping; it is
/// serialized as its name (a child attaches).
///
/// Thread safety: see above: readers and writers of one slot racing each other must hold a
/// multiprocessing Lock.
class ShareableList {
public:
    /// One item: None, int, float, bool, str, bytes.
    using Item = std::variant<std::monostate, std::int64_t, double, bool, std::string, Bytes>;

    /// A reference to one slot: reads and assigns the item (sl[i] = value).
    class Reference {
    public:
        Item get() const { return list_->get(index_); }
        operator Item() const { return get(); }
        Reference& operator=(Item value) {
            list_->set(index_, std::move(value));
            return *this;
        }
        Reference& operator=(const Reference& other) { return *this = other.get(); }

    private:
        friend class ShareableList;
        Reference(const ShareableList* list, std::ptrdiff_t index) : list_(list), index_(index) {}
        const ShareableList* list_;
        std::ptrdiff_t index_;
    };

    /// Creates a new block (named `name`, or a random "psm_..." name) holding `sequence`. Throws
    /// as SharedMemory's constructor does (FileExistsError for a taken name).
    explicit ShareableList(const std::vector<Item>& sequence, std::optional<std::string> name = std::nullopt);

    /// Python's ShareableList(name=name): attaches to an existing list. Throws OSError(ENOENT) if
    /// there is no such block, std::invalid_argument if the block does not hold a ShareableList.
    static ShareableList attach(const std::string& name);

    /// The item at `index` (negative counts from the end, as in Python). Throws std::out_of_range.
    Item get(std::ptrdiff_t index) const;
    /// Stores `value` at `index`. Throws std::out_of_range for a bad index, std::invalid_argument if
    /// a str or bytes value is longer than the slot's capacity (Python's ValueError).
    void set(std::ptrdiff_t index, Item value) const;
    /// sl[i]: a Reference that reads with get() and assigns with =.
    Reference operator[](std::ptrdiff_t index) const { return Reference(this, index); }

    /// The number of items (fixed).
    std::size_t size() const noexcept { return count_; }
    /// How many items equal `value` (same type and value: unlike Python, 1, 1.0 and true differ).
    std::size_t count(const Item& value) const;
    /// The position of the first item equal to `value`; std::invalid_argument if there is none.
    std::size_t index(const Item& value) const;
    /// Python's `format`: the struct format of the stored items ("q" int, "d" float, "xxxxxxx?"
    /// bool, "xxxxxx?x" None, "<capacity>s" str and bytes), concatenated.
    std::string format() const;
    /// The block holding the list (close() and unlink() are the caller's, as in Python).
    SharedMemory& shm() noexcept { return shm_; }
    const SharedMemory& shm() const noexcept { return shm_; }

    template <class Archive>
    void save(Archive& ar) const {
        ar(shm_.name());
    }
    static ShareableList nogil_load(nogil::detail::serial::InputArchive& ar) {
        std::string name;
        ar(name);
        return attach(name);
    }

private:
    explicit ShareableList(SharedMemory shm);
    std::size_t position(std::ptrdiff_t index) const;
    SharedMemory shm_;
    std::size_t count_ = 0;
};

}  // namespace nogil::multiprocessing::shared_memory
