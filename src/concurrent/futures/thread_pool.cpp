// ThreadPoolExecutor.
//
// Shutdown protocol (what shutdown(wait, cancel_futures) does, in order):
//   1. Close the injection queue: one atomic OR of a "closed" bit into its tail pointer, which is
//      the word every submit's push compare-and-swaps. A push either lands before the close (its
//      item is in the queue, perhaps still being linked) or fails, and submit() then throws
//      "cannot schedule new futures after shutdown". Every item accepted before is in the
//      injection queue or a worker's batch, and is either run or, with cancel_futures,
//      cancelled — never dropped.
//   2. With cancel_futures: take every queued item (the injection queue, waiting out a push that
//      is half linked, and every worker's local batch) and cancel its future; Python cancels
//      exactly the calls that have not started.
//   3. Under the spawn lock: if items are queued but no worker was ever started (the submit that
//      queued them had not started its thread yet), start one; then forbid further starts.
//   4. Wake every sleeping worker. A worker exits when the queue is closed and it finds no work
//      anywhere (injection queue, its batch, other workers' batches): queued calls still run
//      after shutdown(wait = false).
//   5. With wait: join every worker except the calling thread (a call may shut its own pool down).
//      Later and concurrent calls find the work done; the destructor is shutdown(wait = true).
// Lifetime: every worker thread holds a reference to the core (Python's workers hold the executor
// weakly, and look it up per item; here the core is what they use, so they keep it). The
// executor may therefore be destroyed anywhere, also by one of its own calls dropping the last
// owner of the executor: that worker skips joining itself (step 5), finishes the call, runs
// whatever is still queued, and frees the core when it leaves, on its own thread.
// At program exit (exit.hpp) a pool still alive is shut down as by shutdown(wait = true); a
// submit that finds its queue closed by exit throws "... after interpreter shutdown".
// A failing initializer breaks the pool the same way (steps 1, 2 failing the futures with
// BrokenThreadPool, 4); submit() then throws BrokenThreadPool.
// Each step is pinned by a test in tests/concurrent_futures_thread_pool_test.cpp that names it:
// step 1 ThreadPoolExecutor.SubmitAfterShutdownThrows; 2 ShutdownCancelFutures; 3
// ShutdownWithoutAnyThreadRunsQueuedWork; 4 QueuedWorkStillRunsAfterShutdownWithoutWait; 5
// DestructorWaitsForAll and ACallMayShutItsOwnPoolDown; the broken pool
// FailingInitializerBreaksThePool; all of them at once StressSubmitCancelResultShutdown.
//
// Scheduling: submit() pushes onto the injection queue (detail/injection_queue.hpp: one
// compare-and-swap, no lock) and wakes a sleeping worker only when no worker is awake and looking
// for work ("spinning"): a spinning worker is bound to see the item, since it re-checks the queue
// after leaving the spinning count and before sleeping. Once all max_workers threads run, a
// worker takes a batch of up to 16 items into its local list, so the consumers' spin lock is
// touched once per batch (before that, one item at a time, as Python's workers); an idle worker
// steals the back half of another worker's batch. The last spinner to find work wakes a sleeper
// if more work is visible (parallelism grows one thread at a time, as in Go's scheduler), and so
// does a worker that kept a batch while none spins. Idle workers spin briefly before sleeping on
// a futex. The submitters', the consumers' and each worker's hot words live on separate cache
// lines.

