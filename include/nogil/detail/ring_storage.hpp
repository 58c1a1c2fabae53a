#pragma once
// A first-in, first-out storage policy (the interface of detail/queue_storage.hpp) kept in one
// ring buffer instead of std::deque's 512-byte blocks. Used by asyncio::Queue.
//
// Why: an unbounded asyncio queue whose producer never yields builds its whole backlog before
// the consumer runs (Python's semantics), e.g. 1,000,000 items = 8 MB. A deque mallocs and frees
// a small block every 64 ints, and glibc hands the drained heap top back to the kernel, so the
// next burst page-faults all of it in again: half of the per-item cost. One buffer grown by
// doubling costs a few allocations per burst, and a large one freed raises glibc's adaptive
// mmap/trim thresholds, so the next burst reuses the same pages. Trivially copyable items grow
// with realloc (in place at the heap top, or mremap for large blocks: no copy); others are
// moved into the new buffer (move_if_noexcept, so a throwing copy leaves the old one intact).
//
// Memory: the buffer is the largest backlog rounded up to a power of two; a buffer over 1 MiB
// is freed when the queue drains to empty, so one burst does not pin memory for the queue's life.

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace nogil::detail {

template <class T>
class ring_storage {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && std::is_move_constructible_v<T>,
                  "queue items must be non-const, move-constructible object types");
    static constexpr bool relocatable = std::is_trivially_copyable_v<T> && alignof(T) <= alignof(std::max_align_t);
    static constexpr std::size_t min_capacity = 16;
    static constexpr std::size_t keep_bytes = std::size_t(1) << 20;

public:
    using value_type = T;

    ring_storage() noexcept = default;
    ring_storage(ring_storage&& o) noexcept { swap(o); }
    ring_storage& operator=(ring_storage&& o) noexcept {
        ring_storage(std::move(o)).swap(*this);
        return *this;
    }
    ~ring_storage() { release(); }

    /// Items stored.
    std::size_t size() const noexcept { return size_; }
    /// Appends `item` at the back (may grow the buffer; strong guarantee if that throws).
    template <class U>
    void push(U&& item) {
        if (size_ == capacity_) grow();
        ::new (static_cast<void*>(buf_ + ((head_ + size_) & (capacity_ - 1)))) T(std::forward<U>(item));
        ++size_;
    }
    /// Removes and returns the front item (non-empty only).
    T pop() {
        T& front = buf_[head_];
        T item = std::move(front);
        front.~T();
        head_ = (head_ + 1) & (capacity_ - 1);
        if (--size_ == 0 && capacity_ * sizeof(T) > keep_bytes) release();
        return item;
    }
    /// Empties this storage, handing the items to the caller (destroyed when it drops them).
    ring_storage take_all() noexcept {
        ring_storage all;
        all.swap(*this);
        return all;
    }
    void swap(ring_storage& o) noexcept {
        std::swap(buf_, o.buf_);
        std::swap(capacity_, o.capacity_);
        std::swap(head_, o.head_);
        std::swap(size_, o.size_);
    }

private:
    // The slow paths stay out of line so that push() and pop() inline into the awaiters.
    [[gnu::noinline, gnu::cold]] void grow() {
        const std::size_t cap = capacity_ ? capacity_ * 2 : min_capacity;
        if (cap > static_cast<std::size_t>(-1) / 2 / sizeof(T)) throw std::bad_alloc();
        if constexpr (relocatable) {
            void* p = std::realloc(buf_, cap * sizeof(T));
            if (!p) throw std::bad_alloc();
            buf_ = static_cast<T*>(p);
            // The items that had wrapped to the front, [0, head_), now belong after the old end.
            if (head_ != 0 && capacity_ != 0) std::memcpy(buf_ + capacity_, buf_, head_ * sizeof(T));
        } else {
            T* fresh = std::allocator<T>().allocate(cap);
            std::size_t moved = 0;
            try {
                for (; moved < size_; ++moved)
                    ::new (static_cast<void*>(fresh + moved)) T(std::move_if_noexcept(buf_[(head_ + moved) & (capacity_ - 1)]));
            } catch (...) {
                std::destroy_n(fresh, moved);
                std::allocator<T>().deallocate(fresh, cap);
                throw;
            }
            destroy_all();
            if (buf_) std::allocator<T>().deallocate(buf_, capacity_);
            buf_ = fresh;
            head_ = 0;
        }
        capacity_ = cap;
    }
    void destroy_all() noexcept {
        if constexpr (!std::is_trivially_destructible_v<T>)
            for (std::size_t i = 0; i < size_; ++i) buf_[(head_ + i) & (capacity_ - 1)].~T();
    }
    [[gnu::noinline]] void release() noexcept {
        destroy_all();
        if constexpr (relocatable)
            std::free(buf_);
        else if (buf_)
            std::allocator<T>().deallocate(buf_, capacity_);
        buf_ = nullptr;
        capacity_ = head_ = size_ = 0;
    }

    // size_ is not last: next to the owner's own counter, g++ merges the two increments of a
    // push into one 16-byte load+store, which stalls when a pop last wrote them separately.
    T* buf_ = nullptr;
    std::size_t size_ = 0;
    std::size_t head_ = 0;      // index of the front item
    std::size_t capacity_ = 0;  // 0 or a power of two
};

}  // namespace nogil::detail
