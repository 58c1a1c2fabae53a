#pragma once
// multiprocessing.Pool: a pool of worker processes.
//
//   mp::Pool pool(4);
//   std::vector<long> squares = pool.map(square, std::vector<long>{1, 2, 3});
//   mp::AsyncResult<int> r = pool.apply_async(slow_add, 1, 2);
//   int three = r.get(std::chrono::seconds(10));
//   // leaving the scope terminates the pool (Python's `with Pool() as p:`)
//
// Tasks are plain functions or captureless lambdas with serializable arguments and results
// (docs/api.md, rule 5), checked at compile time. An exception thrown by a task is rethrown by get()
// with its type (see exceptions.hpp). A worker that dies fails only the task it was running
// (ProcessError) and is replaced; nothing waits forever. All members are safe from any thread.

#include <nogil/detail/futex.hpp>
#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/pool_core.hpp>
#include <nogil/multiprocessing/detail/worker.hpp>
#include <nogil/multiprocessing/async_result.hpp>
#include <nogil/multiprocessing/context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace nogil::multiprocessing {

/// A worker initializer: f(args...) runs once in each worker before its first task.
///
/// Thread safety: an immutable value; runs in each worker process.
class Initializer {
public:
    Initializer() = default;
    template <class F, class... Args>
    explicit Initializer(F&& f, const Args&... args) : call_(detail::encode_call(std::forward<F>(f), args...)) {}
    const detail::SharedCall& call() const noexcept { return call_; }

private:
    detail::SharedCall call_;
};

/// Python's Pool arguments.
struct PoolOptions {
    std::optional<int> processes{};                   ///< nullopt: cpu_count()
    Initializer initializer{};                        ///< runs in each worker first
    std::optional<std::uint64_t> maxtasksperchild{};  ///< a worker is replaced after this many tasks
    std::string start_method{};                       ///< "" = get_start_method()
};

/// The lazy result sequence of imap / imap_unordered: next() waits for the next result; also a
/// range (for (auto r : pool.imap(...))). Rethrows a task's exception when its chunk is reached
/// (the rest of that chunk is skipped, as in Python). Safe to use from any thread.
///
/// Thread safety: safe to use from any thread; it is filled by the pool's feeder and manager
/// threads.
template <class R>
class IMapIterator {
public:
    /// The next result; throws std::out_of_range (Python's StopIteration) when none are left.
    R next() { return next_until(std::nullopt); }
    /// As next(), but throws TimeoutError if it does not arrive within `timeout`
    /// (Python's IMapIterator.next(timeout)).
    template <class Rep, class Period>
    R next(std::chrono::duration<Rep, Period> timeout) {
        return next_until(nogil::detail::deadline_after(timeout));  // NaN: do not wait (Python's Condition.wait)
    }

    // Filled by the pool's feeder and its completion callbacks (manager thread), read by next().
    struct State {
        std::mutex mutex;
        std::condition_variable cv;
        bool ordered = true;
        bool input_done = false;          // every chunk there will be has been created
        std::size_t chunks_created = 0;
        std::size_t chunks_completed = 0;
        std::size_t next_chunk = 0;       // ordered: the chunk to read from next
        using Error = std::exception_ptr;  // a task's exception rebuilt, or the input's own
        std::map<std::size_t, std::pair<std::deque<R>, Error>> arrived;  // ordered: by chunk
        std::deque<R> ready;                          // unordered: items in arrival order
        std::deque<std::exception_ptr> errors;        // unordered: failures in arrival order