#include <nogil/concurrent/futures/thread_pool.hpp>
#include <nogil/concurrent/futures/detail/debug_offsets.hpp>
#include <nogil/detail/futex.hpp>
#include "concurrent/futures/detail/exit.hpp"
#include "concurrent/futures/detail/injection_queue.hpp"
#include <nogil/threading/thread.hpp>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace nogil::concurrent::futures {
namespace detail {

using Item = nogil::concurrent::futures::detail::FutureStateBase;

namespace {

/// A tiny lock for a worker's local batch: held for a few pointer moves only.
class SpinLock {
public:
    void lock() noexcept {
        for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
            while (locked_.load(std::memory_order_relaxed)) {
                if (++spins < 64)
                    __builtin_ia32_pause();
                else
                    sched_yield();
            }
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

/// Singly-linked FIFO of items through Item::next_in_queue; not thread-safe by itself.
struct ItemList {
    Item* head = nullptr;
    Item* tail = nullptr;
    std::size_t size = 0;

    void push(Item* item) noexcept {
        item->next_in_queue = nullptr;
        if (tail)
            tail->next_in_queue = item;
        else
            head = item;
        tail = item;
        ++size;
    }
    Item* pop() noexcept {
        Item* item = head;
        if (!item) return nullptr;
        head = item->next_in_queue;
        if (!head) tail = nullptr;
        --size;
        item->next_in_queue = nullptr;
        return item;
    }
    /// Moves the first n items into a new list.
    ItemList split_front(std::size_t n) noexcept {
        ItemList front;
        while (n-- > 0 && head) front.push(pop());
        return front;
    }
    void append(ItemList&& other) noexcept {
        if (!other.head) return;
        if (tail)
            tail->next_in_queue = other.head;
        else
            head = other.head;
        tail = other.tail;
        size += other.size;
        other = {};
    }
};

}  // namespace

struct alignas(64) Worker {
    WorkerSlot slot;  // first: what `nogil ps` reads (the slot's address is the worker's)
    SpinLock lock;
    ItemList local;                          // guarded by lock
    std::atomic<std::size_t> local_size{0};  // hint for thieves and idle checks, written under lock
};

// The core's fields, grouped by what guards them (declared at the end of the class):
//   no lock, fixed after construction: options_, max_workers_, workers_ (the slots; each
//       Worker's `local` batch is guarded by that Worker's own `lock`).
//   queue_'s consumer end: take_lock_ (a SpinLock) — every pop from the injection queue, by a
//       worker taking a batch or by take_all_queued(). Pushes take no lock (one CAS).
//   spawn_mutex_: threads_, no_more_threads_ (and the start of a thread: started_ is stored
//       under it, read without it).
//   broken_mutex_: the one transition to broken — broken_message_ is written once under it,
//       before broken_ is set (release); readers load broken_ (acquire) without the lock.
//   atomics, no lock (the idle protocol; see worker_main and wake_one_if_none_spinning):
//       spinning_, sleepers_, wake_epoch_ (the futex word), started_, idle_tokens_.
class ThreadPoolCore final : public ExitParticipant, public std::enable_shared_from_this<ThreadPoolCore> {
public:
    ThreadPoolCore(ThreadPoolOptions options) : options_(std::move(options)) {
        if (options_.max_workers) {
            if (*options_.max_workers <= 0) throw std::invalid_argument("max_workers must be greater than 0");
            max_workers_ = *options_.max_workers;
        } else {
            max_workers_ = ThreadPoolExecutor::default_max_workers();
        }
        if (options_.thread_name_prefix.empty()) {
            static std::atomic<int> counter{0};
            options_.thread_name_prefix = "ThreadPoolExecutor-" + std::to_string(counter.fetch_add(1));
        }
        workers_.reserve(static_cast<std::size_t>(max_workers_));
        slots_.reserve(static_cast<std::size_t>(max_workers_));
        for (int i = 0; i < max_workers_; ++i) {
            workers_.push_back(std::make_unique<Worker>());
            slots_.push_back(&workers_.back()->slot);
        }
        threads_.reserve(static_cast<std::size_t>(max_workers_));
        describe_for_ps();
    }

    ~ThreadPoolCore() {
        shutdown(true, false);
        unregister_executor(record_);
    }

    void shutdown_at_exit() noexcept override {
        closed_at_exit_.store(true, std::memory_order_seq_cst);
        shutdown(true, false);
    }

