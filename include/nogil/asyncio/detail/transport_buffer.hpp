#pragma once
// ByteBuffer: the byte queue under StreamReader (bytes received, not yet read) and under a
// transport's write side (bytes written, not yet sent). A linear buffer with a consumed prefix:
// the kernel writes straight into its tail (no zero-filling, unlike std::string::resize) and the
// prefix is reclaimed by moving the live bytes to the front when room is needed.
//
// Memory given back (bounded retained capacity): a buffer keeps at most `retain` bytes of
// capacity once it drains. One that grew beyond that for a large message (a 10 MB body read
// with readexactly, a 10 MB write the kernel took slowly) frees its memory when it becomes
// empty, and moves its few remaining live bytes into `retain` bytes when consuming leaves at
// most retain / 4 of them (hysteresis: growing past `retain` again needs more than
// retain - n live bytes for a prepare(n), so a buffer never flips between the two sizes on
// every read). Each byte is copied O(1) times by this, amortised: a shrink copies at most
// retain / 4 bytes after at least 3/4 of the capacity was consumed. Python's bytearray (under
// its StreamReader) shrinks likewise when less than half of its allocation is used.
// Not thread-safe: a stream belongs to its loop's thread.

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace nogil::asyncio::detail {

class ByteBuffer {
public:
    /// What a drained buffer keeps at most (see the top of the file).
    static constexpr std::size_t default_retain = 128 * 1024;

    explicit ByteBuffer(std::size_t retain = default_retain) noexcept : retain_(retain) {}
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;

    std::size_t size() const noexcept { return tail_ - head_; }
    bool empty() const noexcept { return tail_ == head_; }
    const char* data() const noexcept { return data_.get() + head_; }
    std::string_view view() const noexcept { return {data(), size()}; }

    /// At least `n` writable bytes after the live ones; returns where to write them.
    char* prepare(std::size_t n) {
        if (capacity_ - tail_ >= n) return data_.get() + tail_;
        const std::size_t live = size();
        if (head_ > 0 && capacity_ - live >= n && live <= capacity_ / 2) {
            std::memmove(data_.get(), data(), live);  // reclaim the consumed prefix
        } else {
            std::size_t cap = capacity_ ? capacity_ : 4096;
            while (cap - live < n) cap *= 2;
            auto bigger = std::make_unique_for_overwrite<char[]>(cap);
            if (live) std::memcpy(bigger.get(), data(), live);
            data_ = std::move(bigger);
            capacity_ = cap;
        }
        head_ = 0;
        tail_ = live;
        return data_.get() + tail_;
    }
    /// Makes `n` bytes written after prepare() live.
    void commit(std::size_t n) noexcept { tail_ += n; }
    void append(std::string_view s) {
        if (s.empty()) return;
        std::memcpy(prepare(s.size()), s.data(), s.size());
        commit(s.size());
    }
    /// Drops the first `n` live bytes (n <= size()); gives memory back beyond `retain`.
    void consume(std::size_t n) noexcept {
        head_ += n;
        if (head_ == tail_) head_ = tail_ = 0;  // empty: next data starts at the front again
        if (capacity_ > retain_) shrink();
    }
    /// Removes and returns the first `n` live bytes (n <= size()).
    std::string take(std::size_t n) {
        std::string out(data(), n);
        consume(n);
        return out;
    }
    /// Drops everything; frees the memory (clear(0)) or keeps at most `retain` bytes.
    void clear() noexcept {
        head_ = tail_ = 0;
        shrink();
    }
    void clear(std::size_t keep) noexcept {
        head_ = tail_ = 0;
        if (capacity_ > keep) {
            data_.reset();
            capacity_ = 0;
        }
    }
    /// Exchanges the bytes and their memory with `other` (each keeps its own `retain`): hands a
    /// whole queue over without copying it.
    void swap_contents(ByteBuffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(capacity_, other.capacity_);
        std::swap(head_, other.head_);
        std::swap(tail_, other.tail_);
    }
    /// Bytes allocated (memory bound checks in tests).
    std::size_t capacity() const noexcept { return capacity_; }
    /// The capacity kept once drained; changing it applies at the next consume().
    std::size_t retain() const noexcept { return retain_; }
    void set_retain(std::size_t retain) noexcept { retain_ = retain; }

private:
    void shrink() noexcept {
        const std::size_t live = size();
        if (live == 0) {
            if (capacity_ > retain_) {
                data_.reset();
                capacity_ = 0;
            }
            return;
        }
        if (capacity_ <= retain_ || live > retain_ / 4) return;
        // Out of memory here only means keeping the larger block.
        std::unique_ptr<char[]> smaller(new (std::nothrow) char[retain_]);
        if (!smaller) return;
        std::memcpy(smaller.get(), data(), live);
        data_ = std::move(smaller);
        capacity_ = retain_;
        head_ = 0;
        tail_ = live;
    }

    std::size_t retain_;
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
};

}  // namespace nogil::asyncio::detail
