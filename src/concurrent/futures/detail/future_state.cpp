#include <nogil/concurrent/futures/detail/future_state.hpp>
#include <nogil/concurrent/futures/future.hpp>

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace nogil::concurrent::futures::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::futex_wait;
using ::nogil::detail::futex_wake_all;


std::string_view to_string(FutureStatus status) noexcept {
    switch (status) {
        case FutureStatus::pending: return "pending";
        case FutureStatus::running: return "running";
        case FutureStatus::cancelled: return "cancelled";
        case FutureStatus::finished: return "finished";
    }
    return "unknown";
}

FutureStateBase::~FutureStateBase() {
    // Callbacks of a future that never completed are dropped with it, as in Python.
    for (auto* node = callbacks_; node;) delete std::exchange(node, node->next);
}

void FutureStateBase::lock() noexcept {
    // Held for a handful of instructions only, so spin; yield if the holder was preempted.
    for (int spins = 0;; ++spins) {
        std::uint32_t w = word_.load(std::memory_order_relaxed);
        if (!(w & locked_bit) &&
            word_.compare_exchange_weak(w, w | locked_bit, std::memory_order_acquire, std::memory_order_relaxed))
            return;
        if (spins < 100)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
}

void FutureStateBase::throw_invalid_state(FutureStatus status) {
    throw InvalidStateError(std::string(status == FutureStatus::cancelled ? "CANCELLED" : "FINISHED") +
                            ": the future is already done");
}

void FutureStateBase::complete_locked(FutureStatus final_status) noexcept {
    CompletionNode* waiters = std::exchange(waiters_, nullptr);
    CompletionNode* callbacks = std::exchange(callbacks_, nullptr);
    // Publish the final status (release: the value and exception are visible to whoever sees it).
    // With internal waiters, keep the lock while they are told, so remove_waiter() can rely on it;
    // without, the same exchange releases the lock.
    std::uint32_t keep_locked = waiters ? locked_bit : 0;
    std::uint32_t old = word_.exchange(static_cast<std::uint32_t>(final_status) | keep_locked, std::memory_order_acq_rel);
    if (waiters) {
        for (auto* w = waiters; w;) {
            auto* next = w->next;  // the waiter may be reused by its owner once told
            w->on_complete(*this);
            w = next;
        }
        unlock();
    }
    if (old & sleepers_bit) futex_wake_all(word_);
    if (callbacks) run_callbacks(callbacks, *this);
}

void FutureStateBase::run_callbacks(CompletionNode* reversed, FutureStateBase& state) noexcept {
    CompletionNode* in_order = nullptr;
    while (reversed) {
        auto* next = reversed->next;
        reversed->next = in_order;
        in_order = reversed;
        reversed = next;
    }
    while (in_order) {
        auto* next = in_order->next;
        in_order->on_complete(state);
        delete in_order;
        in_order = next;
    }
}

bool FutureStateBase::cancel() noexcept {
    lock();
    auto s = static_cast<FutureStatus>(word_.load(std::memory_order_relaxed) & status_mask);
    if (s == FutureStatus::running || s == FutureStatus::finished) {
        unlock();
        return false;
    }
    if (s == FutureStatus::cancelled) {
        unlock();
        return true;
    }
    complete_locked(FutureStatus::cancelled);
    return true;
}

bool FutureStateBase::set_running_or_notify_cancel() {
    // pending → running is one compare-and-swap; it waits out the lock bit like lock() does, and
    // keeps a sleeper's bit that may be set concurrently.
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    for (int spins = 0;; ++spins) {
        auto s = static_cast<FutureStatus>(w & status_mask);
        if (s == FutureStatus::cancelled) return false;
        if (s != FutureStatus::pending)
            throw InvalidStateError(std::string("Future in unexpected state: ") + std::string(to_string(s)));
        if (!(w & locked_bit)) {
            if (word_.compare_exchange_weak(w, w | static_cast<std::uint32_t>(FutureStatus::running),
                                            std::memory_order_acq_rel, std::memory_order_relaxed))
                return true;
            continue;
        }
        if (spins < 100)
            __builtin_ia32_pause();
        else
            sched_yield();
        w = word_.load(std::memory_order_relaxed);
    }
}

void FutureStateBase::set_exception(std::exception_ptr exception) {
    if (!exception) throw std::invalid_argument("set_exception: exception must not be null");
    finish([&] { exception_ = std::move(exception); });
}

namespace {
// Checks the clock only every 64 spins: it costs more than a spin.
bool deadline_passed(const std::optional<std::chrono::steady_clock::time_point>& deadline, int spin) {
    return deadline && (spin & 63) == 63 && std::chrono::steady_clock::now() >= *deadline;
}
// A sleep after a failed spin this short means the future was completed as soon as this thread
// gave up its CPU (a wake-up from another, idle CPU takes longer here: 20-30 us).
constexpr auto short_sleep = std::chrono::microseconds(8);
}  // namespace

bool FutureStateBase::wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept {
    using Clock = std::chrono::steady_clock;
    auto finished = [](std::uint32_t word) {
        auto s = static_cast<FutureStatus>(word & status_mask);
        return s == FutureStatus::cancelled || s == FutureStatus::finished;
    };
    std::uint32_t w = word_.load(std::memory_order_acquire);
    if (finished(w)) return true;
    // A short spin first: a call already running often finishes within microseconds, and a
    // futex sleep and wake-up costs more than that. Except when the spin keeps failing and the
    // sleep after it keeps being short: then the thread that completes the future is waiting to
    // run on this very CPU (the scheduler keeps a waiter and a pool worker together now and
    // then while the other CPU idles: it puts the woken waiter on its waker's CPU), and the spin
    // only holds the CPU the answer needs. Such a thread skips the spin for its next few waits
    // (1, 2, 4 ... 64; a spin that succeeds resets it): it then sleeps at once and the worker
    // runs at once. Measured with a pool worker kept on the caller's CPU: 20-23 us a round trip
    // with the spin, 3-3.5 us without (bench/concurrent_futures_bench.cpp, ...CoLocated).
    thread_local unsigned skip_spins = 0;
    thread_local unsigned backoff = 0;
    bool spun = false;  // this function's own spin failed
    if (help_wait(deadline)) {
        w = word_.load(std::memory_order_acquire);  // it spun already, its own way
        if (finished(w)) return true;
    } else if (skip_spins > 0) {
        --skip_spins;
    } else {
        for (int spin = 0; spin < 1000 && !finished(w) && !deadline_passed(deadline, spin); ++spin) {
            __builtin_ia32_pause();
            w = word_.load(std::memory_order_acquire);
        }
        if (finished(w)) {
            backoff = 0;
            return true;
        }
        spun = true;
    }
    const auto slept_at = Clock::now();
    while (!finished(w)) {
        if (!(w & sleepers_bit)) {
            if (!word_.compare_exchange_weak(w, w | sleepers_bit, std::memory_order_acquire)) continue;
            w |= sleepers_bit;
        }
        if (!futex_wait(word_, w, deadline)) return finished(word_.load(std::memory_order_acquire));
        w = word_.load(std::memory_order_acquire);
    }
    if (spun && Clock::now() - slept_at < short_sleep) {
        backoff = backoff == 0 ? 1 : std::min(2 * backoff, 64u);
        skip_spins = backoff;
    }
    return true;
}

void FutureStateBase::check_result_slow(std::optional<std::chrono::steady_clock::time_point> deadline) const {
    if (!wait_until(deadline)) throw TimeoutError();
    if (status() == FutureStatus::cancelled) throw CancelledError();
    if (exception_) std::rethrow_exception(exception_);
}

std::exception_ptr FutureStateBase::get_exception(std::optional<std::chrono::steady_clock::time_point> deadline) const {
    if (!wait_until(deadline)) throw TimeoutError();
    if (status() == FutureStatus::cancelled) throw CancelledError();
    return exception_;
}

void FutureStateBase::add_callback(CompletionNode* node) {
    lock();
    if (!done()) {
        node->next = callbacks_;
        callbacks_ = node;
        unlock();
        return;
    }
    unlock();
    node->next = nullptr;
    run_callbacks(node, *this);
}

bool FutureStateBase::has_callbacks() const noexcept {
    auto* self = const_cast<FutureStateBase*>(this);  // the lock word is mutable; the list is read only
    self->lock();
    bool any = callbacks_ != nullptr;
    self->unlock();
    return any;
}

bool FutureStateBase::add_waiter(CompletionNode* node) noexcept {
    lock();
    if (done()) {
        unlock();
        return false;
    }
    node->next = waiters_;
    waiters_ = node;
    unlock();
    return true;
}

void FutureStateBase::remove_waiter(CompletionNode* node) noexcept {
    lock();
    for (auto** link = &waiters_; *link; link = &(*link)->next) {
        if (*link == node) {
            *link = node->next;
            break;
        }
    }
    unlock();
}

}  // namespace nogil::concurrent::futures::detail

namespace nogil::concurrent::futures::detail {

void report_callback_exception(std::exception_ptr exception) noexcept {
    try {
        std::rethrow_exception(exception);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "exception calling callback for future: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "exception calling callback for future: (not a std::exception)\n");
    }
}

}  // namespace nogil::concurrent::futures::detail
