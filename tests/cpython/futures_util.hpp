#pragma once
// CPython's Lib/test/test_concurrent_futures/util.py, the parts the ported suites share: futures
// in each state util.py's create_future makes (PENDING_FUTURE, RUNNING_FUTURE, CANCELLED_FUTURE,
// EXCEPTION_FUTURE, SUCCESSFUL_FUTURE), built through the public executor-side calls, and list().
#include <nogil/concurrent/futures.hpp>
#include <nogil/errors.hpp>

#include <algorithm>
#include <cerrno>
#include <ranges>
#include <utility>
#include <vector>

namespace cpython_futures {

namespace cf = nogil::concurrent::futures;

inline cf::Future<int> pending_future() { return cf::Future<int>(); }
inline cf::Future<int> running_future() {
    cf::Future<int> f;
    f.set_running_or_notify_cancel();
    return f;
}
/// Python's CANCELLED_FUTURE and CANCELLED_AND_NOTIFIED_FUTURE: one state in nogil.
inline cf::Future<int> cancelled_future() {
    cf::Future<int> f;
    f.cancel();
    return f;
}
/// util.py: EXCEPTION_FUTURE holds OSError().
inline cf::Future<int> exception_future() {
    cf::Future<int> f;
    f.set_exception(std::make_exception_ptr(nogil::OSError(EIO)));
    return f;
}
inline cf::Future<int> successful_future() {
    cf::Future<int> f;
    f.set_result(42);
    return f;
}

/// Python's set equality for futures (wait() and as_completed() give no order).
inline bool same_set(const std::vector<cf::Future<int>>& a, const std::vector<cf::Future<int>>& b) {
    return a.size() == b.size() &&
           std::all_of(a.begin(), a.end(), [&](auto& f) { return std::find(b.begin(), b.end(), f) != b.end(); });
}

/// Python's list(iterable), for an input range such as map()'s results.
template <class Range>
auto to_vector(Range&& r) {
    std::vector<std::ranges::range_value_t<Range>> out;
    for (auto&& x : r) out.push_back(std::move(x));
    return out;
}

}  // namespace cpython_futures
