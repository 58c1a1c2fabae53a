// What the pools of worker processes (concurrent.futures' ProcessPoolExecutor, multiprocessing's
// Pool and mpi's MPIPoolExecutor) share to be read by `nogil ps` from another process
// (include/nogil/concurrent/futures/detail/debug_offsets.hpp): a mutex that counts its critical
// sections, a change count for state one thread changes outside any mutex, and where libstdc++'s
// deque keeps what the reader follows.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>

namespace nogil::multiprocessing::detail {

/// A std::mutex that counts its critical sections, so that `nogil ps` can read what it guards
/// from another process without taking it, as a seqlock's reader: the count is odd while the
/// mutex is held, and a read between two looks at the same even count saw no critical section.
/// Costs two plain increments per critical section (made under the lock).
class CountedMutex {
public:
    void lock() {
        mutex_.lock();
        sections_.store(sections_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        // The odd count before the section's stores. The reader is another process, so what
        // counts is the order of the stores in memory: x86 never reorders two stores (TSO), and a
        // compiler barrier keeps the compiler from doing it (a thread fence is what other
        // processors would need; ThreadSanitizer does not support one).
        std::atomic_signal_fence(std::memory_order_release);
    }
    bool try_lock() {
        if (!mutex_.try_lock()) return false;
        sections_.store(sections_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_release);  // as lock()
        return true;
    }
    void unlock() {
        sections_.store(sections_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        mutex_.unlock();
    }
    static constexpr std::size_t sections_offset() noexcept { return offsetof(CountedMutex, sections_); }

private:
    std::mutex mutex_;
    std::atomic<std::uint64_t> sections_{0};
};

/// The same count for state that one thread alone changes, outside any mutex (Pool's manager
/// and its workers): odd while it changes. ChangeCount::Scope brackets a change.
class ChangeCount {
public:
    class Scope {
    public:
        explicit Scope(ChangeCount& c) : c_(c) {
            c_.count_.store(c_.count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            std::atomic_signal_fence(std::memory_order_release);  // as CountedMutex::lock
        }
        ~Scope() { c_.count_.store(c_.count_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        ChangeCount& c_;
    };
    static constexpr std::size_t count_offset() noexcept { return offsetof(ChangeCount, count_); }

private:
    std::atomic<std::uint64_t> count_{0};
};

#if defined(__GLIBCXX__)
/// Where libstdc++'s deque keeps its start and finish iterators (in its _M_impl, which nobody
/// outside may name), found in a deque of one T by their values, begin() and end(); and how many
/// T a node holds (0 if not found). Its iterators' members are public.
struct DequeLayout {
    std::uint64_t start = 0, finish = 0, elements = 0, cur = 0, first = 0, node = 0;
};
template <class T>
DequeLayout deque_layout() {
    using Deque = std::deque<T>;
    using Iterator = typename Deque::iterator;
    DequeLayout out;
    Deque probe(1);
    const Iterator begin = probe.begin(), end = probe.end();
    const auto* bytes = reinterpret_cast<const unsigned char*>(&probe);
    for (std::size_t at = 0; at + sizeof(Iterator) <= sizeof(Deque); at += alignof(Iterator)) {
        if (std::memcmp(bytes + at, &begin, sizeof begin) == 0) out.start = at;
        if (std::memcmp(bytes + at, &end, sizeof end) == 0) out.finish = at;
    }
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#endif
    out.cur = offsetof(Iterator, _M_cur);
    out.first = offsetof(Iterator, _M_first);
    out.node = offsetof(Iterator, _M_node);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    if (out.start != out.finish) out.elements = static_cast<std::uint64_t>(begin._M_last - begin._M_first);
    return out;
}

/// Copies where a deque's iterators and their members are into a record of offsets that names
/// them deque_start, deque_finish, iterator_cur, iterator_first, iterator_node.
template <class Record>
void put_deque_layout(Record& r, const DequeLayout& d) noexcept {
    r.deque_start = d.start;
    r.deque_finish = d.finish;
    r.iterator_cur = d.cur;
    r.iterator_first = d.first;
    r.iterator_node = d.node;
}
#endif

}  // namespace nogil::multiprocessing::detail