        void created(std::size_t chunk, bool last) {
            {
                std::lock_guard lock(mutex);
                chunks_created = chunk + 1;
                input_done = input_done || last;
            }
            cv.notify_all();
        }
        void no_more_chunks() {
            {
                std::lock_guard lock(mutex);
                input_done = true;
            }
            cv.notify_all();
        }
        void complete(std::size_t chunk, std::vector<R> values, Error error) {
            {
                std::lock_guard lock(mutex);
                ++chunks_completed;
                if (ordered) {
                    arrived.emplace(chunk, std::make_pair(std::deque<R>(std::make_move_iterator(values.begin()),
                                                                        std::make_move_iterator(values.end())),
                                                          std::move(error)));
                } else if (error) {
                    errors.push_back(std::move(error));
                } else {
                    for (auto& v : values) ready.push_back(std::move(v));
                }
            }
            cv.notify_all();
        }
    };

    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(IMapIterator* owner) : owner_(owner) { advance(); }
        const R& operator*() const { return *current_; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        bool operator==(std::default_sentinel_t) const { return !current_.has_value(); }

    private:
        void advance() {
            current_.reset();
            if (owner_->has_more()) current_.emplace(owner_->next());
        }
        IMapIterator* owner_ = nullptr;
        std::optional<R> current_;
    };
    iterator begin() { return iterator(this); }
    std::default_sentinel_t end() { return {}; }

    IMapIterator(std::shared_ptr<State> state, std::shared_ptr<void> feed)
        : state_(std::move(state)), feed_(std::move(feed)) {}

private:
    // Whether next() will return or throw a task's exception rather than StopIteration (waits
    // until that is known).
    bool has_more() {
        State& s = *state_;
        std::unique_lock lock(s.mutex);
        if (s.ordered) {
            s.cv.wait(lock, [&] { return s.input_done || s.next_chunk < s.chunks_created; });
            return s.next_chunk < s.chunks_created;
        }
        s.cv.wait(lock, [&] {
            return !s.errors.empty() || !s.ready.empty() || (s.input_done && s.chunks_completed == s.chunks_created);
        });
        return !s.errors.empty() || !s.ready.empty();
    }
    R next_until(detail::Deadline deadline) {
        State& s = *state_;
        std::unique_lock lock(s.mutex);
        for (;;) {
            if (s.ordered) {
                auto it = s.arrived.find(s.next_chunk);
                if (it != s.arrived.end()) {
                    auto& [values, error] = it->second;
                    if (error) {
                        auto failure = std::move(error);
                        s.arrived.erase(it);
                        ++s.next_chunk;
                        std::rethrow_exception(failure);
                    }
                    R value = std::move(values.front());
                    values.pop_front();
                    if (values.empty()) {  // done with this chunk: has_more() looks at the next one
                        s.arrived.erase(it);
                        ++s.next_chunk;
                    }
                    return value;
                }
                if (s.input_done && s.next_chunk >= s.chunks_created) throw std::out_of_range("StopIteration");
            } else {
                if (!s.errors.empty()) {
                    auto error = std::move(s.errors.front());
                    s.errors.pop_front();
                    std::rethrow_exception(error);
                }
                if (!s.ready.empty()) {
                    R value = std::move(s.ready.front());
                    s.ready.pop_front();
                    return value;
                }
                if (s.input_done && s.chunks_completed == s.chunks_created) throw std::out_of_range("StopIteration");
            }
            if (deadline) {
                if (s.cv.wait_until(lock, *deadline) == std::cv_status::timeout &&
                    std::chrono::steady_clock::now() >= *deadline)
                    throw TimeoutError("IMapIterator.next: timed out");
            } else {
                s.cv.wait(lock);
            }
        }
    }
    std::shared_ptr<State> state_;
    std::shared_ptr<void> feed_;  // keeps the input range alive while the iterator lives
};

/// Thread safety: every member may be called from any thread at once. The callbacks of *_async run
/// on the pool's manager thread (Python's result-handler thread) and must be quick and must not
/// wait on the same pool: no other result is delivered while one runs.
class Pool {
public:
    /// processes: nullopt = cpu_count(). Throws std::invalid_argument if processes < 1.
    explicit Pool(std::optional<int> processes = std::nullopt) : Pool(PoolOptions{.processes = processes}) {}
    /// Throws std::invalid_argument for processes < 1 or maxtasksperchild == 0.
    explicit Pool(const PoolOptions& options);

