#pragma once
// The common shape of objects whose state lives in a SharedBlock (Lock, Event, Value, ...):
// copies share the state, and serializing one sends the block's descriptor so that the child's
// copy is the same object, whatever the start method.

#include <nogil/multiprocessing/detail/shared_block.hpp>

#include <memory>
#include <utility>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
namespace serial = ::nogil::detail::serial;


template <class Derived>
class SharedHandle {
public:
    template <class Archive>
    void save(Archive& ar) const {
        SharedBlock::save(ar, block_);
    }
    static Derived nogil_load(serial::InputArchive& ar) { return Derived(SharedBlock::load(ar)); }

protected:
    explicit SharedHandle(std::shared_ptr<SharedBlock> block) : block_(std::move(block)) {}
    std::shared_ptr<SharedBlock> block_;
};

}  // namespace nogil::multiprocessing::detail
