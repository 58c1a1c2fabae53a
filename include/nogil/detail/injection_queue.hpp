#pragma once
// The thread pool's injection queue: an intrusive multi-producer FIFO of work items after Dmitry
// Vyukov's MPSC queue. push() is wait-free — one atomic exchange and one store, no lock, no
// allocation (the link is the item's own next_in_queue) — so submitting threads never wait for a
// worker or for each other. Consumers take turns: pop() must be called by one thread at a time
// (the pool holds a spin lock around it).
//
// pop() can return null while a push is half done (the producer swapped the tail but has not yet
// linked its item): callers treat a null pop as "look again", and drain the queue for good only
// once no push is in progress (the pool's submit gate guarantees that at shutdown).

#include <nogil/detail/future_state.hpp>

#include <atomic>

namespace nogil::detail {

class InjectionQueue {
public:
    using Item = FutureStateBase;

    InjectionQueue() noexcept = default;
    InjectionQueue(const InjectionQueue&) = delete;
    InjectionQueue& operator=(const InjectionQueue&) = delete;

    /// Any thread, concurrently with pushes and a pop. The queue owns the item's link until pop().
    void push(Item* item) noexcept {
        link(item).store(nullptr, std::memory_order_relaxed);
        // seq_cst: a producer that then reads the pool's sleeper count pairs with a worker that
        // announces it sleeps and then reads the tail (no lost wake-up).
        Item* prev = tail_.exchange(item, std::memory_order_seq_cst);
        link(prev).store(item, std::memory_order_release);  // publishes the item to the consumer
    }

    /// One thread at a time. The oldest item, or null when empty or when the oldest push is not
    /// finished yet.
    Item* pop() noexcept {
        Item* head = head_;
        Item* next = link(head).load(std::memory_order_acquire);
        if (head == &stub_) {
            if (!next) return nullptr;
            head_ = next;
            head = next;
            next = link(next).load(std::memory_order_acquire);
        }
        if (next) {
            head_ = next;
            return head;
        }
        // `head` is the last linked item: it can be handed out only with something behind it, so
        // put the stub back (unless a producer is between its two steps: then come back later).
        if (head != tail_.load(std::memory_order_acquire)) return nullptr;
        push(&stub_);
        next = link(head).load(std::memory_order_acquire);
        if (!next) return nullptr;
        head_ = next;
        return head;
    }

    /// Any thread: true while some pushed item has not been popped (or is being popped). A
    /// seq_cst read of the tail, so it pairs with push() as described there.
    bool maybe_nonempty() const noexcept { return tail_.load(std::memory_order_seq_cst) != &stub_; }

private:
    static std::atomic_ref<Item*> link(Item* item) noexcept { return std::atomic_ref<Item*>(item->next_in_queue); }

    // The producers' end and the consumer's end on separate cache lines: a submitting thread
    // and a popping worker do not invalidate each other's line on every operation.
    alignas(64) std::atomic<Item*> tail_{&stub_};
    alignas(64) Item* head_ = &stub_;
    FutureState<void> stub_;  // stands in for "nothing" so that push never looks at head_
};

}  // namespace nogil::detail
