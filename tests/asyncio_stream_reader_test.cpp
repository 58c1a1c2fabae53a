// StreamReader fed by hand (feed_data / feed_eof / set_exception): Python's read semantics.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/stream_reader.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

TEST(AsyncioStreamReader, ReadReturnsWhatIsBufferedUpToN) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        r.feed_data("hello world");
        EXPECT_EQ(co_await r.read(5), "hello");
        EXPECT_EQ(co_await r.read(100), " world");
        EXPECT_EQ(co_await r.read(0), "");
        r.feed_eof();
        EXPECT_EQ(co_await r.read(10), "");
        EXPECT_TRUE(r.at_eof());
    }());
}

TEST(AsyncioStreamReader, ReadWaitsForData) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        auto feeder = [](asyncio::StreamReader r) -> asyncio::Coroutine<> {
            co_await asyncio::sleep(0);
            r.feed_data("abc");
        };
        auto t = asyncio::create_task(feeder(r));
        EXPECT_EQ(co_await r.read(10), "abc");
        co_await t;
    }());
}

TEST(AsyncioStreamReader, ReadAllGathersUntilEof) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r(4);
        auto feeder = [](asyncio::StreamReader r) -> asyncio::Coroutine<> {
            for (int i = 0; i < 10; ++i) {
                r.feed_data("0123456789");
                co_await asyncio::sleep(0);
            }
            r.feed_eof();
        };
        auto t = asyncio::create_task(feeder(r));
        std::string all = co_await r.read();
        EXPECT_EQ(all.size(), 100u);
        EXPECT_EQ(all.substr(0, 10), "0123456789");
        co_await t;
    }());
}

TEST(AsyncioStreamReader, ReadlineSplitsLinesAndReturnsPartialAtEof) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        r.feed_data("one\ntwo\nthr");
        EXPECT_EQ(co_await r.readline(), "one\n");
        EXPECT_EQ(co_await r.readline(), "two\n");
        r.feed_data("ee");
        r.feed_eof();
        EXPECT_EQ(co_await r.readline(), "three");
        EXPECT_EQ(co_await r.readline(), "");
        EXPECT_TRUE(r.at_eof());
    }());
}

TEST(AsyncioStreamReader, LineLoopIsPythonsAsyncFor) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        r.feed_data("a\nb\nc");
        r.feed_eof();
        std::vector<std::string> lines;
        for (std::string line; !(line = co_await r.readline()).empty();) lines.push_back(line);
        EXPECT_EQ(lines, (std::vector<std::string>{"a\n", "b\n", "c"}));
    }());
}

TEST(AsyncioStreamReader, ReadexactlyRaisesIncompleteReadErrorWithPartial) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        r.feed_data("12345");
        EXPECT_EQ(co_await r.readexactly(2), "12");
        EXPECT_EQ(co_await r.readexactly(0), "");
        r.feed_eof();
        try {
            (void)co_await r.readexactly(10);
            ADD_FAILURE() << "expected IncompleteReadError";
        } catch (const asyncio::IncompleteReadError& e) {
            EXPECT_EQ(e.partial, "345");
            EXPECT_EQ(e.expected, 10u);
        }
        EXPECT_THROW((void)r.readexactly(-1), std::invalid_argument);
    }());
}

TEST(AsyncioStreamReader, ReaduntilFindsMultiByteSeparatorAcrossChunks) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        auto feeder = [](asyncio::StreamReader r) -> asyncio::Coroutine<> {
            for (const char* chunk : {"GET / HTTP/1.1\r", "\nHost: x\r\n\r", "\nBODY"}) {
                r.feed_data(chunk);
                co_await asyncio::sleep(0);
            }
        };
        auto t = asyncio::create_task(feeder(r));
        EXPECT_EQ(co_await r.readuntil("\r\n\r\n"), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        co_await t;
        EXPECT_EQ(co_await r.read(4), "BODY");
    }());
}

TEST(AsyncioStreamReader, ReaduntilLimitOverrunLeavesDataBuffered) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r(8);
        r.feed_data("0123456789abc");
        try {
            (void)co_await r.readuntil("\n");
            ADD_FAILURE() << "expected LimitOverrunError";
        } catch (const asyncio::LimitOverrunError& e) {
            EXPECT_EQ(e.consumed, 13u);
        }
        EXPECT_EQ(co_await r.read(100), "0123456789abc") << "the bytes stay in the buffer";
        r.feed_data("0123456789\nrest");
        try {
            (void)co_await r.readuntil("\n");
            ADD_FAILURE() << "expected LimitOverrunError";
        } catch (const asyncio::LimitOverrunError& e) {
            EXPECT_EQ(e.consumed, 10u) << "separator found beyond the limit";
        }
        EXPECT_THROW((void)co_await r.readuntil(""), std::invalid_argument);
    }());
}

