// Exceptions thrown in a child reach the parent with their type (standard and registered ones)
// or as RemoteError naming it — never as silence.
#include "multiprocessing_test_support.hpp"

namespace mp = nogil::multiprocessing;
using namespace mp_test;

namespace app {
struct ParseError : std::runtime_error {
    explicit ParseError(const std::string& m) : std::runtime_error(m) {}
};
struct Unregistered : std::logic_error {
    explicit Unregistered(const std::string& m) : std::logic_error(m) {}
};
}  // namespace app

namespace {

int throw_kind(std::string kind) {
    if (kind == "invalid_argument") throw std::invalid_argument("bad arg");
    if (kind == "out_of_range") throw std::out_of_range("too far");
    if (kind == "logic_error") throw std::logic_error("illogical");
    if (kind == "runtime_error") throw std::runtime_error("at run time");
    if (kind == "overflow_error") throw std::overflow_error("overflowed");
    if (kind == "timeout") throw nogil::TimeoutError("slow");
    if (kind == "parse") throw app::ParseError("line 3");
    if (kind == "unregistered") throw app::Unregistered("nobody knows me");
    if (kind == "int") throw 42;
    return 0;
}

template <class E>
std::string expect_throws(mp::Pool& pool, const std::string& kind) {
    try {
        pool.apply(throw_kind, kind);
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << kind << ": wrong type, what() = " << e.what();
    }
    ADD_FAILURE() << kind << ": nothing thrown";
    return {};
}

class RemoteExceptions : public ChildrenTest {};

TEST_F(RemoteExceptions, StandardTypesKeepTheirTypeAndMessage) {
    mp::Pool pool(1);
    EXPECT_EQ(expect_throws<std::invalid_argument>(pool, "invalid_argument"), "bad arg");
    EXPECT_EQ(expect_throws<std::out_of_range>(pool, "out_of_range"), "too far");
    EXPECT_EQ(expect_throws<std::overflow_error>(pool, "overflow_error"), "overflowed");
    EXPECT_EQ(expect_throws<nogil::TimeoutError>(pool, "timeout"), "slow");
    // Exactly the thrown type, not merely a base of it.
    try {
        pool.apply(throw_kind, std::string("logic_error"));
    } catch (const std::invalid_argument&) {
        ADD_FAILURE() << "a logic_error must not become an invalid_argument";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "illogical");
    }
    EXPECT_EQ(expect_throws<std::runtime_error>(pool, "runtime_error"), "at run time");
}

TEST_F(RemoteExceptions, RegisteredUserTypeKeepsItsType) {
    mp::register_exception<app::ParseError>();
    mp::Pool pool(1);
    EXPECT_EQ(expect_throws<app::ParseError>(pool, "parse"), "line 3");
}

TEST_F(RemoteExceptions, UnknownTypesArriveAsRemoteError) {
    mp::Pool pool(1);
    try {
        pool.apply(throw_kind, std::string("unregistered"));
        ADD_FAILURE() << "nothing thrown";
    } catch (const mp::RemoteError& e) {
        EXPECT_EQ(e.type_name(), "app::Unregistered");
        EXPECT_EQ(e.message(), "nobody knows me");
        EXPECT_NE(e.process().find("PoolWorker-"), std::string::npos) << e.process();
        EXPECT_NE(std::string(e.what()).find("app::Unregistered"), std::string::npos);
    }
    try {
        pool.apply(throw_kind, std::string("int"));
        ADD_FAILURE() << "nothing thrown";
    } catch (const mp::RemoteError& e) {
        EXPECT_EQ(e.type_name(), "int");
    }
    EXPECT_EQ(pool.apply(throw_kind, std::string("none")), 0);  // the worker survived all that
}

}  // namespace
