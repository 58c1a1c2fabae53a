// StreamWriter: flow control (drain), close/abort, half-close, pipes (SIGPIPE), writelines.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

/// Both ends of a socketpair as streams.
std::pair<asyncio::StreamPair, asyncio::StreamPair> socket_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw nogil::OSError(errno, "socketpair");
    return {asyncio::connect_fd(sv[0]), asyncio::connect_fd(sv[1])};
}

/// Both ends of a pipe as streams.
std::pair<asyncio::StreamReader, asyncio::StreamWriter> pipe_pair() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw nogil::OSError(errno, "pipe2");
    return {asyncio::connect_read_fd(p[0]), asyncio::connect_write_fd(p[1])};
}

/// Writes 64 KiB chunks to a peer that does not read until drain() suspends; returns the
/// number of bytes written, with the drain still pending in *blocked.
asyncio::Coroutine<std::size_t> write_until_drain_blocks(asyncio::StreamWriter writer,
                                                         std::optional<asyncio::Task<>>* blocked) {
    const std::string chunk(64 * 1024, 'z');
    std::size_t written = 0;
    auto drain = [](asyncio::StreamWriter w) -> asyncio::Coroutine<> { co_await w.drain(); };
    for (int i = 0; i < 10000; ++i) {
        writer.write(chunk);
        written += chunk.size();
        EXPECT_LE(writer.get_write_buffer_size(), writer.transport().write_high_water() + chunk.size())
            << "a writer that drains never queues much more than the high-water mark";
        auto t = asyncio::create_task(drain(writer));
        co_await asyncio::sleep(0);
        co_await asyncio::sleep(0);
        if (!t.done()) {
            *blocked = t;
            co_return written;
        }
        co_await t;
    }
    ADD_FAILURE() << "drain() never suspended";
    co_return written;
}

TEST(AsyncioStreamWriter, DrainSuspendsForASlowReaderAndResumes) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        std::optional<asyncio::Task<>> blocked;
        const std::size_t written = co_await write_until_drain_blocks(a.writer, &blocked);
        if (!blocked) co_return;  // reported inside write_until_drain_blocks
        EXPECT_GT(a.writer.get_write_buffer_size(), a.writer.transport().write_high_water());
        // The reading side stopped reading once 2 * limit bytes waited unread: its memory is
        // bounded and the kernel's buffers push back on the writer.
        EXPECT_TRUE(b.reader.state()->paused());
        EXPECT_LE(b.reader.state()->buffer().size(), 2 * b.reader.limit() + nogil::asyncio::detail::FdTransport::max_read_size);
        std::string got = co_await b.reader.readexactly(static_cast<std::ptrdiff_t>(written));
        EXPECT_EQ(got.size(), written);
        co_await *blocked;  // the reader caught up: drain() returned
        EXPECT_EQ(a.writer.get_write_buffer_size(), 0u);
    }());
}

// Issue 14 (3): once a 10 MB message is through, neither the sender's write queue nor the
// receiver's read buffer keeps the memory it needed (retained: 2 * high-water, 2 * limit).
TEST(AsyncioStreamWriter, BuffersGiveMemoryBackAfterABigMessage) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        const std::string big(10 << 20, 'm');
        for (int round = 0; round < 2; ++round) {  // a keep-alive connection: twice, then idle
            a.writer.write(big);
            EXPECT_GT(a.writer.transport().write_buffer_capacity(), nogil::asyncio::detail::FdTransport::write_retain(
                                                                        a.writer.transport().write_high_water()));
            auto drained = asyncio::create_task([](asyncio::StreamWriter w) -> asyncio::Coroutine<> { co_await w.drain(); }(a.writer));
            std::string got = co_await b.reader.readexactly(static_cast<std::ptrdiff_t>(big.size()));
            EXPECT_EQ(got.size(), big.size());
            co_await drained;
            EXPECT_EQ(a.writer.get_write_buffer_size(), 0u);
            EXPECT_LE(a.writer.transport().write_buffer_capacity(),
                      nogil::asyncio::detail::FdTransport::write_retain(a.writer.transport().write_high_water()));
            EXPECT_LE(b.reader.state()->buffer().capacity(), 2 * b.reader.limit());
        }
    }());
}

