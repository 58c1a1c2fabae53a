// Run coroutines concurrently and collect their results in order (asyncio.gather).
#include <nogil/asyncio.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

asyncio::Coroutine<std::string> fetch(std::string name, std::chrono::milliseconds latency) {
    co_await asyncio::sleep(latency);  // stands in for network I/O
    co_return "data from " + name;
}

asyncio::Coroutine<int> main_() {
    // A tuple for a fixed set of awaitables...
    auto [a, b] = co_await asyncio::gather(fetch("a", 20ms), fetch("b", 10ms));
    std::printf("%s, %s\n", a.c_str(), b.c_str());

    // ...a vector for a range. All run at once: about 30 ms in total, not 30 * 10.
    std::vector<asyncio::Coroutine<std::string>> many;
    for (int i = 0; i < 10; ++i) many.push_back(fetch("host" + std::to_string(i), 30ms));
    auto start = std::chrono::steady_clock::now();
    std::vector<std::string> all = co_await asyncio::gather(std::move(many));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::printf("%zu results in %lld ms, first: %s\n", all.size(), static_cast<long long>(ms.count()), all[0].c_str());
    co_return 0;
}

int main() { return asyncio::run(main_()); }
