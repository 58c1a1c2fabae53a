// Process-shared primitives on futex words in shared memory. Each state struct is the whole
// content of its block; all words are std::atomic<uint32_t> (lock-free, address-free).
#include "multiprocessing/detail/futex.hpp"
#include <nogil/multiprocessing/synchronize.hpp>

#include <climits>
#include <sys/syscall.h>
#include <unistd.h>

namespace nogil::multiprocessing {

namespace {

using Word = std::atomic<std::uint32_t>;
static_assert(Word::is_always_lock_free);

struct LockState {
    Word word{0};
};

struct RLockState {
    Word word{0};
    Word owner{0};  // kernel thread id of the owner: unique across processes
    std::uint32_t count = 0;  // written by the owner only
};

struct SemaphoreState {
    Word value{0};
    std::uint32_t max_value = 0;  // 0: unbounded
};

struct ConditionState {
    SemaphoreState sleeping;
    SemaphoreState woken;
    SemaphoreState wait;
};

struct BarrierState {
    Word mutex{0};
    Word generation{0};       // bumped each time a round ends (filled, reset or aborted)
    std::uint32_t count = 0;  // waiters in the current round
    std::uint32_t parties = 0;
    std::uint32_t broken = 0;           // set by abort/timeout, cleared by reset
    std::uint32_t broken_round = ~0u;   // generation of the last round that ended broken
    std::int64_t default_timeout_ms = -1;
};

template <class State>
State& state_of(const std::shared_ptr<detail::SharedBlock>& block) {
    if (block->size() < sizeof(State)) throw std::runtime_error("shared object: received block is too small");
    return *std::launder(static_cast<State*>(block->data()));
}

template <class State, class... Args>
std::shared_ptr<detail::SharedBlock> create_block(Args&&... args) {
    auto block = detail::SharedBlock::create(sizeof(State));
    new (block->data()) State{std::forward<Args>(args)...};
    return block;
}

std::uint32_t my_tid() { return static_cast<std::uint32_t>(::syscall(SYS_gettid)); }

detail::Deadline now_if(bool blocking) {
    return blocking ? detail::Deadline{} : detail::Deadline{std::chrono::steady_clock::now()};
}

// Semaphore operations on a state (shared by Semaphore and Condition).
bool sem_acquire(SemaphoreState& s, detail::Deadline deadline) {
    for (;;) {
        std::uint32_t v = s.value.load(std::memory_order_relaxed);
        while (v > 0) {
            if (s.value.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_relaxed))
                return true;
        }
        if (deadline && std::chrono::steady_clock::now() >= *deadline) return false;
        detail::shared_futex_wait(s.value, 0, deadline);
    }
}

void sem_release(SemaphoreState& s, std::uint32_t n) {
    if (s.max_value != 0) {
        std::uint32_t v = s.value.load(std::memory_order_relaxed);
        do {
            if (v + n > s.max_value) throw std::invalid_argument("semaphore or lock released too many times");
        } while (!s.value.compare_exchange_weak(v, v + n, std::memory_order_release, std::memory_order_relaxed));
    } else {
        s.value.fetch_add(n, std::memory_order_release);
    }
    detail::shared_futex_wake(s.value, static_cast<int>(n));
}

}  // namespace

// ---- Lock ----------------------------------------------------------------------------------

Lock::Lock() : SharedHandle(create_block<LockState>()) {}
Lock::Lock(std::shared_ptr<detail::SharedBlock> block) : SharedHandle(std::move(block)) { state_of<LockState>(block_); }

bool Lock::acquire(bool blocking) {
    auto& s = state_of<LockState>(block_);
    return blocking ? detail::shared_mutex_lock(s.word, std::nullopt) : detail::shared_mutex_try_lock(s.word);
}
bool Lock::acquire_until(detail::Deadline deadline) {
    return detail::shared_mutex_lock(state_of<LockState>(block_).word, deadline);
}
void Lock::release() {
    auto& s = state_of<LockState>(block_);
    if (s.word.load(std::memory_order_relaxed) == 0) throw std::invalid_argument("semaphore or lock released too many times");
    detail::shared_mutex_unlock(s.word);
}

// ---- RLock ---------------------------------------------------------------------------------

RLock::RLock() : SharedHandle(create_block<RLockState>()) {}
RLock::RLock(std::shared_ptr<detail::SharedBlock> block) : SharedHandle(std::move(block)) {
    state_of<RLockState>(block_);
}

bool RLock::is_mine() const {
    return state_of<RLockState>(block_).owner.load(std::memory_order_relaxed) == my_tid();
}