    int max_workers() const noexcept { return max_workers_; }
    std::size_t thread_count() const noexcept { return started_.load(std::memory_order_acquire); }

    void enqueue(Item* item) {
        if (exiting() || !queue_.push(item)) {
            if (broken_.load(std::memory_order_acquire)) throw BrokenThreadPool(broken_message_);
            // Python's order: the pool's own shutdown first, then the interpreter's.
            if (queue_.closed() && !closed_at_exit_.load(std::memory_order_seq_cst))
                throw std::runtime_error("cannot schedule new futures after shutdown");
            throw std::runtime_error(kSubmitAfterExit);
        }
        adjust_thread_count();
        wake_one_if_none_spinning();
    }

    void shutdown(bool wait, bool cancel_futures) {
        queue_.close();  // step 1
        if (cancel_futures) cancel_all(take_all_queued());  // step 2
        {  // step 3
            std::lock_guard guard(spawn_mutex_);
            if (!no_more_threads_ && started_.load(std::memory_order_relaxed) == 0 && has_queued_work())
                start_thread_locked();
            no_more_threads_ = true;
        }
        wake_all();  // step 4
        if (!wait) return;
        std::lock_guard guard(spawn_mutex_);  // step 5
        auto self = threading::current_thread();
        for (auto& t : threads_) {
            if (!(t == self)) t.join();
        }
    }

private:
    static constexpr std::size_t kBatch = 16;

    // Python's _adjust_thread_count: reuse an idle worker if there is one, else start a new
    // thread while fewer than max_workers run.
    void adjust_thread_count() {
        if (started_.load(std::memory_order_acquire) >= static_cast<std::size_t>(max_workers_)) return;
        // seq_cst, after the push: pairs with offer_idle_token (see there).
        if (take_idle_token()) return;
        std::lock_guard guard(spawn_mutex_);
        if (!no_more_threads_ && started_.load(std::memory_order_relaxed) < static_cast<std::size_t>(max_workers_))
            start_thread_locked();
    }

    void start_thread_locked() {
        std::size_t index = started_.load(std::memory_order_relaxed);
        // A threading::Thread, as in Python: current_thread().name() is "<prefix>_<n>" inside a
        // call. Daemonic: the pool's destructor is what waits, and a pool that is never destroyed
        // does not keep the program from exiting.
        // The thread's reference to the core is dropped when worker_main returns, on this thread
        // (a Thread destroys its target there), so a core whose executor is gone is freed by the
        // last worker to leave, never under a worker still using it.
        threading::Thread worker({.name = options_.thread_name_prefix + "_" + std::to_string(index), .daemon = true},
                                 [core = shared_from_this(), index] { core->worker_main(index); });
        worker.start();
        threads_.push_back(std::move(worker));
        started_.store(index + 1, std::memory_order_release);
    }

    // The pool's entry in the registry `nogil ps` reads (debug_offsets.hpp).
    void describe_for_ps() noexcept {
        const Worker& w = *workers_.front();
        const auto at = [&w](const void* field) {
            return static_cast<std::uint64_t>(static_cast<const char*>(field) - reinterpret_cast<const char*>(&w));
        };
        const auto words = queue_.words();
        record_.kind = ExecutorRecord::thread_pool;
        record_.max_workers = max_workers_;
        record_.name = options_.thread_name_prefix.c_str();
        record_.started = &started_;
        record_.workers = slots_.data();
        record_.local_head = at(&w.local.head);
        record_.local_size = at(&w.local_size);
        record_.queue_head = words.head;
        record_.queue_tail = words.tail;
        record_.queue_stub = words.stub;
        register_executor(record_);
    }

