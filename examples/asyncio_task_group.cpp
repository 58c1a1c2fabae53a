// Structured concurrency: a TaskGroup waits for its children; the first failure cancels the rest.
#include <nogil/asyncio.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

asyncio::Coroutine<int> work(int id, std::chrono::milliseconds d) {
    co_await asyncio::sleep(d);
    co_return id * 10;
}

asyncio::Coroutine<int> broken() {
    co_await asyncio::sleep(5ms);
    throw std::runtime_error("disk full");
}

asyncio::Coroutine<> main_() {
    asyncio::Task<int> a, b;
    auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
        a = tg.create_task(work(1, 5ms));
        b = tg.create_task(work(2, 10ms));
        co_return;
    };
    co_await asyncio::TaskGroup::run(body);  // both are done here
    std::printf("results: %d %d\n", a.result(), b.result());

    auto failing = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
        a = tg.create_task(work(3, 1h));  // cancelled by the failure below
        tg.create_task(broken());
        co_return;
    };
    try {
        co_await asyncio::TaskGroup::run(failing);
    } catch (const asyncio::ExceptionGroup& eg) {
        try {
            std::rethrow_exception(eg.exceptions().front());
        } catch (const std::exception& e) {
            std::printf("%s: %s; sibling cancelled: %s\n", eg.what(), e.what(), a.cancelled() ? "yes" : "no");
        }
    }
}

int main() { asyncio::run(main_()); }
