// CPU-bound work on a ProcessPoolExecutor, the seed's second example: Collatz chain lengths
// computed in worker processes with map (chunks of items per task) and with submit, then checked
// against the same loop run here. Exits 1 if anything disagrees.
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <utility>
#include <vector>

namespace cf = nogil::concurrent::futures;

// A plain function with a serializable argument and result: what a process pool can run.
int collatz_steps(long n) {
    int steps = 0;
    while (n != 1) {
        n = n % 2 == 0 ? n / 2 : 3 * n + 1;
        ++steps;
    }
    return steps;
}

// The longest chain among the starts in [lo, hi): one task per range.
std::pair<long, int> longest_chain(long lo, long hi) {
    std::pair<long, int> best{lo, 0};
    for (long n = lo; n < hi; ++n) {
        int s = collatz_steps(n);
        if (s > best.second) best = {n, s};
    }
    return best;
}

int main() {
    std::vector<long> starts(200'000);
    std::iota(starts.begin(), starts.end(), 1);

    std::vector<int> steps;
    std::vector<std::pair<long, int>> bests;
    {
        cf::ProcessPoolExecutor executor;  // cpu_count() workers, the default start method
        // map: 2,000 items per task, results in order.
        for (int s : executor.map(collatz_steps, starts, cf::MapOptions{.chunksize = 2000})) steps.push_back(s);
        // submit: one future per range; the futures are ordinary concurrent::futures::Futures.
        std::vector<cf::Future<std::pair<long, int>>> futures;
        for (long lo = 1; lo <= 200'000; lo += 25'000) futures.push_back(executor.submit(longest_chain, lo, lo + 25'000));
        for (auto f : cf::as_completed(futures)) bests.push_back(f.result());
    }  // leaving the scope shuts the pool down and waits for the workers

    long total = 0;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        if (steps[i] != collatz_steps(starts[i])) {
            std::printf("mismatch at %ld\n", starts[i]);
            return 1;
        }
        total += steps[i];
    }
    auto best = *std::max_element(bests.begin(), bests.end(), [](auto& a, auto& b) { return a.second < b.second; });
    std::printf("%zu chains, %ld steps in all; longest below 200001 starts at %ld (%d steps)\n", steps.size(), total,
                best.first, best.second);
    return best.first == 156'159 && best.second == 382 ? 0 : 1;
}
