#include <nogil/threading/local.hpp>
#include <nogil/threading/lock.hpp>

#include <mutex>
#include <unordered_map>

namespace nogil::threading::detail {

namespace {

struct OwnedValue {
    void* value;
    void (*destroy)(void*);
};

// Taken before any ThreadSlots::mutex. Constant-initialised and trivially destructible, so it
// outlives every static local<T> and every thread.
constinit Lock locals_lock;

}  // namespace

// One thread's values, keyed by their local. Its mutex is taken by the owning thread on every
// get() (uncontended) and by another thread only when a local is destroyed.
struct ThreadSlots {
    Lock mutex;
    std::unordered_map<LocalBase*, OwnedValue> values;
    ~ThreadSlots() { release_thread_locals(); }
};

namespace {
thread_local ThreadSlots this_thread_slots;
}  // namespace

void* LocalBase::find() noexcept {
    ThreadSlots& mine = this_thread_slots;
    std::scoped_lock guard(mine.mutex);
    auto it = mine.values.find(this);
    return it == mine.values.end() ? nullptr : it->second.value;
}

void LocalBase::insert(void* value, void (*destroy)(void*)) {
    ThreadSlots& mine = this_thread_slots;
    std::scoped_lock guard(locals_lock);
    threads_.reserve(threads_.size() + 1);  // so the push_back below cannot throw
    {
        std::scoped_lock slots_guard(mine.mutex);
        mine.values.emplace(this, OwnedValue{value, destroy});
    }
    threads_.push_back(&mine);
}

LocalBase::~LocalBase() {
    std::vector<OwnedValue> doomed;
    {
        std::scoped_lock guard(locals_lock);
        doomed.reserve(threads_.size());
        for (ThreadSlots* slots : threads_) {
            std::scoped_lock slots_guard(slots->mutex);
            auto it = slots->values.find(this);
            doomed.push_back(it->second);
            slots->values.erase(it);
        }
    }
    // Outside the locks: a value's destructor may itself use a local.
    for (auto& owned : doomed) owned.destroy(owned.value);
}

void release_thread_locals() noexcept {
    ThreadSlots& mine = this_thread_slots;
    for (;;) {
        std::vector<OwnedValue> doomed;
        {
            std::scoped_lock guard(locals_lock);
            std::scoped_lock slots_guard(mine.mutex);
            doomed.reserve(mine.values.size());
            for (auto& [key, owned] : mine.values) {
                std::erase(key->threads_, &mine);
                doomed.push_back(owned);
            }
            mine.values.clear();
        }
        if (doomed.empty()) return;
        for (auto& owned : doomed) owned.destroy(owned.value);
    }
}

}  // namespace nogil::threading::detail
