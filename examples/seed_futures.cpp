// The seed's concurrent.futures example, as the README shows it (the lines between the
// "README seed-futures" markers are the README's block; tests/readme/check_readme.py keeps the two
// equal). fetch and cpu_heavy_fn stand in for a download and a CPU-bound kernel.
// README seed-futures {
#include <nogil/concurrent/futures.hpp>
namespace cf = nogil::concurrent::futures;
// README seed-futures }

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

std::string fetch(std::string url) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // stands in for network I/O
    return "<html>" + url + "</html>";
}

long cpu_heavy_fn(int n) {  // a plain function, so that a process pool can name it
    long x = n;
    for (int i = 0; i < 200000; ++i) x = (x * 1103515245 + 12345) % 2147483648;
    return x;
}

int main() {
    std::vector<std::string> urls;
    for (int i = 0; i < 20; ++i) urls.push_back("http://127.0.0.1/" + std::to_string(i));
    std::vector<int> items;
    for (int i = 0; i < 64; ++i) items.push_back(i);
    std::vector<std::string> pages;
    std::vector<long> threaded, processed;
    {
        auto& results = pages;
        // README seed-futures {

        // I/O-bound
        {
            cf::ThreadPoolExecutor executor(10);
            std::vector<cf::Future<std::string>> futures;
            for (const auto& url : urls) futures.push_back(executor.submit(fetch, url));
            for (auto& f : futures) results.push_back(f.result());
        }   // leaving the scope shuts the pool down and joins it, as Python's `with` does
        // README seed-futures }
    }
    {
        auto& results = threaded;
        // README seed-futures {

        // CPU-bound: no GIL, so a thread pool runs on every core
        {
            cf::ThreadPoolExecutor executor;
            for (auto r : executor.map(cpu_heavy_fn, items)) results.push_back(r);
        }
        // README seed-futures }
    }
    {
        auto& results = processed;
        // README seed-futures {

        // CPU-bound in separate processes (isolation: a crash or a leak stays in the worker);
        // cpu_heavy_fn is a plain function, its arguments and results cross by serialization
        {
            cf::ProcessPoolExecutor executor;
            for (auto r : executor.map(cpu_heavy_fn, items, {.chunksize = 256})) results.push_back(r);
        }
        // README seed-futures }
    }
    // The three blocks computed the same things the serial way would.
    bool ok = pages.size() == urls.size() && pages[3] == fetch(urls[3]) && threaded.size() == items.size() &&
              threaded == processed;
    for (std::size_t i = 0; ok && i < items.size(); ++i) ok = threaded[i] == cpu_heavy_fn(items[i]);
    std::printf("%zu pages, %zu results from threads, %zu from processes: %s\n", pages.size(), threaded.size(),
                processed.size(), ok ? "all correct" : "WRONG");
    return ok ? 0 : 1;
}
