#pragma once
// The state behind asyncio::StreamReader (Python's StreamReader internals) and the awaiter its
// read methods return.
//
// Feeding side (a transport, or feed_data()/feed_eof()/set_exception()): bytes go into the
// buffer; when the buffer holds more than 2 * limit bytes and no read is waiting, the transport
// is asked to pause reading, and to resume once a read brings it back to at most `limit`.
//
// Reading side: one ReadAwaiter at a time may be suspended on the state (Python's rule:
// RuntimeError "... called while another coroutine is already waiting for incoming data"). The
// awaiter tells the state when it is satisfied (enough bytes, the separator, EOF, an error), so
// a suspended read is woken exactly once, when its result is ready:
//   - fed by a transport (a loop callback): the task is stepped inline (wake_now);
//   - fed by user code (feed_data from a task or callback): the step is queued (wake).
// Cancelling the task detaches the awaiter and throws CancelledError from the co_await; the
// bytes stay in the buffer, so the stream remains usable (read(-1) loses what it had gathered,
// as in Python).
// Loop thread only.

#include <nogil/asyncio/detail/ref.hpp>
#include <nogil/asyncio/detail/task_base.hpp>
#include <nogil/asyncio/detail/transport_buffer.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>
#include <string_view>

namespace nogil::asyncio::detail {

/// What the reader asks of its transport (flow control).
class ReadFlowControl {
public:
    virtual void pause_reading() = 0;
    virtual void resume_reading() = 0;

protected:
    ~ReadFlowControl() = default;
};

class ReadAwaiter;

/// Python's streams reject a limit of 0 bytes (ValueError): the one home of that check.
void check_limit(std::size_t limit);

class StreamReaderState {
public:
    /// `limit` bounds readuntil/readline and sets the pause threshold; must be > 0.
    explicit StreamReaderState(std::size_t limit);
    StreamReaderState(const StreamReaderState&) = delete;
    StreamReaderState& operator=(const StreamReaderState&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // --- feeding ------------------------------------------------------------------------------
    /// Appends bytes (RuntimeError-free: data after EOF is a programming error, asserted by
    /// Python; here it is dropped). `from_loop_callback`: wake a satisfied read inline.
    void feed_data(std::string_view data, bool from_loop_callback);
    /// The transport reads straight into the buffer: prepare() on it, commit(), then this.
    void data_committed(bool from_loop_callback);
    void feed_eof(bool from_loop_callback);
    void set_exception(std::exception_ptr e, bool from_loop_callback);
    ByteBuffer& buffer() noexcept { return buffer_; }
    /// The transport attaches itself (flow control) and detaches when it closes.
    void set_transport(ReadFlowControl* t) noexcept {
        transport_ = t;
        paused_ = false;
    }

    // --- state --------------------------------------------------------------------------------
    bool at_eof() const noexcept { return eof_ && buffer_.empty(); }
    bool eof() const noexcept { return eof_; }
    const std::exception_ptr& exception() const noexcept { return exception_; }
    std::size_t limit() const noexcept { return limit_; }
    bool paused() const noexcept { return paused_; }

private:
    friend class ReadAwaiter;
    void notify(bool from_loop_callback);
    void maybe_pause();
    void maybe_resume();

    std::atomic<std::uint32_t> refs_{1};
    ByteBuffer buffer_;
    std::size_t limit_;
    bool eof_ = false;
    bool paused_ = false;
    std::exception_ptr exception_;
    ReadAwaiter* waiter_ = nullptr;  // the one suspended read, until it resumes
    ReadFlowControl* transport_ = nullptr;
};

/// What StreamReader's read methods return: co_await it once. Movable until awaited (so that
/// wait_for()/gather() can take it).
class [[nodiscard]] ReadAwaiter final : public Waiter {
public:
    enum class Kind : std::uint8_t { read, read_all, exactly, until, line };

    ReadAwaiter(Ref<StreamReaderState> state, Kind kind, std::size_t n, std::string separator) noexcept
        : state_(std::move(state)), separator_(std::move(separator)), n_(n), kind_(kind) {}
    /// readuntil with several separators (Python 3.13): kept sorted by length, shortest first.
    ReadAwaiter(Ref<StreamReaderState> state, std::vector<std::string> separators);
    ReadAwaiter(ReadAwaiter&& other) noexcept
        : state_(std::move(other.state_)),
          separator_(std::move(other.separator_)),
          separators_(std::move(other.separators_)),
          n_(other.n_),
          kind_(other.kind_) {}
    ReadAwaiter& operator=(ReadAwaiter&&) = delete;
    ~ReadAwaiter();

    /// Ready without suspending when the buffer (or EOF, or an error) already answers.
    bool await_ready();
    /// Suspends; the reader wakes the task once this read is satisfied.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h, const void* at = __builtin_source_location()) {
        detail::note_suspension(h, at);
        suspend_task(h);
    }
    void suspend_task(std::coroutine_handle<> h);
    /// The bytes, or the exception (IncompleteReadError, LimitOverrunError, the stream's error,
    /// CancelledError...).
    std::string await_resume();
    bool cancel(const std::string& msg) override;

private:
    friend class StreamReaderState;
    /// True once this read can complete; read(-1) also moves the buffer into its result.
    bool satisfied();
    std::string complete();
    void detach() noexcept;
    /// Where the separator that ends first begins and ends in the buffer from `offset` (Python
    /// 3.13: the earliest end wins; at equal ends, the shorter separator); npos if none.
    struct Match {
        std::size_t start, end;
    };
    Match find_separator(std::string_view buffer, std::size_t offset) const noexcept;
    std::size_t min_separator() const noexcept { return separators_.empty() ? separator_.size() : separators_.front().size(); }
    std::size_t max_separator() const noexcept { return separators_.empty() ? separator_.size() : separators_.back().size(); }

    Ref<StreamReaderState> state_;
    std::string separator_;               // the one separator (readline, readuntil(sep))
    std::vector<std::string> separators_;  // readuntil(several): sorted by length; else empty
    std::string gathered_;     // read(-1): what was already taken from the buffer
    std::size_t n_;
    std::size_t scanned_ = 0;  // readuntil: where the separator search resumes
    TaskBase* task_ = nullptr;
    Kind kind_;
    bool registered_ = false;
    bool woken_ = false;
    bool cancelled_ = false;
};

}  // namespace nogil::asyncio::detail
