#pragma once
// Helpers for the ports of CPython's Lib/test/test_asyncio/ (tests/cpython/test_*.cpp).
//
// Python's test names the exception types it expects (ZeroDivisionError, MyExc, a BaseException
// that is not an Exception); these are their C++ stand-ins, and `outcome(aw)` is
// `with self.assertRaises(...) as cm: await aw` - the exception the await ended with, or null.

#include "asyncio_testing.hpp"

#include <nogil/asyncio.hpp>

#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

/// Python's ZeroDivisionError (what `1 / 0` raises in the CPython tests).
struct ZeroDivisionError : std::runtime_error {
    ZeroDivisionError() : std::runtime_error("division by zero") {}
};
/// The tests' `class MyExc(Exception)`.
struct MyExc : std::runtime_error {
    MyExc() : std::runtime_error("MyExc") {}
};
/// The tests' `class MyBaseExc(BaseException)`: in C++, an exception outside std::exception.
struct MyBaseExc {};

/// The exception awaiting `aw` ended with, or null if it completed.
template <class A>
nogil::asyncio::Coroutine<std::exception_ptr> outcome(A aw) {
    try {
        co_await std::move(aw);
    } catch (...) {
        co_return std::current_exception();
    }
    co_return nullptr;
}

/// The exception in `e` as an E, or null (valid while `e` lives).
template <class E>
const E* as(const std::exception_ptr& e) {
    if (!e) return nullptr;
    try {
        std::rethrow_exception(e);
    } catch (const E& x) {
        return &x;
    } catch (...) {
        return nullptr;
    }
}

/// A name for the type of `e`, among the types these tests use (Python's type(exc)).
inline std::string type_name(const std::exception_ptr& e) {
    if (!e) return "None";
    try {
        std::rethrow_exception(e);
    } catch (const nogil::ExceptionGroup&) {
        return "ExceptionGroup";
    } catch (const nogil::CancelledError&) {
        return "CancelledError";
    } catch (const nogil::TimeoutError&) {
        return "TimeoutError";
    } catch (const nogil::KeyboardInterrupt&) {
        return "KeyboardInterrupt";
    } catch (const nogil::SystemExit&) {
        return "SystemExit";
    } catch (const ZeroDivisionError&) {
        return "ZeroDivisionError";
    } catch (const MyExc&) {
        return "MyExc";
    } catch (const MyBaseExc&) {
        return "MyBaseExc";
    } catch (const std::invalid_argument&) {
        return "ValueError";
    } catch (const std::logic_error&) {
        return "TypeError";
    } catch (const std::runtime_error&) {
        return "RuntimeError";
    } catch (...) {
        return "other";
    }
}

/// Python's get_error_types(eg): the set of the group's exception types.
inline std::set<std::string> error_types(const std::exception_ptr& group) {
    std::set<std::string> out;
    if (const auto* eg = as<nogil::ExceptionGroup>(group))
        for (const auto& e : eg->exceptions()) out.insert(type_name(e));
    return out;
}

using Types = std::set<std::string>;

}  // namespace
