#pragma once
// What Executor::map and ProcessPoolExecutor::map share: the checks of their keyword arguments,
// the iterables read in step (Python's zip), the queue of submitted futures that Python 3.14's
// buffersize refills, one call per result the consumer reads, and the input range they return.

#include <nogil/detail/futex.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

namespace nogil::concurrent::futures::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::deadline_after;


/// Executor.map's checks, with Python's messages: std::invalid_argument for a chunksize below 1
/// or a buffersize given and below 1. Called before anything is read or submitted.
inline void check_map_options(int chunksize, const std::optional<int>& buffersize) {
    if (chunksize < 1) throw std::invalid_argument("chunksize must be >= 1");
    if (buffersize && *buffersize < 1) throw std::invalid_argument("buffersize must be None or > 0");
}

/// map()'s iterables taken in step, stopping at the shortest (Python's zip). The views are kept
/// here: an rvalue range is owned, an lvalue one is referenced and must outlive the iteration, as
/// in any C++ range adaptor. Not thread-safe: one map() reads it, under its consumer's calls.
template <class... Rs>
class ZipRanges {
public:
    explicit ZipRanges(Rs&&... ranges) : views_(std::views::all(std::forward<Rs>(ranges))...) {
        its_ = std::apply([](auto&... v) { return std::tuple(std::ranges::begin(v)...); }, views_);
    }

    /// True once any of the ranges is at its end.
    bool exhausted() {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return ((std::get<I>(its_) == std::ranges::end(std::get<I>(views_))) || ...);
        }(std::index_sequence_for<Rs...>{});
    }

    /// Calls use(*it...) on the current item of every range, then advances them all, and returns
    /// what use returned. If use throws, nothing advances. Requires !exhausted().
    template <class Use>
    decltype(auto) take(Use&& use) {
        if constexpr (std::is_void_v<decltype(call(use))>) {
            call(use);
            advance();
        } else {
            auto result = call(use);
            advance();
            return result;
        }
    }

private:
    template <class Use>
    decltype(auto) call(Use& use) {
        return std::apply([&](auto&... it) -> decltype(auto) { return use(*it...); }, its_);
    }
    void advance() {
        std::apply([](auto&... it) { (++it, ...); }, its_);
    }

    std::tuple<std::views::all_t<Rs>...> views_;
    std::tuple<std::ranges::iterator_t<std::views::all_t<Rs>>...> its_;
};

/// The futures one map() has submitted and not yet handed out, in submission order. Owned by the
/// map's result range and used only by its consumer's thread.
template <class Fut>
struct MapQueue {
    std::deque<Fut> pending;                                        // submitted, not yet handed out; front first
    std::function<std::optional<Fut>()> submit_next;                // with buffersize: submits one more call
    std::optional<std::chrono::steady_clock::time_point> deadline;  // the timeout, from map()'s call

    MapQueue() = default;
    MapQueue(const MapQueue&) = delete;
    MapQueue& operator=(const MapQueue&) = delete;
    bool iterating = false;  // begin() was called: Python's generator has started

    ~MapQueue() {
        // Python's generator `finally` runs only once the generator has started: a map() whose
        // results are never iterated still runs every call it submitted (`ex.map(f, xs);`).
        if (iterating) end();
    }

    /// Ends the iteration, as Python's generator does when a result raised (the call's exception
    /// or TimeoutError) or the consumer left: the calls not yet started are cancelled, no more
    /// are submitted, and no result is left.
    void end() noexcept {
        for (auto& f : pending) f.cancel();
        pending.clear();
        submit_next = nullptr;
    }

    /// Starts a map(): sets the deadline, then submits every call now, or with a buffersize only
    /// that many and keeps `feed` to submit one more per refill(). Feed has `bool exhausted()`
    /// and `Fut submit()` (which submits the next call or chunk of the zipped iterables).
    template <class Feed>
    void start(const std::optional<std::chrono::duration<double>>& timeout, const std::optional<int>& buffersize,
               std::shared_ptr<Feed> feed) {
        if (timeout) deadline = deadline_after(*timeout);
        std::size_t limit = buffersize ? static_cast<std::size_t>(*buffersize) : SIZE_MAX;
        while (pending.size() < limit && !feed->exhausted()) pending.push_back(feed->submit());
        if (buffersize) {
            submit_next = [feed]() -> std::optional<Fut> {
                if (feed->exhausted()) return std::nullopt;
                return feed->submit();
            };
        }
    }

    /// With a buffersize, submits the next call (if the iterables have one) behind the others.
    void refill() {
        if (!submit_next) return;
        if (auto f = submit_next()) pending.push_back(std::move(*f));
    }

    /// Waits for f's result until the deadline (without one, for as long as it takes) and moves it
    /// out; throws the call's exception, or TimeoutError. f itself stays valid (it can be cancelled).
    auto result_of(Fut& f) const {
        return deadline ? std::move(f).result(*deadline - std::chrono::steady_clock::now()) : std::move(f).result();
    }
};

/// The range a map() returns: an input range, read once, in order, by one thread at a time. The
/// work is State's: `value_type take()` waits for the current result and moves it out (throwing
/// its call's exception, or TimeoutError), `void advance()` steps past it (consuming it even if
/// it was not taken), `bool done()` is true once no result is left. A result that throws ends
/// the iteration (State calls queue.end()). Destroying the range after begin() cancels the calls
/// not yet started; a range never begun leaves them to run, as Python's unstarted generator does.
template <class State>
class MapRange {
public:
    using value_type = typename State::value_type;

    class iterator {
    public:
        using iterator_concept = std::input_iterator_tag;
        using difference_type = std::ptrdiff_t;
        using value_type = MapRange::value_type;

        iterator() = default;
        explicit iterator(State* s) : s_(s) {}
        /// Waits for the next result; throws its call's exception, or TimeoutError.
        value_type operator*() const { return s_->take(); }
        iterator& operator++() {
            s_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.s_->done(); }

    private:
        State* s_ = nullptr;
    };

    explicit MapRange(std::unique_ptr<State> state) : state_(std::move(state)) {}
    /// Starts the iteration: from now on, destroying the range cancels the calls not started.
    iterator begin() {
        state_->queue.iterating = true;
        return iterator(state_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::unique_ptr<State> state_;
};

}  // namespace nogil::concurrent::futures::detail
