// Deadlines and cancellation: wait_for, timeout, shield (asyncio's cancellation model).
#include <nogil/asyncio.hpp>

#include <chrono>
#include <cstdio>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

asyncio::Coroutine<int> slow_answer() {
    try {
        co_await asyncio::sleep(10s);
    } catch (const asyncio::CancelledError&) {
        std::printf("slow_answer: cancelled, cleaning up\n");
        throw;  // let the cancellation go on
    }
    co_return 42;
}

asyncio::Coroutine<int> quick_answer() {
    co_await asyncio::sleep(5ms);
    co_return 7;
}

asyncio::Coroutine<> main_() {
    // wait_for: on timeout the inner coroutine is cancelled and finished before TimeoutError.
    try {
        co_await asyncio::wait_for(slow_answer(), 20ms);
    } catch (const asyncio::TimeoutError&) {
        std::printf("wait_for: timed out\n");
    }

    // timeout: a deadline for a block of this task; the Timeout object can be rescheduled.
    auto cm = asyncio::timeout(1s);
    int v = co_await cm.run(quick_answer());
    std::printf("timeout block returned %d, expired: %s\n", v, cm.expired() ? "yes" : "no");

    // shield: the awaiter gives up, the shielded task keeps running.
    auto precious = asyncio::create_task(quick_answer());
    try {
        co_await asyncio::wait_for(asyncio::shield(precious), 1ms);
    } catch (const asyncio::TimeoutError&) {
        std::printf("shield: gave up waiting, task still running: %s\n", precious.done() ? "no" : "yes");
    }
    std::printf("shielded task result: %d\n", co_await precious);
}

int main() { asyncio::run(main_()); }
