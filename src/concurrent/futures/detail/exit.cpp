// Executors at program exit: the protocol is at the top of exit.hpp.

#include "concurrent/futures/detail/exit.hpp"

#include "threading/detail/atexit.hpp"

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace nogil::concurrent::futures::detail {
namespace {

void python_exit();

// Never destroyed: the hook runs during exit, after some static destructors.
struct Registry {
    std::mutex mutex;
    std::vector<std::weak_ptr<ExitParticipant>> cores;  // guarded by mutex; expired ones pruned on add
    std::atomic<bool> exiting{false};                   // set once, under mutex
};

Registry& registry() {
    static Registry* const instance = [] {
        auto* r = new Registry;
        // A forked child has none of the parent's workers: it forgets their cores, and the lock
        // is held across fork() so the child never inherits it held by a thread that is gone.
        ::pthread_atfork([] { registry().mutex.lock(); }, [] { registry().mutex.unlock(); },
                         [] {
                             registry().cores.clear();
                             registry().mutex.unlock();
                         });
        try {
            threading::detail::register_atexit(python_exit);
        } catch (const std::runtime_error&) {  // the first executor is made while the program exits
            r->exiting.store(true, std::memory_order_release);
        }
        return r;
    }();
    return *instance;
}

// Python's _python_exit.
void python_exit() {
    std::vector<std::shared_ptr<ExitParticipant>> alive;
    {
        Registry& r = registry();
        std::lock_guard guard(r.mutex);  // step 1
        r.exiting.store(true, std::memory_order_release);
        for (auto& weak : r.cores)
            if (auto core = weak.lock()) alive.push_back(std::move(core));
        r.cores.clear();
    }
    for (auto& core : alive) core->shutdown_at_exit();  // step 2
}

}  // namespace

bool exiting() noexcept { return registry().exiting.load(std::memory_order_acquire); }

bool register_for_exit(std::weak_ptr<ExitParticipant> core) {
    Registry& r = registry();
    std::lock_guard guard(r.mutex);
    if (r.exiting.load(std::memory_order_relaxed)) return false;
    std::erase_if(r.cores, [](const auto& weak) { return weak.expired(); });
    r.cores.push_back(std::move(core));
    return true;
}

}  // namespace nogil::concurrent::futures::detail
