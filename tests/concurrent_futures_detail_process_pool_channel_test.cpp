// The shared rings of ProcessPoolExecutor (detail/process_pool_channel.hpp): records survive
// wrap-around, what does not fit is refused, the sleep handshake, and impossible indices or
// lengths (a worker scribbling on the block) throw instead of being trusted.
#include <nogil/concurrent/futures/detail/process_pool_channel.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

namespace {

namespace d = nogil::concurrent::futures::detail;

struct ProcessPoolChannelTest : ::testing::Test {
    d::UniqueFd wake_read, wake;
    ProcessPoolChannelTest() {
        int ends[2];
        if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) == 0) wake_read.reset(ends[0]), wake.reset(ends[1]);
    }
    d::ProcessPoolChannel make(std::size_t ring_bytes) { return d::ProcessPoolChannel::create(wake.get(), ring_bytes); }
    long wake_count() {
        char bytes[16];
        return ::read(wake_read.get(), bytes, sizeof bytes);
    }
};

std::string record(std::size_t i) { return std::string(i % 17, static_cast<char>('a' + i % 26)); }

TEST_F(ProcessPoolChannelTest, RecordsSurviveWrapAround) {
    auto c = make(256);  // records up to 64 bytes: many laps
    auto w = c.request_writer();
    auto r = c.request_reader();
    std::string got;
    for (std::size_t i = 0; i < 5000; ++i) {
        ASSERT_TRUE(w.try_write(record(i))) << i;
        if (i % 3 == 0) continue;  // let a few records queue up
        while (r.try_read(got) == d::RingReader::Next::record) {
        }
    }
    while (r.try_read(got) == d::RingReader::Next::record) {
    }
    EXPECT_TRUE(w.drained());
    // And in order, across a lap boundary.
    for (std::size_t i = 0; i < 20; ++i) ASSERT_TRUE(w.try_write(record(i + 7)));
    for (std::size_t i = 0; i < 20; ++i) {
        ASSERT_EQ(r.try_read(got), d::RingReader::Next::record);
        EXPECT_EQ(got, record(i + 7));
    }
    EXPECT_EQ(r.try_read(got), d::RingReader::Next::empty);
}

TEST_F(ProcessPoolChannelTest, OversizedAndOverflowingRecordsAreRefusedButAMarkerFits) {
    auto c = make(256);
    EXPECT_EQ(c.max_record(), 64u);
    auto w = c.response_writer();
    auto r = c.response_reader();
    EXPECT_FALSE(w.try_write(std::string(65, 'x')));  // above a quarter: takes the socket
    int written = 0;
    while (w.try_write(std::string(60, 'y'))) ++written;
    EXPECT_EQ(written, 3);  // 4 x 64 bytes would leave no room for a marker
    EXPECT_TRUE(w.try_write_marker());
    std::string got;
    EXPECT_TRUE(r.marker_pending());  // behind three records
    for (int i = 0; i < written; ++i) ASSERT_EQ(r.try_read(got), d::RingReader::Next::record);
    EXPECT_TRUE(r.marker_pending());
    EXPECT_EQ(r.try_read(got), d::RingReader::Next::marker);
    EXPECT_EQ(r.try_read(got), d::RingReader::Next::empty);
    EXPECT_FALSE(r.marker_pending());
    EXPECT_TRUE(w.try_write(""));  // an empty record is a record
    EXPECT_EQ(r.try_read(got), d::RingReader::Next::record);
    EXPECT_TRUE(got.empty());
}

TEST_F(ProcessPoolChannelTest, PeekTellsTheNextKindWithoutTakingIt) {
    auto c = make(256);
    auto w = c.response_writer();
    auto r = c.response_reader();
    std::string got;
    EXPECT_EQ(r.peek(), d::RingReader::Next::empty);
    ASSERT_TRUE(w.try_write("answer"));
    ASSERT_TRUE(w.try_write_marker());
    EXPECT_EQ(r.peek(), d::RingReader::Next::record);
    EXPECT_EQ(r.peek(), d::RingReader::Next::record);  // still there
    ASSERT_EQ(r.try_read(got), d::RingReader::Next::record);
    EXPECT_EQ(got, "answer");
    EXPECT_EQ(r.peek(), d::RingReader::Next::marker);
    EXPECT_EQ(r.try_read(got), d::RingReader::Next::marker);
    EXPECT_EQ(r.peek(), d::RingReader::Next::empty);
    c.response_control().tail.store(std::uint64_t{1} << 40);  // scribbled: not trusted
    EXPECT_THROW(r.peek(), std::runtime_error);
}

