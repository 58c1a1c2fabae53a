#pragma once
// ByteBuffer: the byte queue under StreamReader (bytes received, not yet read) and under a
// transport's write side (bytes written, not yet sent). A linear buffer with a consumed prefix:
// the kernel writes straight into its tail (no zero-filling, unlike std::string::resize) and the
// prefix is reclaimed by moving the live bytes to the front when room is needed.
// Not thread-safe: a stream belongs to its loop's thread.

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace nogil::asyncio::detail {

class ByteBuffer {
public:
    ByteBuffer() = default;
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
    /// Drops the first `n` live bytes (n <= size()).
    void consume(std::size_t n) noexcept {
        head_ += n;
        if (head_ == tail_) head_ = tail_ = 0;  // empty: next data starts at the front again
    }
    /// Removes and returns the first `n` live bytes (n <= size()).
    std::string take(std::size_t n) {
        std::string out(data(), n);
        consume(n);
        return out;
    }
    /// Drops everything; keeps the memory unless it grew beyond `keep` bytes.
    void clear(std::size_t keep = 1 << 16) noexcept {
        head_ = tail_ = 0;
        if (capacity_ > keep) {
            data_.reset();
            capacity_ = 0;
        }
    }
    /// Bytes allocated (memory bound checks in tests).
    std::size_t capacity() const noexcept { return capacity_; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
};

}  // namespace nogil::asyncio::detail
