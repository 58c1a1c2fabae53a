#pragma once
// The same-host wake-up side channel of an MPI pool. MPI offers nothing to sleep on (Open MPI's
// shared-memory transport is polled), so without help a rank waiting for a message must poll:
// spin and burn a core, or sleep between polls and answer late. When the master and a worker run
// on one host they share a small segment of POSIX shared memory, one bell per rank (slot 0 the
// master, slot 1 + r the worker of rank r in the pool's communicator): a rank with nothing to do
// announces that it sleeps and sleeps on its bell (a process-shared futex); whoever sends it a
// message rings the bell after MPI_Isend returns, which costs one atomic read-modify-write when nobody sleeps.
//
// Wake-up protocol (a Dekker pair: neither side can miss the other):
//   sleeper: sleepers += 1 (seq_cst); seen = rung; if a probe finds no message: futex_wait(rung == seen)
//   ringer:  the message is sent (MPI_Isend returned); if sleepers (read by a seq_cst RMW) > 0:
//            rung += 1; wake
// The two RMWs on `sleepers` are totally ordered: either the ringer sees the sleeper announced (and
// wakes it, or changes `rung` before it waits), or the sleeper's probe runs after the send and
// finds the message. The probe must see every message that arrived before it: one MPI_Iprobe does
// not (Open MPI takes an arrived message in without matching it when its probe finds nothing among
// those already taken in), so it is message_waiting() (messages.hpp), two probes. A message that MPI has not made
// visible yet when the bell rings (TCP, a large message's rendezvous) is caught by the woken rank
// spinning again, and by the sleep's deadline (`nap`): a ring is a hint, never the only path.
//
// Readers: while a thread of the rank polls for messages itself (the master's thread waiting in
// result()), a ring would only wake a sleeper with nothing to do (the reader reads the answer):
// ringers skip the wake while `readers` > 0, and a reader that leaves rings its own bell when a
// message may still come that it did not read (reading(slot, false), then ring(slot)): a ringer
// that saw the reader sent before the reader left (both RMWs seq_cst); one that sends after rings.
//
// Lifetime: the master creates the segment when its workers start, names it in the boot Session,
// and unlinks the name once every worker has answered its boot (mapped it or not): nothing is
// left in /dev/shm after that, even if the program is killed later. A worker unmaps it at stop.

#include "stats.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace nogil::mpi::detail {

class Doorbells {
public:
    /// How long a sleeping rank waits for a ring before it polls once more anyway.
    static constexpr auto nap = std::chrono::milliseconds(20);

    /// The master: a new segment of `slots` bells; nullptr if shared memory is unavailable (the pool
    /// then polls with back-off, as between hosts).
    static std::unique_ptr<Doorbells> create(int slots);
    /// A worker: the master's segment, if it can be opened from here and has `slot`; else nullptr.
    static std::unique_ptr<Doorbells> open(const std::string& name, int slot);

    ~Doorbells();
    Doorbells(const Doorbells&) = delete;
    Doorbells& operator=(const Doorbells&) = delete;

    const std::string& name() const noexcept { return name_; }
    /// Removes the name from /dev/shm (the master, once every worker has booted). Idempotent.
    void unlink() noexcept;

    /// Wakes the rank sleeping on `slot`, if one is and no thread of it reads (`force`: even
    /// then: the news is not a message a reader would read, e.g. shutdown). Call after the
    /// message is sent.
    void ring(int slot, bool force = false) noexcept;
    /// A thread of `slot`'s rank starts (true) or stops (false) polling for its messages itself.
    void reading(int slot, bool on) noexcept;

    /// Sleeps on `slot` until it is rung or `nap` passes; `nothing_yet()` is called after the sleep
    /// is announced and before it starts (a probe: false if a message is already there). True if
    /// the bell rang (or the probe found a message): the caller should spin again.
    template <class Probe>
    bool sleep(int slot, Probe&& nothing_yet) {
        Bell& b = bell(slot);
        b.sleepers.fetch_add(1, std::memory_order_seq_cst);
        std::uint32_t seen = b.rung.load(std::memory_order_seq_cst);
        bool woken = true;
        if (nothing_yet()) {
            count(counters().bell_sleeps);
            woken = wait(b, seen);
            if (!woken) {
                count(counters().bell_timeouts);
                // A message came and no ring woke us (while a thread of ours reads, rings are skipped
                // on purpose: that message is the reader's).
                if (b.readers.load(std::memory_order_seq_cst) == 0 && !nothing_yet()) count(counters().bell_late);
            }
        }
        b.sleepers.fetch_sub(1, std::memory_order_relaxed);
        return woken;
    }

private:
    struct alignas(64) Bell {
        std::atomic<std::uint32_t> rung;      // changed by every ring that found a sleeper
        std::atomic<std::uint32_t> sleepers;  // ranks (threads) announced asleep on this bell
        std::atomic<std::uint32_t> readers;   // threads of the rank polling themselves: no wake needed
    };

    Doorbells(std::string name, Bell* bells, int count, bool owner) noexcept
        : name_(std::move(name)), bells_(bells), count_(count), owner_(owner) {}
    Bell& bell(int slot) noexcept { return bells_[slot]; }
    static bool wait(Bell& b, std::uint32_t seen) noexcept;  // false: the nap passed

    std::string name_;
    Bell* bells_;
    int count_;
    bool owner_;     // the master's: unlinks the name
    bool linked_ = true;
};

}  // namespace nogil::mpi::detail
