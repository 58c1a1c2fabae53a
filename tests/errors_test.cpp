#include <nogil/errors.hpp>

#include <gtest/gtest.h>

#include <type_traits>

namespace {

TEST(Errors, PythonHierarchy) {
    static_assert(std::is_base_of_v<std::exception, nogil::CancelledError>);
    static_assert(std::is_base_of_v<nogil::BrokenExecutor, nogil::BrokenThreadPool>);
    static_assert(std::is_base_of_v<nogil::BrokenExecutor, nogil::BrokenProcessPool>);
    static_assert(std::is_base_of_v<std::runtime_error, nogil::BrokenExecutor>);
    static_assert(std::is_same_v<nogil::concurrent::futures::TimeoutError, nogil::asyncio::TimeoutError>);
    static_assert(std::is_same_v<nogil::threading::BrokenBarrierError, nogil::BrokenBarrierError>);
    SUCCEED();
}

TEST(Errors, CancelledErrorCarriesMessage) {
    nogil::CancelledError e("stop now");
    EXPECT_STREQ(e.what(), "stop now");
    EXPECT_EQ(e.message(), "stop now");
    EXPECT_STREQ(nogil::CancelledError().what(), "");
}

TEST(Errors, ExceptionGroupCountsItsExceptions) {
    std::vector<std::exception_ptr> two{std::make_exception_ptr(std::runtime_error("a")),
                                        std::make_exception_ptr(std::logic_error("b"))};
    nogil::ExceptionGroup g("unhandled errors in a TaskGroup", two);
    EXPECT_STREQ(g.what(), "unhandled errors in a TaskGroup (2 sub-exceptions)");
    EXPECT_EQ(g.exceptions().size(), 2u);
    EXPECT_THROW(nogil::ExceptionGroup("empty", {}), std::invalid_argument);
    nogil::ExceptionGroup one("x", {two[0]});
    EXPECT_STREQ(one.what(), "x (1 sub-exception)");
}

TEST(Errors, IncompleteReadErrorKeepsPartialBytes) {
    nogil::asyncio::IncompleteReadError e("abc", 10);
    EXPECT_EQ(e.partial, "abc");
    EXPECT_EQ(e.expected, 10u);
    EXPECT_STREQ(e.what(), "3 bytes read on a total of 10 expected bytes");
    nogil::asyncio::IncompleteReadError u("", std::nullopt);
    EXPECT_STREQ(u.what(), "0 bytes read on a total of undefined expected bytes");
}

TEST(Errors, OSErrorCarriesErrno) {
    nogil::OSError e(ECONNRESET, "recv");
    EXPECT_EQ(e.code().value(), ECONNRESET);
}

}  // namespace
