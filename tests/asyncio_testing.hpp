#pragma once
// Helpers shared by the asyncio tests (each test file is its own program, so these live in an
// unnamed namespace, like the helpers each file used to define for itself).

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

/// ASSERT_TRUE for a coroutine body (gtest's ASSERT_* `return`, which a coroutine cannot).
#define CO_ASSERT_TRUE(cond)                           \
    do {                                               \
        if (!(cond)) {                                 \
            ADD_FAILURE() << "expected true: " #cond; \
            co_return;                                 \
        }                                              \
    } while (false)

namespace {

/// Runs `body` as nogil::asyncio::run does, under a deadline, so that a broken test fails with
/// TimeoutError instead of hanging.
template <class T>
T run_bounded(nogil::asyncio::Coroutine<T> body, std::chrono::seconds limit = std::chrono::seconds(30)) {
    return nogil::asyncio::run(nogil::asyncio::timeout(limit, std::move(body)));
}

/// Sleeps `d`, then gives `v`.
inline nogil::asyncio::Coroutine<int> sleep_then(std::chrono::milliseconds d, int v) {
    co_await nogil::asyncio::sleep(d);
    co_return v;
}

/// The exception the helpers throw: a type no library code throws.
struct Boom : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Sleeps `d`, then throws Boom(what).
inline nogil::asyncio::Coroutine<int> fail_after(std::chrono::milliseconds d, std::string what = "boom") {
    co_await nogil::asyncio::sleep(d);
    throw Boom(what);
}

}  // namespace