    void worker_main(std::size_t index) {
        workers_[index]->slot.tid.store(static_cast<int>(threading::get_native_id()), std::memory_order_relaxed);
        if (options_.initializer) {
            try {
                options_.initializer();
            } catch (...) {
                initializer_failed();
                return;
            }
        }
        Worker& self = *workers_[index];
        // Python's idle semaphore, released when a call returns and no work is visible: a submit
        // that follows the result then reuses this thread instead of starting another. Only
        // matters while the pool may still start threads.
        struct IdleHook final : Item::RunHook {
            ThreadPoolCore* pool;
            bool gave_token = false;
            void call_returned() noexcept override {
                if (pool->started_.load(std::memory_order_relaxed) < static_cast<std::size_t>(pool->max_workers_))
                    gave_token = pool->offer_idle_token();
            }
        } hook;
        hook.pool = this;
        for (;;) {
            Item* item = find_work(self, index);
            if (!item) item = wait_for_work(self, index, std::exchange(hook.gave_token, false));
            if (!item) return;
            self.slot.running.store(item, std::memory_order_relaxed);  // for `nogil ps` only
            item->run(&hook);
            self.slot.running.store(nullptr, std::memory_order_relaxed);
            item->release();
        }
    }

    Item* pop_local(Worker& w) noexcept {
        if (w.local_size.load(std::memory_order_relaxed) == 0) return nullptr;
        std::lock_guard guard(w.lock);
        Item* item = w.local.pop();
        w.local_size.store(w.local.size, std::memory_order_relaxed);
        return item;
    }

    // Adds to a worker's batch. The size is stored seq_cst: it pairs with a sleeper's
    // announce-then-check (has_queued_work) like a push does.
    static void append_local(Worker& w, ItemList&& items) noexcept {
        std::lock_guard guard(w.lock);
        w.local.append(std::move(items));
        w.local_size.store(w.local.size, std::memory_order_seq_cst);
    }

    Item* take_from_queue(Worker& self) {
        if (queue_.empty()) return nullptr;
        // While the pool may still start threads, take one item at a time, as Python's workers
        // do: an idle worker's token (see IdleHook) then stands for a worker that will take the
        // next item, never for one that holds queued items behind a call that blocks.
        std::size_t limit = started_.load(std::memory_order_relaxed) < static_cast<std::size_t>(max_workers_) ? 1 : kBatch;
        ItemList batch;
        {
            std::lock_guard guard(take_lock_);
            while (batch.size < limit) {
                Item* item = queue_.pop();
                if (!item) break;
                batch.push(item);
            }
        }
        Item* first = batch.pop();
        if (batch.size > 0) {
            append_local(self, std::move(batch));
            wake_one_if_none_spinning();  // a sleeper may steal half of this batch
        }
        return first;
    }

    Item* steal(Worker& self, std::size_t index) {
        std::size_t started = started_.load(std::memory_order_acquire);
        for (std::size_t k = 1; k < started; ++k) {
            Worker& victim = *workers_[(index + k) % started];
            if (victim.local_size.load(std::memory_order_relaxed) == 0) continue;
            ItemList loot;
            {
                std::lock_guard guard(victim.lock);
                // Take the back half: the owner keeps the oldest calls, which run first.
                std::size_t keep = victim.local.size / 2;
                ItemList front = victim.local.split_front(keep);
                loot = std::move(victim.local);
                victim.local = std::move(front);
                victim.local_size.store(victim.local.size, std::memory_order_relaxed);
            }
            Item* first = loot.pop();
            if (loot.size > 0) append_local(self, std::move(loot));
            if (first) return first;
        }
        return nullptr;
    }

    Item* find_work(Worker& self, std::size_t index) {
        if (Item* item = pop_local(self)) return item;
        if (Item* item = take_from_queue(self)) return item;
        return steal(self, index);
    }

    bool has_queued_work() const noexcept {
        if (!queue_.empty()) return true;
        std::size_t started = started_.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < started; ++i)
            if (workers_[i]->local_size.load(std::memory_order_seq_cst) > 0) return true;
        return false;
    }