bool RLock::acquire(bool blocking) { return acquire_until(now_if(blocking)); }

bool RLock::acquire_until(detail::Deadline deadline) {
    auto& s = state_of<RLockState>(block_);
    std::uint32_t me = my_tid();
    if (s.owner.load(std::memory_order_relaxed) == me) {
        ++s.count;
        return true;
    }
    if (!detail::shared_mutex_lock(s.word, deadline)) return false;
    s.owner.store(me, std::memory_order_relaxed);
    s.count = 1;
    return true;
}

void RLock::release() {
    auto& s = state_of<RLockState>(block_);
    if (!is_mine()) throw std::runtime_error("cannot release un-acquired lock");
    if (--s.count == 0) {
        s.owner.store(0, std::memory_order_relaxed);
        detail::shared_mutex_unlock(s.word);
    }
}

std::uint32_t RLock::release_all() {
    auto& s = state_of<RLockState>(block_);
    std::uint32_t n = s.count;
    s.count = 0;
    s.owner.store(0, std::memory_order_relaxed);
    detail::shared_mutex_unlock(s.word);
    return n;
}

void RLock::acquire_restore(std::uint32_t n) {
    auto& s = state_of<RLockState>(block_);
    detail::shared_mutex_lock(s.word, std::nullopt);
    s.owner.store(my_tid(), std::memory_order_relaxed);
    s.count = n;
}

// ---- Semaphore -----------------------------------------------------------------------------

namespace {
std::uint32_t checked_value(int value) {
    if (value < 0) throw std::invalid_argument("Semaphore: value must be >= 0");
    return static_cast<std::uint32_t>(value);
}
}  // namespace

Semaphore::Semaphore(int value) : Semaphore(value, 0) {}
Semaphore::Semaphore(int value, int max_value)
    : SharedHandle(create_block<SemaphoreState>(checked_value(value), static_cast<std::uint32_t>(max_value))) {}
Semaphore::Semaphore(std::shared_ptr<detail::SharedBlock> block) : SharedHandle(std::move(block)) {
    state_of<SemaphoreState>(block_);
}

bool Semaphore::acquire(bool blocking) { return acquire_until(now_if(blocking)); }
bool Semaphore::acquire_until(detail::Deadline deadline) {
    return sem_acquire(state_of<SemaphoreState>(block_), deadline);
}
void Semaphore::release(int n) {
    if (n < 1) throw std::invalid_argument("Semaphore.release: n must be one or more");
    sem_release(state_of<SemaphoreState>(block_), static_cast<std::uint32_t>(n));
}
int Semaphore::get_value() const {
    return static_cast<int>(state_of<SemaphoreState>(block_).value.load(std::memory_order_relaxed));
}

// ---- Event ---------------------------------------------------------------------------------

Event::Event() : SharedHandle(create_block<LockState>()) {}
Event::Event(std::shared_ptr<detail::SharedBlock> block) : SharedHandle(std::move(block)) {
    state_of<LockState>(block_);
}
bool Event::is_set() const { return state_of<LockState>(block_).word.load(std::memory_order_acquire) != 0; }
void Event::set() {
    auto& s = state_of<LockState>(block_);
    s.word.store(1, std::memory_order_release);
    detail::shared_futex_wake(s.word, INT_MAX);
}
void Event::clear() { state_of<LockState>(block_).word.store(0, std::memory_order_release); }
bool Event::wait() { return wait_until(std::nullopt); }
bool Event::wait_until(detail::Deadline deadline) {
    auto& s = state_of<LockState>(block_);
    while (s.word.load(std::memory_order_acquire) == 0) {
        if (!detail::shared_futex_wait(s.word, 0, deadline)) return s.word.load(std::memory_order_acquire) != 0;
    }
    return true;
}

// ---- Condition (Python's multiprocessing.synchronize.Condition algorithm) --------------------

Condition::Condition(RLock lock) : lock_(std::move(lock)), block_(create_block<ConditionState>()) {}
Condition::Condition(RLock lock, std::shared_ptr<detail::SharedBlock> block)
    : lock_(std::move(lock)), block_(std::move(block)) {
    state_of<ConditionState>(block_);
}

bool Condition::wait_until(detail::Deadline deadline) {
    if (!lock_.is_mine()) throw std::runtime_error("must acquire() condition before using wait()");
    auto& s = state_of<ConditionState>(block_);
    sem_release(s.sleeping, 1);  // announce a sleeper before letting go of the lock
    std::uint32_t depth = lock_.release_all();
    bool signalled = sem_acquire(s.wait, deadline);
    sem_release(s.woken, 1);  // the notifier counts wake-ups (and timeouts) on this
    lock_.acquire_restore(depth);
    return signalled;
}

