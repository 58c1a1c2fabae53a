#pragma once
// A block of memory shared between processes: an anonymous memfd, mapped MAP_SHARED. It has no
// name, so nothing is ever left in /dev/shm; it reaches a child as a descriptor carried by the
// message that mentions it (serial.hpp), and lives while any process maps it.
// The synchronization primitives, Value, Array and Queue keep their state in one.

#include <nogil/multiprocessing/detail/fd.hpp>
#include <nogil/detail/serial.hpp>

#include <cstddef>
#include <memory>
#include <new>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


class SharedBlock {
public:
    /// A new zero-filled block of `size` bytes.
    static std::shared_ptr<SharedBlock> create(std::size_t size);
    /// Maps a block received from another process (size from the descriptor).
    static std::shared_ptr<SharedBlock> map(UniqueFd fd);

    ~SharedBlock();
    SharedBlock(const SharedBlock&) = delete;
    SharedBlock& operator=(const SharedBlock&) = delete;

    void* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    int fd() const noexcept { return fd_.get(); }

    /// Saves a reference to `block` (its descriptor travels with the message).
    template <class Archive>
    static void save(Archive& ar, const std::shared_ptr<SharedBlock>& block) {
        ar(serial::export_fd(block->fd()));
    }
    static std::shared_ptr<SharedBlock> load(serial::InputArchive& ar) {
        std::uint32_t index = 0;
        ar(index);
        return map(serial::import_fd(index));
    }

private:
    SharedBlock(UniqueFd fd, void* data, std::size_t size) : fd_(std::move(fd)), data_(data), size_(size) {}
    UniqueFd fd_;
    void* data_;
    std::size_t size_;
};

/// A typed view of a block holding one State (constructed in place by the creator only).
template <class State>
struct SharedState {
    std::shared_ptr<SharedBlock> block;

    template <class... Args>
    static SharedState create(Args&&... args) {
        SharedState s{SharedBlock::create(sizeof(State))};
        new (s.block->data()) State{std::forward<Args>(args)...};
        return s;
    }
    static SharedState load(serial::InputArchive& ar) {
        SharedState s{SharedBlock::load(ar)};
        if (s.block->size() < sizeof(State)) throw std::runtime_error("shared object: block too small");
        return s;
    }
    template <class Archive>
    void save(Archive& ar) const {
        SharedBlock::save(ar, block);
    }
    State& operator*() const noexcept { return *std::launder(static_cast<State*>(block->data())); }
    State* operator->() const noexcept { return &**this; }
};

}  // namespace nogil::multiprocessing::detail