    // Spin a little (work often arrives within microseconds), then sleep on the wake epoch.
    // While spinning, the worker counts in spinning_, which spares submitters the wake-up call.
    // Returns null when the pool is closed and no work is left anywhere.
    Item* wait_for_work(Worker& self, std::size_t index, bool gave_token) {
        if (!gave_token) offer_idle_token();
        spinning_.fetch_add(1, std::memory_order_seq_cst);
        for (;;) {
            for (int spin = 0; spin < kSpinRounds; ++spin) {
                if (has_queued_work()) {
                    if (Item* item = find_work(self, index)) {
                        // The last spinner to leave hands the watch on: if more work is visible
                        // a sleeper joins, so parallelism grows one thread at a time.
                        if (spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 && has_queued_work())
                            wake_one_if_sleeping();
                        return item;
                    }
                }
                if (spin < kSpinRounds - kYieldRounds)
                    for (int i = 0; i < kPausesPerRound; ++i) __builtin_ia32_pause();
                else
                    sched_yield();
            }
            std::uint32_t epoch = wake_epoch_.load(std::memory_order_acquire);
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            spinning_.fetch_sub(1, std::memory_order_seq_cst);
            bool work = has_queued_work();
            bool stop = !work && queue_.closed();  // closed and empty: nothing can come any more
            if (!work && !stop) nogil::detail::futex_wait(wake_epoch_, epoch);
            sleepers_.fetch_sub(1, std::memory_order_relaxed);
            if (stop) return nullptr;
            spinning_.fetch_add(1, std::memory_order_seq_cst);
        }
    }

    // Python's idle_semaphore.release(), without the race Python's has: a token must stand for
    // a worker that will take a call nobody else takes, or a submit that takes it starts no
    // thread and its call can wait behind blocked calls forever (n calls that block until all
    // n run would hang). So the worker offers the token first and then looks at the queue
    // (seq_cst both); a submit pushes and then looks at the tokens (seq_cst both). If the
    // worker sees queued work (a call pushed before its offer; or one whose push is half
    // done, which a pop reports as no item), it takes a token back: it is about to take that
    // work, or another worker is. Otherwise every later push sees the token. A token taken
    // back that a submit already took leaves the count low, which costs at most a thread
    // started early; a count too high is what hangs.
    // Returns whether the token stays offered.
    bool offer_idle_token() noexcept {
        idle_tokens_.fetch_add(1, std::memory_order_seq_cst);
        if (!has_queued_work()) return true;
        take_idle_token();
        return false;
    }

    bool take_idle_token() noexcept {
        std::uint32_t tokens = idle_tokens_.load(std::memory_order_seq_cst);
        while (tokens > 0) {
            if (idle_tokens_.compare_exchange_weak(tokens, tokens - 1, std::memory_order_seq_cst)) return true;
        }
        return false;
    }

    static constexpr int kSpinRounds = 64;
    static constexpr int kYieldRounds = 16;
    static constexpr int kPausesPerRound = 32;

    // Called after making work visible (seq_cst). A spinning worker is bound to see the work:
    // it checks for work after leaving the spinning count and before sleeping.
    void wake_one_if_none_spinning() noexcept {
        if (spinning_.load(std::memory_order_seq_cst) != 0) return;
        wake_one_if_sleeping();
    }

    void wake_one_if_sleeping() noexcept {
        if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
        wake_epoch_.fetch_add(1, std::memory_order_release);
        nogil::detail::futex_wake(wake_epoch_, 1);
    }

    void wake_all() noexcept {
        wake_epoch_.fetch_add(1, std::memory_order_seq_cst);
        nogil::detail::futex_wake_all(wake_epoch_);
    }

    // Every item not yet taken by a worker; the queue must be closed.
    ItemList take_all_queued() {
        ItemList all;
        {
            std::lock_guard guard(take_lock_);
            for (int spins = 0; !queue_.empty();) {
                if (Item* item = queue_.pop()) {
                    all.push(item);
                } else if (++spins < 64) {  // a push is half done: it finishes in a few instructions
                    __builtin_ia32_pause();
                } else {
                    sched_yield();  // unless its thread was preempted
                }
            }
        }
        std::size_t started = started_.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < started; ++i) {
            Worker& w = *workers_[i];
            std::lock_guard guard(w.lock);
            all.append(std::move(w.local));
            w.local = {};
            w.local_size.store(0, std::memory_order_relaxed);
        }
        return all;
    }

