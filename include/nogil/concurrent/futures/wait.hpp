#pragma once
// concurrent.futures.wait and as_completed: waiting on several futures at once.

#include <nogil/concurrent/futures/future.hpp>
#include <nogil/detail/futex.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

namespace nogil::concurrent::futures {

/// When wait() returns (Python's return_when constants).
enum class ReturnWhen { first_completed, first_exception, all_completed };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::first_completed;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::first_exception;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::all_completed;

/// wait()'s result: the futures that are done (finished or cancelled) and those that are not,
/// each in the order first given. (Python returns two sets; C++ keeps them as vectors.)
template <class T>
struct DoneAndNotDoneFutures {
    std::vector<Future<T>> done;
    std::vector<Future<T>> not_done;
};

namespace detail {

/// The distinct futures of a range, in first-seen order (Python builds a set).
template <class T, class R>
std::vector<Future<T>> distinct_futures(R&& fs) {
    std::vector<Future<T>> out;
    for (auto&& f : fs) {
        if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    }
    return out;
}

/// Installed on several futures: counts completions and failures, wakes the waiting thread.
/// Told under each future's lock (see FutureStateBase::add_waiter), so it only touches atomics.
class MultiWaiter {
public:
    explicit MultiWaiter(std::size_t n) : nodes_(n) {
        for (auto& node : nodes_) node.owner = this;
    }
    MultiWaiter(const MultiWaiter&) = delete;
    MultiWaiter& operator=(const MultiWaiter&) = delete;

    template <class T>
    void install(const std::vector<Future<T>>& fs) {
        for (std::size_t i = 0; i < fs.size(); ++i) {
            nodes_[i].index = i;
            nodes_[i].installed = fs[i].state().add_waiter(&nodes_[i]);
        }
    }
    template <class T>
    void uninstall(const std::vector<Future<T>>& fs) noexcept {
        for (std::size_t i = 0; i < fs.size(); ++i)
            if (nodes_[i].installed) fs[i].state().remove_waiter(&nodes_[i]);
    }
    bool installed(std::size_t i) const noexcept { return nodes_[i].installed; }
    std::uint32_t completions() const noexcept { return completions_.load(std::memory_order_acquire); }
    std::uint32_t failures() const noexcept { return failures_.load(std::memory_order_acquire); }
    /// Sleeps until a completion after `seen`, or the deadline (false then).
    bool wait(std::uint32_t seen, std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept {
        return nogil::detail::futex_wait(completions_, seen, deadline);
    }

protected:
    virtual void on_complete(std::size_t /*index*/) noexcept {}

private:
    struct Node final : nogil::concurrent::futures::detail::CompletionNode {
        MultiWaiter* owner = nullptr;
        std::size_t index = 0;
        bool installed = false;
        void on_complete(nogil::concurrent::futures::detail::FutureStateBase& s) noexcept override {
            owner->on_complete(index);
            if (s.failed()) owner->failures_.fetch_add(1, std::memory_order_relaxed);
            owner->completions_.fetch_add(1, std::memory_order_release);
            nogil::detail::futex_wake_all(owner->completions_);
        }
    };
    std::vector<Node> nodes_;
    std::atomic<std::uint32_t> completions_{0};
    std::atomic<std::uint32_t> failures_{0};
};

template <class T>
DoneAndNotDoneFutures<T> wait_impl(std::vector<Future<T>> fs, std::optional<std::chrono::steady_clock::time_point> deadline,
                                   ReturnWhen return_when) {
    auto split = [&] {
        DoneAndNotDoneFutures<T> r;
        for (auto& f : fs) (f.done() ? r.done : r.not_done).push_back(f);
        return r;
    };
    auto satisfied = [&](std::size_t done, std::size_t failed) {
        if (done == fs.size()) return true;
        if (return_when == ReturnWhen::first_completed) return done > 0;
        if (return_when == ReturnWhen::first_exception) return failed > 0;
        return false;
    };
    std::size_t done0 = 0, failed0 = 0;
    for (auto& f : fs) {
        done0 += f.done();
        failed0 += f.state().failed();
    }
    if (satisfied(done0, failed0)) return split();

    MultiWaiter waiter(fs.size());
    waiter.install(fs);
    // Futures that completed between the count above and install() count as done at once.
    for (;;) {
        // `seen` is read BEFORE the futures are counted: a completion after this read changes the
        // counter, so the futex wait below returns at once; one before it is visible in the
        // count (a future's status is published before its waiters are told). Reading it after
        // the count lost the wake-up of a future completing in between (CPython's
        // test_pending_calls_race hung under TSan).
        std::uint32_t seen = waiter.completions();
        std::size_t done = 0, failed = 0;
        for (auto& f : fs) {
            done += f.done();
            failed += f.state().failed();
        }
        if (satisfied(done, failed)) break;
        if (!waiter.wait(seen, deadline)) break;
    }
    waiter.uninstall(fs);
    return split();
}

}  // namespace detail

/// Python's concurrent.futures.wait: blocks until return_when is met (FIRST_COMPLETED,
/// FIRST_EXCEPTION — which falls back to all completed —, ALL_COMPLETED) and returns the futures
/// split into done and not done. Already-done futures count at once; duplicates count once.
/// A cancelled future counts as done (Python counts it once its executor has noticed the cancel).
template <std::ranges::input_range R>
auto wait(R&& fs, ReturnWhen return_when = ALL_COMPLETED) {
    using T = typename std::ranges::range_value_t<R>::value_type;
    return detail::wait_impl<T>(detail::distinct_futures<T>(fs), std::nullopt, return_when);
}
/// As wait(fs, return_when), returning after `timeout` at the latest.
template <std::ranges::input_range R, class Rep, class Period>
auto wait(R&& fs, std::chrono::duration<Rep, Period> timeout, ReturnWhen return_when = ALL_COMPLETED) {
    using T = typename std::ranges::range_value_t<R>::value_type;
    return detail::wait_impl<T>(detail::distinct_futures<T>(fs), nogil::detail::deadline_after(timeout), return_when);
}

/// The range returned by as_completed(): futures in the order they finish (those already done
/// first). Reading past the deadline throws TimeoutError("N (of M) futures unfinished").
///
/// Thread safety: read by one thread at a time; the futures it yields are safe from any thread.
template <class T>
class AsCompleted {
    struct State final : detail::MultiWaiter {
        State(std::vector<Future<T>> futures, std::optional<std::chrono::steady_clock::time_point> deadline)
            : MultiWaiter(futures.size()), fs(std::move(futures)), deadline(deadline), told(fs.size()) {
            for (std::size_t i = 0; i < fs.size(); ++i) {
                if (fs[i].done()) {
                    told[i] = true;
                    ready.push_back(i);
                }
            }
            install(fs);
            // One that finished between the first look and install() was not installed: queue it.
            std::lock_guard guard(mutex);
            for (std::size_t i = 0; i < fs.size(); ++i) {
                if (!told[i] && !installed(i)) {
                    told[i] = true;
                    ready.push_back(i);
                }
            }
        }
        ~State() { uninstall(fs); }