TEST(AsyncioStreamWriter, CancelledDrainKeepsQueuedBytes) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        std::optional<asyncio::Task<>> blocked;
        const std::size_t written = co_await write_until_drain_blocks(a.writer, &blocked);
        if (!blocked) co_return;  // reported inside write_until_drain_blocks
        blocked->cancel();
        EXPECT_THROW(co_await *blocked, nogil::CancelledError);
        EXPECT_FALSE(a.writer.is_closing()) << "cancelling drain() leaves the stream usable";
        std::string got = co_await b.reader.readexactly(static_cast<std::ptrdiff_t>(written));
        EXPECT_EQ(got.size(), written) << "every queued byte is still sent";
    }());
}

TEST(AsyncioStreamWriter, CloseFlushesQueuedBytesThenEof) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a_ends, b] = socket_pair();
        {
            auto a = std::move(a_ends);
            a.writer.write(std::string(1 << 20, 'q'));
            EXPECT_GT(a.writer.get_write_buffer_size(), 0u);
            a.writer.close();
            EXPECT_TRUE(a.writer.is_closing());
        }  // every handle gone: the transport still flushes
        std::string all = co_await b.reader.read();
        EXPECT_EQ(all.size(), std::size_t{1} << 20);
        EXPECT_TRUE(b.reader.at_eof());
    }());
}

TEST(AsyncioStreamWriter, AbortDropsQueuedBytes) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        a.writer.write(std::string(4 << 20, 'q'));
        a.writer.abort();
        EXPECT_EQ(a.writer.get_write_buffer_size(), 0u);
        co_await a.writer.wait_closed();
        std::string all = co_await b.reader.read();
        EXPECT_LT(all.size(), std::size_t{4} << 20);
        EXPECT_THROW(co_await a.writer.drain(), nogil::ConnectionResetError);
    }());
}

// Issue 16: on io_uring a socket's writes go to the kernel as one IORING_OP_SEND a loop turn,
// whose bytes the backend owns until the kernel is done with them. These run on both backends
// (io_uring/AsyncioStreamWriter.*): on epoll the same steps meet a send() that took part of the
// bytes and a writable callback.

/// Writes `size` bytes to a peer that does not read, then lets two loop turns pass: on io_uring
/// the send is in the kernel (it sent what the socket buffers hold and waits for room).
asyncio::Coroutine<> write_and_let_the_send_start(asyncio::StreamWriter writer, std::size_t size) {
    writer.write(std::string(size, 's'));
    co_await asyncio::sleep(0);
    co_await asyncio::sleep(0);
    EXPECT_GT(writer.get_write_buffer_size(), 0u) << "the peer reads nothing: bytes wait";
}

TEST(AsyncioStreamWriter, AbortWithASendInFlight) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        co_await write_and_let_the_send_start(a.writer, std::size_t{4} << 20);
        a.writer.abort();
        EXPECT_EQ(a.writer.get_write_buffer_size(), 0u) << "queued and in-flight bytes are dropped";
        co_await a.writer.wait_closed();
        a.writer.write("dropped");  // silently, once the connection is lost
        std::string all = co_await b.reader.read();
        EXPECT_LT(all.size(), std::size_t{4} << 20);
        EXPECT_EQ(all.find_first_not_of('s'), std::string::npos) << "only bytes of the aborted write arrive";
        EXPECT_THROW(co_await a.writer.drain(), nogil::ConnectionResetError);
    }());
}

TEST(AsyncioStreamWriter, CloseWithASendInFlightFlushesIt) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a_ends, b] = socket_pair();
        {
            auto a = std::move(a_ends);
            co_await write_and_let_the_send_start(a.writer, std::size_t{2} << 20);
            a.writer.write(std::string(1000, 't'));  // queued behind the send in flight
            a.writer.close();
        }  // every handle gone: the transport lives until its bytes are sent
        std::string all = co_await b.reader.read();
        EXPECT_EQ(all.size(), (std::size_t{2} << 20) + 1000);
        EXPECT_EQ(all.find_first_not_of('s'), std::size_t{2} << 20) << "in order";
        EXPECT_TRUE(b.reader.at_eof());
    }());
}

