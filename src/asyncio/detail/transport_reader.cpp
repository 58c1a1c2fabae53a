// StreamReader's state and read awaiter; the rules are at the top of
// include/nogil/asyncio/detail/transport_reader.hpp. The read semantics follow CPython's
// asyncio/streams.py (read, readexactly, readuntil, readline) case by case.
#include <nogil/asyncio/detail/transport_reader.hpp>

#include <nogil/errors.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace nogil::asyncio::detail {

void check_limit(std::size_t limit) {
    if (limit == 0) throw std::invalid_argument("limit must be a positive number of bytes, got 0");
}

// A drained reader keeps at most twice max(limit, one 64 KiB transport read) of buffer: what
// steady reading under flow control uses, not what the largest message needed.
StreamReaderState::StreamReaderState(std::size_t limit)
    : buffer_(limit > SIZE_MAX / 2 ? SIZE_MAX : 2 * std::max<std::size_t>(limit, 64 * 1024)), limit_(limit) {
    check_limit(limit);
}

void StreamReaderState::feed_data(std::string_view data, bool from_loop_callback) {
    if (eof_ || data.empty()) return;
    buffer_.append(data);
    data_committed(from_loop_callback);
}

void StreamReaderState::data_committed(bool from_loop_callback) {
    maybe_pause();
    notify(from_loop_callback);
}

void StreamReaderState::feed_eof(bool from_loop_callback) {
    eof_ = true;
    notify(from_loop_callback);
}

void StreamReaderState::set_exception(std::exception_ptr e, bool from_loop_callback) {
    exception_ = std::move(e);
    notify(from_loop_callback);
}

void StreamReaderState::notify(bool from_loop_callback) {
    ReadAwaiter* w = waiter_;
    if (!w || w->woken_ || !w->satisfied()) return;
    w->woken_ = true;
    // Inline stepping is only safe from a loop callback; user code gets a queued step so that
    // no task runs nested inside another.
    if (from_loop_callback)
        w->task_->wake_now();
    else
        w->task_->wake();
}

void StreamReaderState::maybe_pause() {
    // A suspended read that is not yet satisfied needs more bytes (readexactly of a large n):
    // pausing would starve it.
    const bool read_waiting = waiter_ && !waiter_->woken_;
    if (transport_ && !paused_ && !read_waiting && buffer_.size() > 2 * limit_) {
        paused_ = true;
        transport_->pause_reading();
    }
}

void StreamReaderState::maybe_resume() {
    if (paused_ && transport_ && buffer_.size() <= limit_) {
        paused_ = false;
        transport_->resume_reading();
    }
}

// ----------------------------------------------------------------------------- ReadAwaiter

namespace {
enum class Scan { more, found, overrun, eof };
}

ReadAwaiter::~ReadAwaiter() { detach(); }

void ReadAwaiter::detach() noexcept {
    if (registered_) {
        registered_ = false;
        if (state_->waiter_ == this) state_->waiter_ = nullptr;
    }
}

bool ReadAwaiter::satisfied() {
    StreamReaderState& s = *state_;
    if (s.exception_) return true;
    switch (kind_) {
        case Kind::read:
            return n_ == 0 || !s.buffer_.empty() || s.eof_;
        case Kind::read_all:
            if (!s.buffer_.empty()) {
                gathered_.append(s.buffer_.data(), s.buffer_.size());
                s.buffer_.consume(s.buffer_.size());
                s.maybe_resume();
            }
            return s.eof_;
        case Kind::exactly:
            return s.buffer_.size() >= n_ || s.eof_;
        case Kind::until:
        case Kind::line: {
            // Python's readuntil loop: search from `scanned_` once the shortest separator fits;
            // nothing before buflen + 1 - (longest separator) can start one later.
            const std::size_t buflen = s.buffer_.size();
            if (buflen >= scanned_ + min_separator()) {
                if (find_separator(s.buffer_.view(), scanned_).start != std::string_view::npos) return true;
                scanned_ = buflen + 1 > max_separator() ? buflen + 1 - max_separator() : 0;
                if (scanned_ > s.limit_) return true;
            }
            return s.eof_;
        }
    }
    return false;
}

