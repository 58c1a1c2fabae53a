// Producers and consumers over an asyncio::Queue, with a Lock around shared output, a
// Semaphore bounding concurrent "downloads", and join()/shutdown() to finish cleanly.
// Python equivalent: the asyncio.Queue example in the Python docs.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/locks.hpp>
#include <nogil/asyncio/queues.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

struct Shared {
    asyncio::Queue<std::string> jobs{4};  // bounded: producers wait when consumers fall behind
    asyncio::Semaphore slots{2};          // at most two jobs "in flight"
    asyncio::Lock log_lock;
    std::vector<std::string> log;
};

asyncio::Coroutine<> producer(Shared* s, std::string name, int count) {
    for (int i = 0; i < count; ++i) co_await s->jobs.put(name + "-" + std::to_string(i));
}

asyncio::Coroutine<> consumer(Shared* s) {
    for (;;) {
        std::string job;
        try {
            job = co_await s->jobs.get();
        } catch (const asyncio::QueueShutDown&) {
            co_return;  // no more work
        }
        {
            auto slot = co_await s->slots.scoped();  // `async with slots:`
            co_await asyncio::sleep(1ms);            // the "download"
        }
        {
            auto guard = co_await s->log_lock.scoped();  // `async with log_lock:`
            s->log.push_back(job);
        }
        s->jobs.task_done();
    }
}

asyncio::Coroutine<int> main_() {
    Shared s;
    std::vector<asyncio::Task<>> consumers;
    for (int i = 0; i < 3; ++i) consumers.push_back(asyncio::create_task(consumer(&s)));
    auto a = asyncio::create_task(producer(&s, "a", 5));
    auto b = asyncio::create_task(producer(&s, "b", 5));
    co_await a;
    co_await b;
    co_await s.jobs.join();  // every job processed
    s.jobs.shutdown();       // consumers see QueueShutDown and return
    for (auto& c : consumers) co_await c;
    std::printf("processed %zu jobs\n", s.log.size());
    co_return s.log.size() == 10 ? 0 : 1;
}

int main() { return asyncio::run(main_()); }