// A writer that drains, against a peer that stopped reading: what the writer holds (its queue
// and the send in flight) stays bounded by the high-water mark, turn after turn.
TEST(AsyncioStreamWriter, PeerThatStopsReadingBoundsTheWriteQueue) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        std::optional<asyncio::Task<>> blocked;
        const std::size_t written = co_await write_until_drain_blocks(a.writer, &blocked);
        if (!blocked) co_return;  // reported inside write_until_drain_blocks
        const std::size_t high = a.writer.transport().write_high_water();
        const std::size_t chunk = 64 * 1024;  // write_until_drain_blocks's
        for (int i = 0; i < 20; ++i) {
            EXPECT_LE(a.writer.get_write_buffer_size(), high + chunk);
            // Doubling growth: each of the two blocks at most twice what it holds.
            EXPECT_LE(a.writer.transport().write_buffer_capacity(), 4 * (high + chunk));
            co_await asyncio::sleep(0);
        }
        EXPECT_FALSE(blocked->done()) << "drain() waits while the peer does not read";
        std::string got = co_await b.reader.readexactly(static_cast<std::ptrdiff_t>(written));
        EXPECT_EQ(got.size(), written);
        co_await *blocked;
        EXPECT_EQ(a.writer.get_write_buffer_size(), 0u);
    }());
}

// Many small writes of one turn: all arrive, in order (on io_uring they go as one send).
TEST(AsyncioStreamWriter, WritesOfOneTurnArriveInOrder) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        std::string expected;
        for (int round = 0; round < 50; ++round) {
            for (int i = 0; i < 20; ++i) {
                const std::string piece = std::to_string(round) + "." + std::to_string(i) + ";";
                a.writer.write(piece);
                expected += piece;
            }
            co_await asyncio::sleep(0);
        }
        a.writer.write_eof();
        EXPECT_EQ(co_await b.reader.read(), expected);
    }());
}

TEST(AsyncioStreamWriter, WritelinesAndBufferLimits) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [a, b] = socket_pair();
        a.writer.writelines(std::vector<std::string>{"one ", "two ", "three"});
        co_await a.writer.drain();
        EXPECT_EQ(co_await b.reader.readexactly(13), "one two three");
        EXPECT_THROW(a.writer.set_write_buffer_limits(10, 20), std::invalid_argument);
        a.writer.set_write_buffer_limits(1000);
        EXPECT_EQ(a.writer.transport().write_low_water(), 250u);
    }());
}

asyncio::Coroutine<> pipe_writer(asyncio::StreamWriter writer, std::size_t total) {
    const std::string chunk(10000, 'p');
    for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
        writer.write(chunk);
        co_await writer.drain();
    }
    writer.write_eof();  // a pipe's EOF closes it
    co_await writer.wait_closed();
}

TEST(AsyncioStreamWriter, PipeCarriesBytesAndEof) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        auto [reader, writer] = pipe_pair();
        EXPECT_TRUE(std::holds_alternative<int>(writer.get_extra_info("pipe")));
        auto t = asyncio::create_task(pipe_writer(writer, 1000000));
        std::string all = co_await reader.read();
        EXPECT_EQ(all.size(), 1000000u);
        EXPECT_TRUE(reader.at_eof());
        co_await t;
        EXPECT_TRUE(writer.is_closing());
        EXPECT_NO_THROW(writer.write("x")) << "dropped once closed, as in Python";
    }());
}

TEST(AsyncioStreamWriter, BrokenPipeIsAnExceptionNotASignal) {
    asyncio::run([]() -> asyncio::Coroutine<> {
        int p[2];
        EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
        ::close(p[0]);  // nobody will ever read
        auto writer = asyncio::connect_write_fd(p[1]);
        writer.write("into the void");
        EXPECT_THROW(co_await writer.drain(), nogil::BrokenPipeError);
        EXPECT_TRUE(writer.is_closing());
    }());
}

}  // namespace