void Condition::notify(int n) {
    if (!lock_.is_mine()) throw std::runtime_error("lock is not owned");
    auto& s = state_of<ConditionState>(block_);
    auto now = [] { return detail::Deadline{std::chrono::steady_clock::now()}; };
    // Sleepers that timed out since the last notify counted themselves in `woken`: forget them.
    while (sem_acquire(s.woken, now())) sem_acquire(s.sleeping, now());
    int sleepers = 0;
    while (sleepers < n && sem_acquire(s.sleeping, now())) {
        sem_release(s.wait, 1);
        ++sleepers;
    }
    if (sleepers > 0) {
        // Wait until each woken sleeper has left sem_acquire(wait) (they do not need our lock to).
        for (int i = 0; i < sleepers; ++i) sem_acquire(s.woken, std::nullopt);
        // A sleeper that timed out meanwhile left its wake-up unused: take it back.
        while (sem_acquire(s.wait, now())) {
        }
    }
}

void Condition::notify_all() { notify(INT_MAX); }

// ---- Barrier -------------------------------------------------------------------------------

Barrier::Barrier(int parties, std::optional<std::chrono::milliseconds> timeout)
    : SharedHandle(parties >= 1 ? detail::SharedBlock::create(sizeof(BarrierState))
                                : throw std::invalid_argument("Barrier: parties must be >= 1")) {
    auto* s = new (block_->data()) BarrierState{};
    s->parties = static_cast<std::uint32_t>(parties);
    s->default_timeout_ms = timeout ? timeout->count() : -1;
}
Barrier::Barrier(std::shared_ptr<detail::SharedBlock> block) : SharedHandle(std::move(block)) {
    state_of<BarrierState>(block_);
}

namespace {
// Ends the current round as broken (holding the mutex): its waiters throw.
void break_round(BarrierState& s) {
    s.broken_round = s.generation.load(std::memory_order_relaxed);
    s.count = 0;
    s.generation.fetch_add(1, std::memory_order_release);
    detail::shared_futex_wake(s.generation, INT_MAX);
}
struct BarrierGuard {
    BarrierState& s;
    explicit BarrierGuard(BarrierState& state) : s(state) { detail::shared_mutex_lock(s.mutex, std::nullopt); }
    ~BarrierGuard() { detail::shared_mutex_unlock(s.mutex); }
};
}  // namespace

int Barrier::wait() {
    auto& s = state_of<BarrierState>(block_);
    if (s.default_timeout_ms >= 0) return wait_until(detail::deadline_after(std::chrono::milliseconds(s.default_timeout_ms)));
    return wait_until(std::nullopt);
}

int Barrier::wait_until(detail::Deadline deadline) {
    auto& s = state_of<BarrierState>(block_);
    std::uint32_t round;
    int index;
    {
        BarrierGuard guard(s);
        if (s.broken != 0) throw BrokenBarrierError("barrier is broken");
        round = s.generation.load(std::memory_order_relaxed);
        index = static_cast<int>(s.count++);
        if (s.count == s.parties) {
            s.count = 0;
            s.generation.fetch_add(1, std::memory_order_release);
            detail::shared_futex_wake(s.generation, INT_MAX);
            return index;
        }
    }
    for (;;) {
        bool in_time = detail::shared_futex_wait(s.generation, round, deadline);
        BarrierGuard guard(s);
        if (s.generation.load(std::memory_order_acquire) != round) {
            if (s.broken_round == round) throw BrokenBarrierError("barrier was broken while waiting");
            return index;
        }
        if (!in_time) {  // our timeout breaks the barrier for everyone (Python's rule)
            s.broken = 1;
            break_round(s);
            throw BrokenBarrierError("barrier wait timed out");
        }
    }
}

void Barrier::reset() {
    auto& s = state_of<BarrierState>(block_);
    BarrierGuard guard(s);
    if (s.count > 0) break_round(s);
    s.broken = 0;
}

void Barrier::abort() {
    auto& s = state_of<BarrierState>(block_);
    BarrierGuard guard(s);
    s.broken = 1;
    break_round(s);
}

int Barrier::parties() const { return static_cast<int>(state_of<BarrierState>(block_).parties); }
int Barrier::n_waiting() const {
    auto& s = state_of<BarrierState>(block_);
    BarrierGuard guard(s);
    return static_cast<int>(s.count);
}
bool Barrier::broken() const {
    auto& s = state_of<BarrierState>(block_);
    BarrierGuard guard(s);
    return s.broken != 0;
}

}  // namespace nogil::multiprocessing
