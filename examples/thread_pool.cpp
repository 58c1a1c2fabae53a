// The seed's two concurrent.futures patterns, on a ThreadPoolExecutor:
//   I/O-bound: submit one call per "URL" and collect the futures' results;
//   CPU-bound: map a pure function over items; with no GIL the threads run on every core.
#include <nogil/concurrent/futures.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace cf = nogil::concurrent::futures;
using namespace std::chrono_literals;

// Stands in for a network fetch: the thread waits (as on a socket), then returns a body.
std::string fetch(const std::string& url) {
    std::this_thread::sleep_for(20ms);
    return "<html>" + url + "</html>";
}

// A CPU-bound function: counts primes below n by trial division.
int count_primes(int n) {
    int count = 0;
    for (int k = 2; k < n; ++k) {
        bool prime = true;
        for (int d = 2; d * d <= k; ++d) {
            if (k % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime;
    }
    return count;
}

int main() {
    std::vector<std::string> urls;
    for (int i = 0; i < 20; ++i) urls.push_back("http://example.test/page" + std::to_string(i));

    // I/O-bound: 20 waits of 20 ms on 10 threads take about 40 ms, not 400 ms.
    auto start = std::chrono::steady_clock::now();
    std::vector<std::string> pages;
    {
        cf::ThreadPoolExecutor executor(10);
        std::vector<cf::Future<std::string>> futures;
        for (const auto& url : urls) futures.push_back(executor.submit(fetch, url));
        for (auto& f : futures) pages.push_back(f.result());
    }  // leaving the scope shuts the pool down and joins it (Python's `with`)
    auto io_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("fetched %zu pages in %.0f ms on 10 threads\n", pages.size(), io_ms);

    // CPU-bound: map in order; results arrive as a lazy range.
    std::vector<int> limits{20'000, 40'000, 60'000, 80'000};
    {
        cf::ThreadPoolExecutor executor;
        for (int primes : executor.map(count_primes, limits)) std::printf("primes: %d\n", primes);
    }

    // First finished first: as_completed over futures.
    {
        cf::ThreadPoolExecutor executor(4);
        std::vector<cf::Future<int>> futures;
        for (int n : limits) futures.push_back(executor.submit(count_primes, n));
        int total = 0;
        for (auto f : cf::as_completed(futures)) total += f.result();
        std::printf("total primes over all limits: %d\n", total);
        return (pages.size() == urls.size() && total == 2262 + 4203 + 6057 + 7837) ? 0 : 1;
    }
}