TEST_F(ProcessPoolChannelTest, SleepHandshakeIsTakenOnce) {
    auto c = make(1024);
    auto w = c.request_writer();
    auto r = c.request_reader();
    EXPECT_FALSE(w.take_sleeper());
    r.announce_sleep();
    EXPECT_FALSE(r.ready());
    ASSERT_TRUE(w.try_write("job"));
    EXPECT_TRUE(r.ready());
    EXPECT_TRUE(w.take_sleeper());
    EXPECT_FALSE(w.take_sleeper());
    EXPECT_EQ(r.sleep_word().load(), 0u);
}

TEST_F(ProcessPoolChannelTest, ImpossibleProducerIndexThrows) {
    auto c = make(1024);
    auto r = c.response_reader();
    std::string got;
    c.response_control().tail.store(std::uint64_t{1} << 40);  // more than a ring ahead
    EXPECT_THROW(r.try_read(got), std::runtime_error);
    c.response_control().tail.store(2);  // a partial length
    EXPECT_THROW(r.try_read(got), std::runtime_error);
}

TEST_F(ProcessPoolChannelTest, ImpossibleRecordLengthThrows) {
    auto c = make(1024);
    auto r = c.response_reader();
    std::string got;
    std::uint32_t n = 100;  // announces 100 bytes, publishes 10
    std::memcpy(c.response_data(), &n, sizeof n);
    c.response_control().tail.store(14);
    EXPECT_THROW(r.try_read(got), std::runtime_error);
    n = 0x7FFF'FFFF;  // far beyond the ring
    std::memcpy(c.response_data(), &n, sizeof n);
    c.response_control().tail.store(1024);
    EXPECT_THROW(r.try_read(got), std::runtime_error);
}

TEST_F(ProcessPoolChannelTest, ImpossibleConsumerIndexThrows) {
    auto c = make(1024);
    auto w = c.request_writer();
    ASSERT_TRUE(w.try_write("one"));
    c.request_control().head.store(1000);  // read more than was written
    EXPECT_THROW(w.try_write("two"), std::runtime_error);
    EXPECT_THROW(w.try_write_marker(), std::runtime_error);
    EXPECT_THROW((void)w.drained(), std::runtime_error);
}

TEST_F(ProcessPoolChannelTest, BadRingSizeIsRefused) {
    EXPECT_THROW(make(1000), std::invalid_argument);
    EXPECT_THROW(make(32), std::invalid_argument);
}

TEST_F(ProcessPoolChannelTest, TravelsAsOneSharedBlock) {
    auto c = make(1024);
    d::serial::Payload p = d::serial::dumps(c);
    auto [copy] = d::serial::loads<d::ProcessPoolChannel>(p.bytes, p.fds);
    auto w = copy.response_writer();
    ASSERT_TRUE(w.try_write("from the copy"));
    std::string got;
    auto r = c.response_reader();
    ASSERT_EQ(r.try_read(got), d::RingReader::Next::record);
    EXPECT_EQ(got, "from the copy");
    copy.wake_manager();
    EXPECT_EQ(wake_count(), 1);
}

// One producer thread, one consumer thread, a small ring: every record arrives once, in order.
TEST_F(ProcessPoolChannelTest, ProducerAndConsumerThreads) {
    auto c = make(512);
    constexpr std::size_t n = 100'000;
    std::thread producer([&] {
        auto w = c.request_writer();
        for (std::size_t i = 0; i < n;) {
            if (w.try_write(record(i)))
                ++i;
            else
                std::this_thread::yield();
        }
    });
    auto r = c.request_reader();
    std::string got;
    for (std::size_t i = 0; i < n;) {
        auto next = r.try_read(got);
        ASSERT_NE(next, d::RingReader::Next::marker);
        if (next == d::RingReader::Next::empty) {
            std::this_thread::yield();
            continue;
        }
        ASSERT_EQ(got, record(i)) << i;
        ++i;
    }
    producer.join();
}

}  // namespace