        void on_complete(std::size_t index) noexcept override {
            std::lock_guard guard(mutex);
            if (!told[index]) {
                told[index] = true;
                ready.push_back(index);
            }
        }

        // Makes `current` the next finished future; false at the end.
        bool advance() {
            for (;;) {
                std::uint32_t seen = completions();
                {
                    std::lock_guard guard(mutex);
                    if (next_ready < ready.size()) {
                        current = ready[next_ready++];
                        return true;
                    }
                    if (next_ready == fs.size()) return false;
                }
                if (deadline && std::chrono::steady_clock::now() >= *deadline) {
                    throw TimeoutError(std::to_string(fs.size() - next_ready) + " (of " + std::to_string(fs.size()) +
                                       ") futures unfinished");
                }
                wait(seen, deadline);
            }
        }

        std::vector<Future<T>> fs;
        std::optional<std::chrono::steady_clock::time_point> deadline;
        std::mutex mutex;
        std::vector<bool> told;          // guarded by mutex
        std::vector<std::size_t> ready;  // indices in completion order; guarded by mutex
        std::size_t next_ready = 0;      // consumer only, from here on
        std::size_t current = 0;
        bool started = false;
        bool at_end = false;
    };

public:
    class iterator {
    public:
        using iterator_concept = std::input_iterator_tag;
        using difference_type = std::ptrdiff_t;
        using value_type = Future<T>;
        iterator() = default;
        explicit iterator(State* s) : s_(s) {}
        /// The next finished future (waits for it; throws TimeoutError past the deadline).
        Future<T> operator*() const {
            start();
            return s_->fs[s_->current];
        }
        iterator& operator++() {
            start();
            s_->at_end = !s_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) {
            it.start();
            return it.s_->at_end;
        }

    private:
        void start() const {
            if (!s_->started) {
                s_->started = true;
                s_->at_end = !s_->advance();
            }
        }
        State* s_ = nullptr;
    };

    AsCompleted(std::vector<Future<T>> fs, std::optional<std::chrono::steady_clock::time_point> deadline)
        : state_(std::make_unique<State>(std::move(fs), deadline)) {}
    iterator begin() { return iterator(state_.get()); }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::unique_ptr<State> state_;
};

/// Python's concurrent.futures.as_completed: an input range over the distinct futures of `fs`,
/// each yielded when it finishes or is cancelled (already-done ones first).
template <std::ranges::input_range R>
auto as_completed(R&& fs) {
    using T = typename std::ranges::range_value_t<R>::value_type;
    return AsCompleted<T>(detail::distinct_futures<T>(fs), std::nullopt);
}
/// As as_completed(fs); the whole iteration must end within `timeout` of this call.
template <std::ranges::input_range R, class Rep, class Period>
auto as_completed(R&& fs, std::chrono::duration<Rep, Period> timeout) {
    using T = typename std::ranges::range_value_t<R>::value_type;
    // NaN: std::invalid_argument (Python's as_completed polls forever on it).
    return AsCompleted<T>(detail::distinct_futures<T>(fs), nogil::detail::checked_deadline_after(timeout));
}

}  // namespace nogil::concurrent::futures
