#pragma once
// multiprocessing.Value and multiprocessing.Array: plain data in shared memory with a lock.
//
//   mp::Value<long> counter(0);
//   mp::Process p(add_one, counter); ...          // the child's counter is the same memory
//   { std::scoped_lock lock(counter.get_lock()); counter.get_obj() += 1; }
//   long now = counter.value();
//
// T must be trivially copyable (the role of ctypes types in Python). value()/set_value() and
// Array's get/set/to_vector take the lock, as Python's synchronized wrappers do; get_obj() is the
// raw memory for compound updates under get_lock(). Copies are shared handles.

#include <nogil/multiprocessing/detail/shared_block.hpp>
#include <nogil/multiprocessing/synchronize.hpp>

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace nogil::multiprocessing {

/// Thread safety: value()/set_value() take the shared lock (any thread of any process); get_obj()
/// is raw memory, for use under get_lock().
template <class T>
class Value {
    static_assert(std::is_trivially_copyable_v<T>,
                  "multiprocessing::Value<T>: T must be trivially copyable: it lives in shared memory as raw bytes");

public:
    explicit Value(T initial = T{}) : block_(detail::SharedBlock::create(sizeof(T))) {
        new (block_->data()) T(initial);
    }
    /// The value, read under the lock.
    T value() const {
        std::scoped_lock lock(lock_);
        return get_obj();
    }
    /// Replaces the value under the lock.
    void set_value(const T& v) {
        std::scoped_lock lock(lock_);
        get_obj() = v;
    }
    /// The shared memory itself (no locking: hold get_lock() for read-modify-write).
    T& get_obj() const { return *std::launder(static_cast<T*>(block_->data())); }
    /// The RLock guarding the value (the same lock in every process).
    RLock& get_lock() const { return lock_; }

    template <class Archive>
    void save(Archive& ar) const {
        ar(lock_);
        detail::SharedBlock::save(ar, block_);
    }
    static Value nogil_load(nogil::detail::serial::InputArchive& ar) {
        RLock lock = RLock::nogil_load(ar);
        auto block = detail::SharedBlock::load(ar);
        if (block->size() < sizeof(T)) throw std::runtime_error("Value: received block is too small");
        return Value(std::move(lock), std::move(block));
    }

private:
    Value(RLock lock, std::shared_ptr<detail::SharedBlock> block) : lock_(std::move(lock)), block_(std::move(block)) {}
    mutable RLock lock_;
    std::shared_ptr<detail::SharedBlock> block_;
};

/// Thread safety: get/set/to_vector take the shared lock (any thread of any process); get_obj() is
/// raw memory, for use under get_lock().
template <class T>
class Array {
    static_assert(std::is_trivially_copyable_v<T>,
                  "multiprocessing::Array<T>: T must be trivially copyable: it lives in shared memory as raw bytes");
    static constexpr std::size_t data_offset = 64;  // after the element count, aligned for any T

public:
    /// `size` zero-initialized elements.
    explicit Array(std::size_t size) : block_(detail::SharedBlock::create(data_offset + size * sizeof(T))) {
        std::memcpy(block_->data(), &size, sizeof size);
    }
    /// A copy of `values`.
    explicit Array(const std::vector<T>& values) : Array(values.size()) {
        if (!values.empty()) std::memcpy(data(), values.data(), values.size() * sizeof(T));
    }
    Array(std::initializer_list<T> values) : Array(std::vector<T>(values)) {}

    std::size_t size() const noexcept {
        std::size_t n;
        std::memcpy(&n, block_->data(), sizeof n);
        return n;
    }
    /// Element i under the lock. Throws std::out_of_range (IndexError).
    T get(std::size_t i) const {
        check(i);
        std::scoped_lock lock(lock_);
        return data()[i];
    }
    void set(std::size_t i, const T& v) {
        check(i);
        std::scoped_lock lock(lock_);
        data()[i] = v;
    }
    /// All elements under the lock (Python's arr[:]).
    std::vector<T> to_vector() const {
        std::scoped_lock lock(lock_);
        return std::vector<T>(data(), data() + size());
    }
    /// The shared memory itself (no locking).
    std::span<T> get_obj() const { return {data(), size()}; }
    RLock& get_lock() const { return lock_; }

    template <class Archive>
    void save(Archive& ar) const {
        ar(lock_);
        detail::SharedBlock::save(ar, block_);
    }
    static Array nogil_load(nogil::detail::serial::InputArchive& ar) {
        RLock lock = RLock::nogil_load(ar);
        auto block = detail::SharedBlock::load(ar);
        Array a(std::move(lock), std::move(block));
        if (a.block_->size() < data_offset || (a.block_->size() - data_offset) / sizeof(T) < a.size())
            throw std::runtime_error("Array: received block is smaller than its element count");
        return a;
    }

private:
    Array(RLock lock, std::shared_ptr<detail::SharedBlock> block) : lock_(std::move(lock)), block_(std::move(block)) {}
    T* data() const { return std::launder(reinterpret_cast<T*>(static_cast<char*>(block_->data()) + data_offset)); }
    void check(std::size_t i) const {
        if (i >= size()) throw std::out_of_range("Array index " + std::to_string(i) + " out of range");
    }
    mutable RLock lock_;
    std::shared_ptr<detail::SharedBlock> block_;
};

}  // namespace nogil::multiprocessing
