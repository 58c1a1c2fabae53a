#pragma once
// The thread pool's injection queue: an intrusive multi-producer FIFO of work items after Dmitry
// Vyukov's MPSC queue, that can be closed. push() is one compare-and-swap on the tail and one
// store — no lock, no allocation (the link is the item's own next_in_queue) — so submitting
// threads never wait for a worker, and a push after close() fails instead. Consumers take
// turns: pop() must be called by one thread at a time (the pool holds a spin lock around it).
//
// pop() can return null while a push is half done (the producer swapped the tail but has not yet
// linked its item): callers treat a null pop as "look again". Once closed, the queue is drained
// for good by popping until empty() (a half-done push finishes within a few instructions).

#include <nogil/concurrent/futures/detail/future_state.hpp>

#include <atomic>
#include <cstdint>

namespace nogil::concurrent::futures::detail {

class InjectionQueue {
public:
    using Item = FutureStateBase;

    InjectionQueue() noexcept = default;
    InjectionQueue(const InjectionQueue&) = delete;
    InjectionQueue& operator=(const InjectionQueue&) = delete;

    /// Any thread, concurrently with pushes, close() and a pop. Appends the item and returns true;
    /// after close() returns false and leaves the item alone. Lock-free.
    bool push(Item* item) noexcept {
        link(item).store(nullptr, std::memory_order_relaxed);
        // Acquire when reading the closed bit: what the closing thread wrote before close() (the
        // pool's "broken" reason) is visible to a push that fails.
        std::uintptr_t tail = tail_.load(std::memory_order_acquire);
        do {
            if (tail & closed_bit) return false;
            // seq_cst: a producer that then reads the pool's idle counts pairs with a worker that
            // announces it is going to sleep and then reads the tail (no lost wake-up).
        } while (!tail_.compare_exchange_weak(tail, reinterpret_cast<std::uintptr_t>(item), std::memory_order_seq_cst,
                                              std::memory_order_acquire));
        link(reinterpret_cast<Item*>(tail)).store(item, std::memory_order_release);  // publishes it to the consumer
        return true;
    }

    /// Any thread: from now on push() fails. Items pushed before stay and are popped as usual.
    void close() noexcept { tail_.fetch_or(closed_bit, std::memory_order_seq_cst); }
    bool closed() const noexcept { return tail_.load(std::memory_order_seq_cst) & closed_bit; }

    /// One thread at a time. The oldest item, or null when empty or when the oldest push is not
    /// finished yet.
    Item* pop() noexcept {
        Item* head = head_.load(std::memory_order_relaxed);
        Item* next = link(head).load(std::memory_order_acquire);
        if (head == &stub_) {
            if (!next) return nullptr;
            head_.store(next, std::memory_order_relaxed);
            head = next;
            next = link(next).load(std::memory_order_acquire);
        }
        if (next) {
            head_.store(next, std::memory_order_relaxed);
            return head;
        }
        // `head` is the last linked item: it can be handed out only with something behind it, so
        // put the stub back (unless a producer is between its two steps: then come back later).
        if (head != tail_item()) return nullptr;
        push_stub();
        next = link(head).load(std::memory_order_acquire);
        if (!next) return nullptr;
        head_.store(next, std::memory_order_relaxed);
        return head;
    }

    /// Any thread: true once every pushed item has been popped (or is being popped). A seq_cst
    /// read of the tail, so it pairs with push() as described there. The tail alone is not
    /// enough: when pop() puts the stub back while a producer is between its two steps, the
    /// tail is the stub although that producer's item and the one before it are still queued
    /// (head_ is then that item, not the stub). Reading the tail first makes the read of head_
    /// see at least the head_ that pop() stored before it pushed the stub.
    /// Where `nogil ps` reads the queue (debug_offsets.hpp): the head word, the tail word, the stub.
    struct Words {
        const void* head;
        const void* tail;
        const void* stub;
    };
    Words words() const noexcept { return {&head_, &tail_, &stub_}; }

    bool empty() const noexcept {
        return tail_item() == &stub_ && head_.load(std::memory_order_acquire) == &stub_;
    }

private:
    static constexpr std::uintptr_t closed_bit = 1;  // items are at least pointer-aligned

    static std::atomic_ref<Item*> link(Item* item) noexcept { return std::atomic_ref<Item*>(item->next_in_queue); }

    Item* tail_item() const noexcept {
        return reinterpret_cast<Item*>(tail_.load(std::memory_order_seq_cst) & ~closed_bit);
    }

    // As push(), for the stub, also after close (it keeps the closed bit).
    void push_stub() noexcept {
        link(&stub_).store(nullptr, std::memory_order_relaxed);
        std::uintptr_t tail = tail_.load(std::memory_order_relaxed);
        while (!tail_.compare_exchange_weak(tail, reinterpret_cast<std::uintptr_t>(&stub_) | (tail & closed_bit),
                                            std::memory_order_seq_cst, std::memory_order_relaxed)) {
        }
        link(reinterpret_cast<Item*>(tail & ~closed_bit)).store(&stub_, std::memory_order_release);
    }

    // The producers' end and the consumer's end on separate cache lines: a submitting thread
    // and a popping worker do not invalidate each other's line on every operation.
    alignas(64) std::atomic<std::uintptr_t> tail_{reinterpret_cast<std::uintptr_t>(&stub_)};
    alignas(64) std::atomic<Item*> head_{&stub_};  // written by the popping thread only
    FutureState<void> stub_;  // stands in for "nothing" so that push never looks at head_
};

}  // namespace nogil::concurrent::futures::detail