    static void cancel_all(ItemList items) noexcept {
        while (Item* item = items.pop()) {
            item->cancel();
            item->run(nullptr);  // a cancelled item only drops its call
            item->release();
        }
    }

    // Python's _initializer_failed: the pool is broken; pending calls fail with BrokenThreadPool.
    void initializer_failed() {
        {
            std::lock_guard guard(broken_mutex_);
            if (!broken_.load(std::memory_order_relaxed)) {
                broken_message_ = "A thread initializer failed, the thread pool is not usable anymore";
                broken_.store(true, std::memory_order_release);
            }
        }
        queue_.close();
        ItemList pending = take_all_queued();
        while (Item* item = pending.pop()) {
            if (!item->done()) {
                try {
                    item->set_exception(std::make_exception_ptr(BrokenThreadPool(broken_message_)));
                } catch (const InvalidStateError&) {  // cancelled meanwhile
                }
            }
            item->cancel();
            item->run(nullptr);
            item->release();
        }
        wake_all();
    }

    // Read-mostly configuration.
    ThreadPoolOptions options_;
    int max_workers_ = 0;
    std::vector<std::unique_ptr<Worker>> workers_;  // one slot per possible thread, fixed at start
    std::vector<const void*> slots_;                // each worker's WorkerSlot, for `nogil ps`
    ExecutorRecord record_;                         // linked into the registry while the pool lives

    nogil::concurrent::futures::detail::InjectionQueue queue_;  // its producer and consumer ends have lines of their own
    alignas(64) SpinLock take_lock_;       // one popping worker at a time

    // Idle bookkeeping: read by every submit, written when a worker starts or stops spinning.
    alignas(64) std::atomic<std::uint32_t> spinning_{0};
    std::atomic<std::uint32_t> sleepers_{0};
    std::atomic<std::uint32_t> wake_epoch_{0};
    std::atomic<std::size_t> started_{0};
    std::atomic<std::uint32_t> idle_tokens_{0};

    alignas(64) std::mutex spawn_mutex_;
    std::vector<threading::Thread> threads_;  // guarded by spawn_mutex_
    bool no_more_threads_ = false;            // guarded by spawn_mutex_

    std::atomic<bool> closed_at_exit_{false};  // set before exit closes the queue

    std::mutex broken_mutex_;
    std::atomic<bool> broken_{false};
    std::string broken_message_;  // written once, before broken_ is set (release)
};

}  // namespace detail

ThreadPoolExecutor::ThreadPoolExecutor() : ThreadPoolExecutor(ThreadPoolOptions{}) {}
ThreadPoolExecutor::ThreadPoolExecutor(int max_workers) : ThreadPoolExecutor(ThreadPoolOptions{.max_workers = max_workers}) {}
ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolOptions options)
    : core_(std::make_shared<detail::ThreadPoolCore>(std::move(options))) {
    if (!detail::register_for_exit(core_)) core_->shutdown_at_exit();  // made while the program exits
}
ThreadPoolExecutor::~ThreadPoolExecutor() { core_->shutdown(true, false); }

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }
int ThreadPoolExecutor::max_workers() const noexcept { return core_->max_workers(); }
std::size_t ThreadPoolExecutor::thread_count() const noexcept { return core_->thread_count(); }
void ThreadPoolExecutor::enqueue(nogil::concurrent::futures::detail::FutureStateBase* item) { core_->enqueue(item); }

int ThreadPoolExecutor::default_max_workers() noexcept {
    cpu_set_t set;
    int cpus = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
    if (cpus <= 0) cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::min(32, cpus + 4);
}

}  // namespace nogil::concurrent::futures
