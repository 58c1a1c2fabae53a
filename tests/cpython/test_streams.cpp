// CPython's Lib/test/test_asyncio/test_streams.py (3.13), ported: StreamTests' StreamReader
// cases (a reader fed by hand with feed_data/feed_eof/set_exception). The connection cases
// (open_connection, start_server, the wrappers over real sockets) are covered by
// tests/asyncio_streams_test.cpp.
//
// Python's white-box look at `stream._buffer` becomes reading what is left (feed_eof, then
// read()).
//
// Not applicable in C++:
//   test_ctor_global_loop, test___repr__* - event loop policies and repr.
//   test_readuntil_bytearray - bytes are std::string (one type).
//   test_IncompleteReadError_pickleable, test_LimitOverrunError_pickleable - pickle.
//   test_streamreader_constructor_* - loop arguments.
#include "asyncio_cpython_testing.hpp"

#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <string>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::StreamReader;
using namespace std::chrono_literals;

namespace {

const std::string DATA = "line1\nline2\nline3\n";

/// A read as a coroutine, so that it can become a task.
template <class A>
Coroutine<std::string> do_read(A aw) {
    co_return co_await std::move(aw);
}

/// What is left in the buffer (Python's stream._buffer), read after feed_eof().
Coroutine<std::string> rest(StreamReader stream) {
    stream.feed_eof();
    co_return co_await stream.read();
}

// test_streams.py: StreamTests.test_feed_empty_data / test_feed_nonempty_data
TEST(StreamTests, test_feed_data) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("");
        EXPECT_EQ(co_await rest(stream), "");
        StreamReader stream2;
        stream2.feed_data(DATA);
        EXPECT_EQ(co_await rest(stream2), DATA);
    }());
}

// test_streams.py: StreamTests.test_read_zero
TEST(StreamTests, test_read_zero) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data(DATA);
        EXPECT_EQ(co_await stream.read(0), "");
        EXPECT_EQ(co_await rest(stream), DATA);
    }());
}

// test_streams.py: StreamTests.test_read
TEST(StreamTests, test_read) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        auto read_task = asyncio::create_task(do_read(stream.read(30)));
        asyncio::get_running_loop().call_soon([stream] { stream.feed_data(DATA); });
        EXPECT_EQ(co_await read_task, DATA);
        EXPECT_EQ(co_await rest(stream), "");
    }());
}

// test_streams.py: StreamTests.test_read_line_breaks
TEST(StreamTests, test_read_line_breaks) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("line1");
        stream.feed_data("line2");
        EXPECT_EQ(co_await stream.read(5), "line1");
        EXPECT_EQ(co_await rest(stream), "line2");
    }());
}

// test_streams.py: StreamTests.test_read_eof
TEST(StreamTests, test_read_eof) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        auto read_task = asyncio::create_task(do_read(stream.read(1024)));
        asyncio::get_running_loop().call_soon([stream] { stream.feed_eof(); });
        EXPECT_EQ(co_await read_task, "");
    }());
}

// test_streams.py: StreamTests.test_read_until_eof
TEST(StreamTests, test_read_until_eof) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        auto read_task = asyncio::create_task(do_read(stream.read(-1)));
        asyncio::get_running_loop().call_soon([stream] {
            stream.feed_data("chunk1\n");
            stream.feed_data("chunk2");
            stream.feed_eof();
        });
        EXPECT_EQ(co_await read_task, "chunk1\nchunk2");
    }());
}

// test_streams.py: StreamTests.test_read_exception
TEST(StreamTests, test_read_exception) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("line\n");
        EXPECT_EQ(co_await stream.read(2), "li");
        stream.set_exception(std::make_exception_ptr(std::invalid_argument("x")));
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.read(2))));
    }());
}

// test_streams.py: StreamTests.test_readline
TEST(StreamTests, test_readline) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("chunk1 ");
        auto read_task = asyncio::create_task(do_read(stream.readline()));
        asyncio::get_running_loop().call_soon([stream] {
            stream.feed_data("chunk2 ");
            stream.feed_data("chunk3 ");
            stream.feed_data("\n chunk4");
        });
        EXPECT_EQ(co_await read_task, "chunk1 chunk2 chunk3 \n");
        EXPECT_EQ(co_await rest(stream), " chunk4");
    }());
}