ReadAwaiter::ReadAwaiter(Ref<StreamReaderState> state, std::vector<std::string> separators)
    : state_(std::move(state)), separators_(std::move(separators)), n_(0), kind_(Kind::until) {
    if (separators_.empty()) throw std::invalid_argument("Separator should contain at least one element");
    // Shortest first; equal lengths in any fixed order (two separators of one length that end at
    // the same place are the same string). Not stable_sort: libstdc++ 12's uses the deprecated
    // get_temporary_buffer, an error for clang-19 with -Werror.
    std::sort(separators_.begin(), separators_.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
}

ReadAwaiter::Match ReadAwaiter::find_separator(std::string_view buffer, std::size_t offset) const noexcept {
    constexpr auto npos = std::string_view::npos;
    if (separators_.empty()) {
        const std::size_t at = buffer.find(separator_, offset);
        return {at, at == npos ? npos : at + separator_.size()};
    }
    Match best{npos, npos};
    for (const std::string& sep : separators_) {
        const std::size_t at = buffer.find(sep, offset);
        if (at != npos && (best.end == npos || at + sep.size() < best.end)) best = {at, at + sep.size()};
    }
    return best;
}

bool ReadAwaiter::await_ready() {
    if (!state_) throw std::runtime_error("this stream read awaiter was moved from");
    if (state_->waiter_ && state_->waiter_ != this)
        throw std::runtime_error("read called while another coroutine is already waiting for incoming data");
    if ((kind_ == Kind::until || kind_ == Kind::line) && min_separator() == 0)
        throw std::invalid_argument("Separator should be at least one-byte string");
    return satisfied();
}

void ReadAwaiter::suspend_task(std::coroutine_handle<> h) {
    task_ = &TaskBase::current_or_throw("a stream read");
    state_->waiter_ = this;
    registered_ = true;
    // We need more bytes than the buffer holds: a paused transport must deliver them.
    if (state_->paused_ && state_->transport_) {
        state_->paused_ = false;
        state_->transport_->resume_reading();
    }
    task_->suspend(this, h);
}

bool ReadAwaiter::cancel(const std::string&) {
    if (woken_ || !registered_) return false;
    detach();
    cancelled_ = true;
    woken_ = true;
    task_->wake();
    return true;
}

std::string ReadAwaiter::await_resume() {
    const bool suspended = task_ != nullptr;
    detach();
    if (suspended) {
        task_->throw_if_cancel_requested();
        if (cancelled_) throw task_->make_cancelled_error();
    }
    return complete();
}

std::string ReadAwaiter::complete() {
    StreamReaderState& s = *state_;
    if (s.exception_) std::rethrow_exception(s.exception_);
    ByteBuffer& buf = s.buffer_;
    std::string out;
    switch (kind_) {
        case Kind::read: {
            const std::size_t n = n_ < buf.size() ? n_ : buf.size();
            out = buf.take(n);
            break;
        }
        case Kind::read_all:
            out = std::move(gathered_);
            out.append(buf.data(), buf.size());
            buf.consume(buf.size());
            break;
        case Kind::exactly:
            if (buf.size() < n_) {
                std::string partial = buf.take(buf.size());
                throw asyncio::IncompleteReadError(std::move(partial), n_);
            }
            out = buf.take(n_);
            break;
        case Kind::until:
        case Kind::line: {
            const Match match = find_separator(buf.view(), scanned_);
            const std::size_t pos = match.start;
            try {
                if (pos == std::string_view::npos) {
                    const std::size_t consumed = buf.size() + 1 > max_separator() ? buf.size() + 1 - max_separator() : 0;
                    if (consumed > s.limit_)
                        throw asyncio::LimitOverrunError("Separator is not found, and chunk exceed the limit", consumed);
                    std::string partial = buf.take(buf.size());  // at EOF
                    throw asyncio::IncompleteReadError(std::move(partial), std::nullopt);
                }
                if (pos > s.limit_)
                    throw asyncio::LimitOverrunError("Separator is found, but chunk is longer than limit", pos);
            } catch (asyncio::IncompleteReadError& e) {
                if (kind_ == Kind::line) {
                    out = std::move(e.partial);
                    break;
                }
                throw;
            } catch (const asyncio::LimitOverrunError& e) {
                if (kind_ == Kind::line) {
                    // Python's readline: drop the over-long line (with its separator if there).
                    if (buf.view().substr(e.consumed).starts_with(separator_))
                        buf.consume(e.consumed + separator_.size());
                    else
                        buf.consume(buf.size());
                    s.maybe_resume();
                    throw std::invalid_argument(e.what());
                }
                throw;
            }
            out = buf.take(match.end);
            break;
        }
    }
    s.maybe_resume();
    return out;
}

}  // namespace nogil::asyncio::detail
