#pragma once
// asyncio::StreamReader: Python's asyncio.StreamReader - bytes (std::string) arriving from a
// connection or a pipe, read with co_await.
//
//   std::string line = co_await reader.readline();        // "" at EOF
//   std::string head = co_await reader.readexactly(4);    // IncompleteReadError at early EOF
//   // Python's `async for line in reader:` (C++ has no asynchronous range-for):
//   for (std::string line; !(line = co_await reader.readline()).empty();) use(line);
//
// A StreamReader is a shared handle (copies read from one buffer) and keeps its connection
// open: the connection closes when the last StreamReader/StreamWriter handle of it is gone (or
// at StreamWriter::close()). The read methods return awaitables; co_await each once. Only one
// read may wait at a time (RuntimeError otherwise, as in Python).
//
// Resumption: a read that has to wait is resumed inside the loop's readiness callback for the
// connection (in the same loop turn the bytes arrive), or one loop turn after feed_data() /
// feed_eof() / set_exception() when those are called by hand.
//
// Cancellation: cancelling a task suspended in a read throws CancelledError from that co_await
// and consumes nothing; the bytes stay buffered and the stream stays usable (read() with n < 0
// loses what it had gathered, as in Python).
//
// Limit: readuntil()/readline() never buffer more than `limit` bytes looking for a separator
// (LimitOverrunError / ValueError); the connection stops reading while more than 2 * limit
// bytes wait in the buffer and no read asks for them (flow control, memory stays bounded).
// Memory is given back as the buffer drains: however large one message was (readexactly of
// 10 MB), a drained reader keeps at most 2 * max(limit, 64 KiB) of buffer allocated.
// Loop thread only.

#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/detail/transport.hpp>
#include <nogil/asyncio/detail/transport_reader.hpp>
#include <nogil/errors.hpp>

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nogil::asyncio {

/// Python's asyncio.streams._DEFAULT_LIMIT (64 KiB).
inline constexpr std::size_t default_stream_limit = 64 * 1024;

/// Thread safety: loop thread only; a waiting read resumes on the loop's thread.
class StreamReader {
public:
    /// A reader fed by hand (feed_data/feed_eof), as Python's StreamReader(limit=...).
    /// std::invalid_argument if limit is 0.
    explicit StreamReader(std::size_t limit = default_stream_limit)
        : state_(detail::Ref<detail::StreamReaderState>::adopt(new detail::StreamReaderState(limit))) {}

    /// Up to n bytes (n > 0): what is buffered, or waits for some; "" at EOF. n < 0 reads until
    /// EOF and returns everything; n == 0 returns "" at once. Throws the stream's error.
    detail::ReadAwaiter read(std::ptrdiff_t n = -1) const {
        using K = detail::ReadAwaiter::Kind;
        return {state_, n < 0 ? K::read_all : K::read, n < 0 ? 0 : static_cast<std::size_t>(n), {}};
    }
    /// One line including its "\n"; at EOF the partial last line, then "". A line longer than
    /// the limit is dropped and std::invalid_argument thrown (Python's ValueError).
    detail::ReadAwaiter readline() const { return {state_, detail::ReadAwaiter::Kind::line, 0, "\n"}; }
    /// Exactly n bytes; IncompleteReadError (with the partial bytes, which are consumed) if EOF
    /// comes first. std::invalid_argument if n < 0.
    detail::ReadAwaiter readexactly(std::ptrdiff_t n) const {
        if (n < 0) throw std::invalid_argument("readexactly size can not be less than zero, got " + std::to_string(n));
        return {state_, detail::ReadAwaiter::Kind::exactly, static_cast<std::size_t>(n), {}};
    }
    /// Bytes up to and including `separator`. LimitOverrunError if it is not found within the
    /// limit (the bytes stay buffered); IncompleteReadError (partial bytes consumed) at EOF.
    /// An empty separator throws std::invalid_argument when awaited.
    detail::ReadAwaiter readuntil(std::string separator = "\n") const {
        return {state_, detail::ReadAwaiter::Kind::until, 0, std::move(separator)};
    }
    /// Bytes up to and including the first of several separators to end (Python 3.13's
    /// readuntil(tuple): the separator whose match ends first wins, at equal ends the shorter):
    /// `co_await reader.readuntil("\r\n", "\n")`. An empty separator throws
    /// std::invalid_argument when awaited; otherwise as readuntil(separator). (Separate
    /// arguments, not a braced list: g++ 12 cannot build an initializer_list inside a co_await.)
    template <class... More>
    detail::ReadAwaiter readuntil(std::string_view first, std::string_view second, More... more) const {
        static_assert((std::is_convertible_v<More, std::string_view> && ...), "readuntil: separators are strings");
        return {state_, std::vector<std::string>{std::string(first), std::string(second), std::string(std::string_view(more))...}};
    }
    /// Same, with the separators in a vector (built before the co_await); an empty vector throws
    /// std::invalid_argument here (Python: "Separator should contain at least one element").
    detail::ReadAwaiter readuntil(std::vector<std::string> separators) const { return {state_, std::move(separators)}; }
    /// True at EOF with nothing left buffered.
    bool at_eof() const noexcept { return state_->at_eof(); }
    /// The error the stream failed with (null if none).
    std::exception_ptr exception() const noexcept { return state_->exception(); }
    /// Appends bytes (ignored after feed_eof()).
    void feed_data(std::string_view data) const { state_->feed_data(data, false); }
    /// Marks the end of the stream.
    void feed_eof() const { state_->feed_eof(false); }
    /// Makes every later read throw `e` (a waiting read too).
    void set_exception(std::exception_ptr e) const { state_->set_exception(std::move(e), false); }
    /// The buffer limit given at creation.
    std::size_t limit() const noexcept { return state_->limit(); }

    /// The machinery; not part of the public API.
    StreamReader(detail::Ref<detail::StreamReaderState> state, detail::TransportUse transport) noexcept
        : state_(std::move(state)), transport_(std::move(transport)) {}
    const detail::Ref<detail::StreamReaderState>& state() const noexcept { return state_; }

private:
    detail::Ref<detail::StreamReaderState> state_;
    detail::TransportUse transport_;  // keeps the connection open; empty when fed by hand
};

}  // namespace nogil::asyncio