// test_streams.py: StreamTests.test_readline_limit_with_existing_data
TEST(StreamTests, test_readline_limit_with_existing_data) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream(3);
        stream.feed_data("li");
        stream.feed_data("ne1\nline2\n");
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.readline())));
        EXPECT_EQ(co_await rest(stream), "line2\n");  // the rest stays after the error

        StreamReader stream2(3);
        stream2.feed_data("li");
        stream2.feed_data("ne1");
        stream2.feed_data("li");
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream2.readline())));
        EXPECT_EQ(co_await rest(stream2), "");  // no "\n": all of it was consumed
    }());
}

// test_streams.py: StreamTests.test_at_eof
TEST(StreamTests, test_at_eof) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        EXPECT_FALSE(stream.at_eof());
        stream.feed_data("some data\n");
        EXPECT_FALSE(stream.at_eof());
        co_await stream.readline();
        EXPECT_FALSE(stream.at_eof());
        stream.feed_data("some data\n");
        stream.feed_eof();
        co_await stream.readline();
        EXPECT_TRUE(stream.at_eof());
    }());
}

// test_streams.py: StreamTests.test_readline_limit
TEST(StreamTests, test_readline_limit) {
    run_bounded([]() -> Coroutine<> {
        // A line longer than the limit, fed in chunks: ValueError, and the too long line is
        // dropped up to its end.
        StreamReader stream(7);
        asyncio::get_running_loop().call_soon([stream] {
            stream.feed_data("chunk1");
            stream.feed_data("chunk2\n");
            stream.feed_data("chunk3\n");
            stream.feed_eof();
        });
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.readline())));
        EXPECT_EQ(co_await stream.read(), "chunk3\n");

        StreamReader stream2(7);
        stream2.feed_data("1234567\n");
        EXPECT_EQ(co_await stream2.readline(), "1234567\n");
        stream2.feed_data("12345678\n");
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream2.readline())));
        EXPECT_EQ(co_await rest(stream2), "");
    }());
}

// test_streams.py: StreamTests.test_readline_nolimit_nowait
TEST(StreamTests, test_readline_nolimit_nowait) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data(DATA.substr(0, 6));
        stream.feed_data(DATA.substr(6));
        EXPECT_EQ(co_await stream.readline(), "line1\n");
        EXPECT_EQ(co_await rest(stream), "line2\nline3\n");
    }());
}

// test_streams.py: StreamTests.test_readline_eof / test_readline_empty_eof
TEST(StreamTests, test_readline_eof) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("some data");
        stream.feed_eof();
        EXPECT_EQ(co_await stream.readline(), "some data");
        StreamReader empty;
        empty.feed_eof();
        EXPECT_EQ(co_await empty.readline(), "");
    }());
}

// test_streams.py: StreamTests.test_readline_read_byte_count
TEST(StreamTests, test_readline_read_byte_count) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data(DATA);
        co_await stream.readline();
        EXPECT_EQ(co_await stream.read(7), "line2\nl");
        EXPECT_EQ(co_await rest(stream), "ine3\n");
    }());
}

// test_streams.py: StreamTests.test_readline_exception
TEST(StreamTests, test_readline_exception) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("line\n");
        EXPECT_EQ(co_await stream.readline(), "line\n");
        stream.set_exception(std::make_exception_ptr(std::invalid_argument("x")));
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.readline())));
    }());
}

// test_streams.py: StreamTests.test_readuntil_separator
TEST(StreamTests, test_readuntil_separator) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.readuntil(""))));
        // 3.13: a tuple of separators; an empty one inside it, an empty tuple (at the call here)
        std::vector<std::string> one_empty{""};
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.readuntil(one_empty))));
        EXPECT_THROW((void)stream.readuntil(std::vector<std::string>{}), std::invalid_argument);
    }());
}

// test_streams.py: StreamTests.test_readuntil_multi_separator (3.13)
TEST(StreamTests, test_readuntil_multi_separator) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        // Simple case
        stream.feed_data("line 1\nline 2\r");
        EXPECT_EQ(co_await stream.readuntil("\r", "\n"), "line 1\n");
        EXPECT_EQ(co_await stream.readuntil("\r", "\n"), "line 2\r");
        stream.feed_eof();
        EXPECT_EQ(co_await stream.read(), "");  // nothing left in the buffer
    }());
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        // First end position matches, even if that's a longer match
        stream.feed_data("ABCDEFG");
        EXPECT_EQ(co_await stream.readuntil("DEF", "BCDE"), "ABCDE");
        stream.feed_eof();
        EXPECT_EQ(co_await stream.read(), "FG");
    }());
}