TEST(AsyncioStreamReader, ReadlineOverLimitRaisesValueErrorAndDropsTheLine) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r(4);
        r.feed_data("toolongline\nok\n");
        EXPECT_THROW((void)co_await r.readline(), std::invalid_argument);
        EXPECT_EQ(co_await r.readline(), "ok\n");
        r.feed_data("xxxxxxxxx");  // no separator at all: everything is dropped
        EXPECT_THROW((void)co_await r.readline(), std::invalid_argument);
        r.feed_data("y\n");
        EXPECT_EQ(co_await r.readline(), "y\n");
    }());
}

TEST(AsyncioStreamReader, ReaduntilIncompleteAtEof) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        r.feed_data("abc");
        r.feed_eof();
        try {
            (void)co_await r.readuntil("\n");
            ADD_FAILURE();
        } catch (const asyncio::IncompleteReadError& e) {
            EXPECT_EQ(e.partial, "abc");
            EXPECT_FALSE(e.expected.has_value());
        }
        EXPECT_TRUE(r.at_eof());
    }());
}

TEST(AsyncioStreamReader, SetExceptionWakesTheWaitingRead) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        auto failer = [](asyncio::StreamReader r) -> asyncio::Coroutine<> {
            co_await asyncio::sleep(0);
            r.set_exception(std::make_exception_ptr(nogil::ConnectionResetError(ECONNRESET, "reset")));
        };
        auto t = asyncio::create_task(failer(r));
        EXPECT_THROW((void)co_await r.readline(), nogil::ConnectionResetError);
        EXPECT_THROW((void)co_await r.read(1), nogil::ConnectionResetError);
        co_await t;
        EXPECT_TRUE(r.exception() != nullptr);
    }());
}

TEST(AsyncioStreamReader, CancelledReadConsumesNothing) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        auto reader = [](asyncio::StreamReader r) -> asyncio::Coroutine<std::string> {
            co_return co_await r.readexactly(6);
        };
        auto t = asyncio::create_task(reader(r));
        co_await asyncio::sleep(0);
        r.feed_data("abc");
        co_await asyncio::sleep(0);
        t.cancel();
        EXPECT_THROW(co_await t, nogil::CancelledError);
        r.feed_data("def");
        EXPECT_EQ(co_await r.readexactly(6), "abcdef") << "the stream stays usable after a cancelled read";
    }());
}

TEST(AsyncioStreamReader, SecondConcurrentReadIsRuntimeError) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        auto reader = [](asyncio::StreamReader r) -> asyncio::Coroutine<std::string> { co_return co_await r.readline(); };
        auto t = asyncio::create_task(reader(r));
        co_await asyncio::sleep(0);
        EXPECT_THROW((void)co_await r.read(1), std::runtime_error);
        r.feed_data("x\n");
        EXPECT_EQ(co_await t, "x\n");
    }());
}

TEST(AsyncioStreamReader, WorksWithWaitFor) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        EXPECT_THROW((void)co_await asyncio::wait_for(r.readline(), 0.01), nogil::TimeoutError);
        r.feed_data("late\n");
        EXPECT_EQ(co_await asyncio::wait_for(r.readline(), 1.0), "late\n");
    }());
}

// Issue 14 (3): a keep-alive stream that once carried a 10 MB message kept its buffer's
// high-water mark until it closed. Drained, it keeps at most 2 * max(limit, 64 KiB).
TEST(AsyncioStreamReader, BufferGivesMemoryBackWhenDrained) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        asyncio::StreamReader r;
        const std::size_t retained = 2 * asyncio::default_stream_limit;
        const std::string big(10 << 20, 'b');
        r.feed_data(big);
        EXPECT_GE(r.state()->buffer().capacity(), big.size());
        EXPECT_EQ((co_await r.readexactly(static_cast<std::ptrdiff_t>(big.size()))).size(), big.size());
        EXPECT_LE(r.state()->buffer().capacity(), retained) << "an empty reader keeps its big block";

        // Drained but for a few pipelined bytes: they move into a small block and stay readable.
        r.feed_data(big);
        r.feed_data("next request\n");
        EXPECT_EQ((co_await r.readexactly(static_cast<std::ptrdiff_t>(big.size()))).size(), big.size());
        EXPECT_LE(r.state()->buffer().capacity(), retained) << "a nearly empty reader keeps its big block";
        EXPECT_EQ(co_await r.readline(), "next request\n");

        // Small steady traffic keeps its block (no allocation per read).
        r.feed_data("a\n");
        (void)co_await r.readline();
        const std::size_t steady = r.state()->buffer().capacity();
        for (int i = 0; i < 100; ++i) {
            r.feed_data("line\n");
            EXPECT_EQ(co_await r.readline(), "line\n");
            EXPECT_EQ(r.state()->buffer().capacity(), steady);
        }
    }());
}

TEST(AsyncioStreamReader, ZeroLimitIsInvalid) { EXPECT_THROW(asyncio::StreamReader(0), std::invalid_argument); }

}  // namespace