    /// f(args...) in a worker; waits for the result (rethrowing the task's exception).
    template <class F, class... Args>
    auto apply(F&& f, const Args&... args) {
        return apply_async(std::forward<F>(f), args...).get();
    }

    /// f(args...) in a worker; returns at once. A last argument of type Callbacks{...} is not passed
    /// to f: it is Python's callback= / error_callback= (see async_result.hpp).
    template <class F, class... Args>
    auto apply_async(F&& f, const Args&... args) {
        if constexpr (detail::last_is_callbacks<Args...>) {
            auto all = std::forward_as_tuple(args...);
            return [&]<std::size_t... I>(std::index_sequence<I...>) {
                return apply_async_with(std::get<sizeof...(Args) - 1>(all), std::forward<F>(f), std::get<I>(all)...);
            }(std::make_index_sequence<sizeof...(Args) - 1>{});
        } else {
            return apply_async_with(Callbacks<>{}, std::forward<F>(f), args...);
        }
    }

    /// [f(x) for x in iterable], in order, in chunks of `chunksize` items (0: Python's heuristic).
    template <class F, std::ranges::input_range Range>
    auto map(F&& f, Range&& iterable, std::size_t chunksize = 0) {
        return map_async(std::forward<F>(f), std::forward<Range>(iterable), chunksize).get();
    }

    /// map() without waiting: one AsyncResult for the whole list. `callbacks`: Python's callback=
    /// (given the whole list) and error_callback= (given the first failure), see async_result.hpp.
    template <class F, std::ranges::input_range Range, class C = std::nullptr_t, class E = std::nullptr_t>
    auto map_async(F&& f, Range&& iterable, std::size_t chunksize = 0, Callbacks<C, E> callbacks = {}) {
        static_assert(detail::check_callable<F>());
        using Arg = std::ranges::range_value_t<Range>;
        return map_async_impl<F, Arg, &detail::map_chunk<detail::function_pointer_t<F>, Arg>>(
            f, std::vector<Arg>(std::ranges::begin(iterable), std::ranges::end(iterable)), chunksize,
            std::move(callbacks));
    }
    /// map_async with callbacks and the default chunksize.
    template <class F, std::ranges::input_range Range, class C, class E>
    auto map_async(F&& f, Range&& iterable, Callbacks<C, E> callbacks) {
        return map_async(std::forward<F>(f), std::forward<Range>(iterable), 0, std::move(callbacks));
    }

    /// [f(*args) for args in iterable] where each item is a tuple (or pair) of arguments.
    template <class F, std::ranges::input_range Range>
    auto starmap(F&& f, Range&& iterable, std::size_t chunksize = 0) {
        return starmap_async(std::forward<F>(f), std::forward<Range>(iterable), chunksize).get();
    }
    /// starmap() without waiting; callbacks as map_async.
    template <class F, std::ranges::input_range Range, class C = std::nullptr_t, class E = std::nullptr_t>
    auto starmap_async(F&& f, Range&& iterable, std::size_t chunksize = 0, Callbacks<C, E> callbacks = {}) {
        static_assert(detail::check_callable<F>());
        using Tuple = std::ranges::range_value_t<Range>;
        return map_async_impl<F, Tuple, &detail::starmap_chunk<detail::function_pointer_t<F>, Tuple>>(
            f, std::vector<Tuple>(std::ranges::begin(iterable), std::ranges::end(iterable)), chunksize,
            std::move(callbacks));
    }
    /// starmap_async with callbacks and the default chunksize.
    template <class F, std::ranges::input_range Range, class C, class E>
    auto starmap_async(F&& f, Range&& iterable, Callbacks<C, E> callbacks) {
        return starmap_async(std::forward<F>(f), std::forward<Range>(iterable), 0, std::move(callbacks));
    }