// test_streams.py: StreamTests.test_readuntil_multi_separator_limit (3.13)
TEST(StreamTests, test_readuntil_multi_separator_limit) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream(3);
        stream.feed_data("some dataA");
        auto e = co_await outcome(stream.readuntil("A", "ome dataA"));
        const auto* overrun = as<asyncio::LimitOverrunError>(e);
        EXPECT_TRUE(overrun && std::string(overrun->what()).find("is found") != std::string::npos);
        stream.feed_eof();
        EXPECT_EQ(co_await stream.read(), "some dataA");  // left in the buffer
    }());
}

// test_streams.py: StreamTests.test_readuntil_multi_separator_negative_offset (3.13): a buffer
// big enough for the shortest separator but not the longest must not make the offset negative.
TEST(StreamTests, test_readuntil_multi_separator_negative_offset) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("data");
        auto readuntil_task = asyncio::create_task(
            [](StreamReader s) -> Coroutine<std::string> { co_return co_await s.readuntil("A", "long sep"); }(stream));
        auto& loop = asyncio::get_running_loop();
        loop.call_soon([stream] { stream.feed_data("Z"); });
        loop.call_soon([stream] { stream.feed_data("Aaaa"); });
        EXPECT_EQ(co_await readuntil_task, "dataZA");
        stream.feed_eof();
        EXPECT_EQ(co_await stream.read(), "aaa");
    }());
}

// test_streams.py: StreamTests.test_readuntil_multi_chunks
TEST(StreamTests, test_readuntil_multi_chunks) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("lineAAA");
        EXPECT_EQ(co_await stream.readuntil("AAA"), "lineAAA");
        stream.feed_data("lineAAA");
        EXPECT_EQ(co_await stream.readuntil("AAA"), "lineAAA");
        stream.feed_data("lineAAAxxx");
        EXPECT_EQ(co_await stream.readuntil("AAA"), "lineAAA");
        EXPECT_EQ(co_await rest(stream), "xxx");
    }());
}

// test_streams.py: StreamTests.test_readuntil_multi_chunks_1
TEST(StreamTests, test_readuntil_multi_chunks_1) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("QWEaa");
        stream.feed_data("XYaa");
        stream.feed_data("a");
        EXPECT_EQ(co_await stream.readuntil("aaa"), "QWEaaXYaaa");
        stream.feed_data("QWEaa");
        stream.feed_data("XYa");
        stream.feed_data("aa");
        EXPECT_EQ(co_await stream.readuntil("aaa"), "QWEaaXYaaa");
        stream.feed_data("aaa");
        EXPECT_EQ(co_await stream.readuntil("aaa"), "aaa");
        stream.feed_data("Xaaa");
        EXPECT_EQ(co_await stream.readuntil("aaa"), "Xaaa");
        stream.feed_data("XXX");
        stream.feed_data("a");
        stream.feed_data("a");
        stream.feed_data("a");
        EXPECT_EQ(co_await stream.readuntil("aaa"), "XXXaaa");
        EXPECT_EQ(co_await rest(stream), "");
    }());
}

// test_streams.py: StreamTests.test_readuntil_eof
TEST(StreamTests, test_readuntil_eof) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("some dataAA");
        stream.feed_eof();
        auto e = co_await outcome(stream.readuntil("AAA"));
        const auto* incomplete = as<asyncio::IncompleteReadError>(e);
        CO_ASSERT_TRUE(incomplete);
        EXPECT_NE(std::string(incomplete->what()).find("undefined expected bytes"), std::string::npos);
        EXPECT_EQ(incomplete->partial, "some dataAA");
        EXPECT_FALSE(incomplete->expected.has_value());
        EXPECT_EQ(co_await stream.read(), "");
    }());
}

// test_streams.py: StreamTests.test_readuntil_limit_found_sep
TEST(StreamTests, test_readuntil_limit_found_sep) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream(3);
        stream.feed_data("some dataAA");
        auto e = co_await outcome(stream.readuntil("AAA"));
        const auto* overrun = as<asyncio::LimitOverrunError>(e);
        CO_ASSERT_TRUE(overrun);
        EXPECT_NE(std::string(overrun->what()).find("not found"), std::string::npos);
        stream.feed_data("A");
        auto e2 = co_await outcome(stream.readuntil("AAA"));
        const auto* overrun2 = as<asyncio::LimitOverrunError>(e2);
        CO_ASSERT_TRUE(overrun2);
        EXPECT_NE(std::string(overrun2->what()).find("is found"), std::string::npos);
        EXPECT_EQ(co_await rest(stream), "some dataAAA");  // nothing consumed
    }());
}

