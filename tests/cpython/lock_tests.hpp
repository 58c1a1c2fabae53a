#pragma once
// CPython's Lib/test/lock_tests.py helper Bunch: n threads running f, all joined before return.
#include <thread>
#include <vector>

namespace cpython_lock_tests {

template <class F>
void bunch(int n, F f) {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back(f);
    for (auto& t : threads) t.join();
}

}  // namespace cpython_lock_tests