    /// Lazy map: results in order, each as soon as it and those before it are done. The input is
    /// read a chunk at a time as workers need tasks (an endless range works), on the caller's
    /// thread and then on the pool's manager thread, and all of it is submitted even if nobody
    /// reads the results. An lvalue range is referenced, not copied: keep it alive (and
    /// unchanged) until the results are read or the pool is joined; an rvalue is moved in.
    /// Throws std::invalid_argument if the pool is not running or chunksize is 0.
    template <class F, std::ranges::input_range Range>
    auto imap(F&& f, Range&& iterable, std::size_t chunksize = 1) {
        return imap_impl(true, f, std::forward<Range>(iterable), chunksize);
    }
    /// Lazy map: results in completion order (within a chunk, in input order). Input as imap.
    template <class F, std::ranges::input_range Range>
    auto imap_unordered(F&& f, Range&& iterable, std::size_t chunksize = 1) {
        return imap_impl(false, f, std::forward<Range>(iterable), chunksize);
    }

    /// No more tasks; workers exit once the submitted ones are done.
    void close() { core_->close(); }
    /// Kills the workers now; unfinished tasks fail with ProcessError.
    void terminate() { core_->terminate(); }
    /// Waits for the workers to exit. Throws std::invalid_argument unless close() or terminate() came first.
    void join() { core_->join(); }

    /// Leaving the scope terminates the pool, as Python's `with Pool() as pool:` does.
    ~Pool() = default;

private:
    template <class C, class E, class F, class... Args>
    auto apply_async_with(Callbacks<C, E> callbacks, F&& f, const Args&... args) {
        static_assert(detail::check_task<F, Args...>());
        using R = detail::task_result_t<F, Args...>;
        AsyncResult<R> result;
        detail::EncodedCall call = detail::encode_call(std::forward<F>(f), args...);
        core_->submit(std::move(call), [result, callbacks](detail::TaskOutcome& outcome) mutable {
            deliver(result, outcome, callbacks);
        });
        return result;
    }

    // Completes `result` on the manager thread, running the callbacks first (as Python does).
    template <class R, class C, class E>
    static void complete(AsyncResult<R>& result, std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> value,
                         std::optional<detail::RemoteException> error, Callbacks<C, E>& callbacks) {
        if (error) {
            if constexpr (!std::is_same_v<E, std::nullptr_t>) {
                try {
                    callbacks.error_callback(detail::rebuild_exception(*error));
                } catch (...) {
                    // Dropped: the task's own exception is what get() reports.
                }
            }
            return result.set_exception(std::move(*error));
        }
        if constexpr (!std::is_same_v<C, std::nullptr_t>) {
            try {
                if constexpr (std::is_void_v<R>) callbacks.callback();
                else callbacks.callback(std::as_const(*value));
            } catch (...) {
                return result.set_exception(detail::capture_current_exception());
            }
        }
        result.set_value(std::move(*value));
    }

    // Decodes a task's outcome on the pool's manager thread. Failures stay descriptions
    // (RemoteException): the exception object is built by whoever asks for the result.
    template <class R>
    static std::optional<detail::RemoteException> decode(detail::TaskOutcome& outcome, std::optional<R>& out) {
        if (outcome.error) return std::move(outcome.error);
        try {
            out.emplace(nogil::detail::serial::load_one<R>(outcome.bytes, outcome.fds));
            return std::nullopt;
        } catch (...) {
            return detail::capture_current_exception();
        }
    }

    template <class R, class C, class E>
    static void deliver(AsyncResult<R>& result, detail::TaskOutcome& outcome, Callbacks<C, E>& callbacks) {
        if constexpr (std::is_void_v<R>) {
            complete(result, std::optional<std::monostate>(std::in_place), std::move(outcome.error), callbacks);
        } else {
            std::optional<R> value;
            auto error = decode(outcome, value);
            complete(result, std::move(value), std::move(error), callbacks);
        }
    }