// test_streams.py: StreamTests.test_readexactly_zero_or_less
TEST(StreamTests, test_readexactly_zero_or_less) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data(DATA);
        EXPECT_EQ(co_await stream.readexactly(0), "");
        EXPECT_THROW((void)stream.readexactly(-1), std::invalid_argument);
        EXPECT_EQ(co_await rest(stream), DATA);
    }());
}

// test_streams.py: StreamTests.test_readexactly
TEST(StreamTests, test_readexactly) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        const auto n = static_cast<std::ptrdiff_t>(2 * DATA.size());
        auto read_task = asyncio::create_task(do_read(stream.readexactly(n)));
        asyncio::get_running_loop().call_soon([stream] {
            stream.feed_data(DATA);
            stream.feed_data(DATA);
            stream.feed_data(DATA);
        });
        EXPECT_EQ(co_await read_task, DATA + DATA);
        EXPECT_EQ(co_await rest(stream), DATA);
    }());
}

// test_streams.py: StreamTests.test_readexactly_limit
TEST(StreamTests, test_readexactly_limit) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream(3);
        const auto n = static_cast<std::ptrdiff_t>(2 * DATA.size());
        auto read_task = asyncio::create_task(do_read(stream.readexactly(n)));
        asyncio::get_running_loop().call_soon([stream] {
            stream.feed_data(DATA);
            stream.feed_data(DATA);
            stream.feed_data(DATA);
        });
        EXPECT_EQ(co_await read_task, DATA + DATA);
        EXPECT_EQ(co_await rest(stream), DATA);
    }());
}

// test_streams.py: StreamTests.test_readexactly_eof
TEST(StreamTests, test_readexactly_eof) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        const auto n = 2 * DATA.size();
        auto read_task = asyncio::create_task(do_read(stream.readexactly(static_cast<std::ptrdiff_t>(n))));
        asyncio::get_running_loop().call_soon([stream] {
            stream.feed_data(DATA);
            stream.feed_eof();
        });
        auto e = co_await outcome(read_task);
        const auto* incomplete = as<asyncio::IncompleteReadError>(e);
        CO_ASSERT_TRUE(incomplete);
        EXPECT_EQ(incomplete->partial, DATA);
        EXPECT_EQ(incomplete->expected, n);
        EXPECT_STREQ(incomplete->what(), "18 bytes read on a total of 36 expected bytes");
        EXPECT_EQ(co_await stream.read(), "");
    }());
}

// test_streams.py: StreamTests.test_readexactly_exception
TEST(StreamTests, test_readexactly_exception) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        stream.feed_data("line\n");
        EXPECT_EQ(co_await stream.readexactly(2), "li");
        stream.set_exception(std::make_exception_ptr(std::invalid_argument("x")));
        EXPECT_TRUE(as<std::invalid_argument>(co_await outcome(stream.readexactly(2))));
    }());
}

// test_streams.py: StreamTests.test_exception
TEST(StreamTests, test_exception) {
    StreamReader stream;
    EXPECT_EQ(stream.exception(), nullptr);
    auto exc = std::make_exception_ptr(std::invalid_argument("x"));
    stream.set_exception(exc);
    EXPECT_EQ(stream.exception(), exc);
}

// test_streams.py: StreamTests.test_exception_waiter
TEST(StreamTests, test_exception_waiter) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        auto set_err = [](StreamReader s) -> Coroutine<> {
            s.set_exception(std::make_exception_ptr(std::invalid_argument("x")));
            co_return;
        };
        auto t1 = asyncio::create_task(do_read(stream.readline()));
        auto t2 = asyncio::create_task(set_err(stream));
        auto both = std::vector<asyncio::Task<>>{t1, t2};
        co_await asyncio::wait(both);
        EXPECT_THROW((void)t1.result(), std::invalid_argument);
    }());
}

// test_streams.py: StreamTests.test_exception_cancel - set_exception after the waiting read was
// cancelled must not touch the gone waiter; the stream keeps working.
TEST(StreamTests, test_exception_cancel) {
    run_bounded([]() -> Coroutine<> {
        StreamReader stream;
        auto t = asyncio::create_task(do_read(stream.readline()));
        co_await asyncio::sleep(0);
        t.cancel();
        co_await asyncio::sleep(0);
        stream.set_exception(std::make_exception_ptr(std::runtime_error("message")));
        co_await asyncio::sleep(0);
        EXPECT_TRUE(t.cancelled());
        EXPECT_TRUE(as<std::runtime_error>(co_await outcome(stream.readline())));
    }());
}

}  // namespace