    std::size_t default_chunksize(std::size_t n) const {
        std::size_t per = static_cast<std::size_t>(core_->processes()) * 4;
        std::size_t c = n / per;
        return (n % per != 0) ? c + 1 : (c == 0 ? 1 : c);
    }

    template <class Item>
    std::vector<std::vector<Item>> split(std::vector<Item> items, std::size_t chunksize) const {
        if (chunksize == 0) chunksize = default_chunksize(items.size());
        std::vector<std::vector<Item>> chunks;
        for (std::size_t i = 0; i < items.size(); i += chunksize) {
            auto last = std::min(items.size(), i + chunksize);
            chunks.emplace_back(std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(i)),
                                std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(last)));
        }
        return chunks;
    }

    // Chunk results gathered into one list; the first failure fails the whole map (as Python).
    template <class F, class Item, auto ChunkFn, class C, class E>
    auto map_async_impl(F& f, std::vector<Item> items, std::size_t chunksize, Callbacks<C, E> callbacks) {
        static_assert(detail::check_callable<F>());
        using Fn = detail::function_pointer_t<F>;
        using Chunk = decltype(ChunkFn(detail::FunctionId{}, std::vector<Item>{}));
        using R = typename Chunk::value_type;
        struct Gather {
            explicit Gather(Callbacks<C, E> given) : callbacks(std::move(given)) {}
            std::mutex mutex;
            std::vector<Chunk> parts;
            std::size_t left = 0;
            bool failed = false;  // the first failure completes the result: later ones are dropped
            AsyncResult<std::vector<R>> result;
            Callbacks<C, E> callbacks;
        };
        auto gather = std::make_shared<Gather>(std::move(callbacks));
        AsyncResult<std::vector<R>> result = gather->result;
        Fn fn = +f;
        detail::FunctionId fn_id = detail::identify(fn);
        auto chunks = split(std::move(items), chunksize);
        if (chunks.empty()) {
            complete(gather->result, std::optional<std::vector<R>>(std::in_place), std::nullopt, gather->callbacks);
            return result;
        }
        gather->parts.resize(chunks.size());
        gather->left = chunks.size();
        for (std::size_t i = 0; i < chunks.size(); ++i) {
            detail::TaskLabel label{fn_id, i + 1, chunks.size()};  // `nogil ps`: "f(int), chunk 2 of 4"
            core_->submit(detail::encode_call(ChunkFn, fn_id, chunks[i]), [gather, i](detail::TaskOutcome& outcome) {
                std::optional<Chunk> part;
                auto error = decode(outcome, part);
                std::optional<std::vector<R>> all;
                bool first_failure = false;
                {
                    std::lock_guard lock(gather->mutex);
                    if (gather->failed) return;
                    if (error) {
                        gather->failed = first_failure = true;
                    } else {
                        gather->parts[i] = std::move(*part);
                        if (--gather->left == 0) {
                            all.emplace();
                            for (auto& p : gather->parts)
                                all->insert(all->end(), std::make_move_iterator(p.begin()), std::make_move_iterator(p.end()));
                        }
                    }
                }
                if (first_failure) complete(gather->result, std::optional<std::vector<R>>(), std::move(error), gather->callbacks);
                else if (all) complete(gather->result, std::move(all), std::nullopt, gather->callbacks);
            }, std::move(label));
        }
        return result;
    }

    // imap's task feeder. The input is consumed lazily, one chunk at a time: the caller submits
    // the first `window` chunks, then each completed chunk's callback (manager thread) pulls and
    // submits the next one, so at most `window` chunks are queued or running, yet all the input
    // is submitted whether or not anyone reads the results (close() + join() run it all, as in
    // Python). The input range is iterated under `mutex`, first by the caller, then on the
    // manager thread. A failure to read the input or to submit becomes the failure of the chunk
    // it would have been, after which no chunks are created.
    template <class R, class View, class Arg, class Fn>
    struct Feed : std::enable_shared_from_this<Feed<R, View, Arg, Fn>> {
        using State = typename IMapIterator<R>::State;
        Feed(detail::PoolCore* core, std::shared_ptr<State> state, View view, detail::FunctionId fn, std::size_t chunksize)
            : core(core), state(std::move(state)), view(std::move(view)), fn(std::move(fn)), chunksize(chunksize) {}

        // Creates and submits chunks until `window` are in flight or the input ends. `caller`: on
        // the imap() caller's thread (the pool must be running) rather than in a callback.
        void fill(bool caller) {
            std::lock_guard lock(mutex);
            while (!done && in_flight < window) {
                std::vector<Arg> items;
                std::exception_ptr failure;  // the input's own exception, with its type
                bool last = false;
                try {
                    if (!position) position.emplace(std::ranges::begin(view));
                    while (items.size() < chunksize && *position != std::ranges::end(view)) {
                        items.emplace_back(**position);
                        ++*position;
                    }
                    last = *position == std::ranges::end(view);
                } catch (...) {
                    failure = std::current_exception();
                }
                if (!failure && items.empty()) {
                    done = true;
                    state->no_more_chunks();
                    return;
                }
                std::size_t index = next_index++;
                done = last || failure != nullptr;
                state->created(index, done);
                if (!failure) {
                    auto call = detail::encode_call(&detail::map_chunk<Fn, Arg>, fn, items);
                    auto on_done = [self = this->shared_from_this(), index](detail::TaskOutcome& outcome) {
                        std::optional<std::vector<R>> part;
                        auto error = decode(outcome, part);
                        self->state->complete(index, part ? std::move(*part) : std::vector<R>{},
                                              error ? detail::rebuild_exception(*error) : nullptr);
                        self->finished_one();
                    };
                    try {
                        detail::TaskLabel label{fn, index + 1, 0};  // `nogil ps`: "f(int), chunk 3"
                        if (caller) core->submit(std::move(call), std::move(on_done), std::move(label));
                        else core->submit_continuation(std::move(call), std::move(on_done), std::move(label));
                        ++in_flight;
                        continue;
                    } catch (...) {
                        if (caller && index == 0) throw;  // imap on a closed pool: Python's ValueError
                        failure = std::current_exception();
                        done = true;
                    }
                }
                state->complete(index, {}, std::move(failure));
            }
        }
        void finished_one() {
            {
                std::lock_guard lock(mutex);
                --in_flight;
            }
            fill(false);
        }

        detail::PoolCore* core;  // outlives every callback: ~PoolCore joins the manager thread
        std::shared_ptr<State> state;
        std::mutex mutex;
        View view;
        std::optional<std::ranges::iterator_t<View>> position;
        detail::FunctionId fn;
        std::size_t chunksize;
        std::size_t window = 0;
        std::size_t in_flight = 0;
        std::size_t next_index = 0;
        bool done = false;
    };

    template <class F, class Range>
    auto imap_impl(bool ordered, F& f, Range&& iterable, std::size_t chunksize) {
        static_assert(detail::check_callable<F>());
        using Arg = std::ranges::range_value_t<Range>;
        using Fn = detail::function_pointer_t<F>;
        using R = typename decltype(detail::map_chunk<Fn, Arg>(detail::FunctionId{}, std::vector<Arg>{}))::value_type;
        using View = std::views::all_t<Range>;
        using State = typename IMapIterator<R>::State;
        if (chunksize == 0) throw std::invalid_argument("imap: chunksize must be at least 1");
        auto state = std::make_shared<State>();
        state->ordered = ordered;
        Fn fn = +f;
        auto feed = std::make_shared<Feed<R, View, Arg, Fn>>(core_.get(), state, std::views::all(std::forward<Range>(iterable)),
                                                             detail::identify(fn), chunksize);
        feed->window = 2 * static_cast<std::size_t>(core_->processes());
        feed->fill(true);
        return IMapIterator<R>(std::move(state), std::move(feed));
    }

    std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace nogil::multiprocessing
