// Mirrors the core of CPython's _test_multiprocessing.py _TestConnection, plus what crosses the
// boundary (docs/api.md, rule 5) and how a peer writing garbage is caught.
#include "multiprocessing_test_support.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace mp = nogil::multiprocessing;
using namespace std::chrono_literals;

namespace {

using mp_test::kBound;

struct Point {  // a plain struct: travels as its bytes
    int x;
    double y;
};

struct Person {  // a user type with cereal's serialize
    std::string name;
    std::vector<int> scores;
    std::optional<std::string> email;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, scores, email);
    }
    friend bool operator==(const Person&, const Person&) = default;
};

// Echo server: receives values until "stop", answers each; raw bytes are echoed as bytes.
void echo(mp::Connection conn) {
    for (;;) {
        auto kind = conn.recv<std::string>();
        if (kind == "stop") return;
        if (kind == "person") {
            auto p = conn.recv<Person>();
            p.scores.push_back(100);
            conn.send(p);
        } else if (kind == "point") {
            auto pt = conn.recv<Point>();
            conn.send(Point{pt.x * 2, pt.y * 2});
        } else if (kind == "bytes") {
            conn.send_bytes(conn.recv_bytes());
        } else if (kind == "big") {
            auto v = conn.recv<std::vector<std::uint64_t>>();
            conn.send(v);
        } else if (kind == "conn") {
            auto inner = conn.recv<mp::Connection>();
            inner.send(std::string("via passed connection"));
        }
    }
}

void write_raw(mp::Connection conn, std::string bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(conn.fileno(), bytes.data() + done, bytes.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

using ConnectionTest = mp_test::StartMethodTest;

TEST_P(ConnectionTest, ValuesRoundTripThroughAChild) {
    auto [conn, child] = mp::Pipe();
    mp::Process p(echo, child, options());
    p.start();
    child.close();

    Person alice{"alice", {1, 2, 3}, "a@example.org"};
    conn.send(std::string("person"));
    conn.send(alice);
    ASSERT_TRUE(conn.poll(kBound));
    Person back = conn.recv<Person>();
    alice.scores.push_back(100);
    EXPECT_EQ(back, alice);

    conn.send(std::string("point"));
    conn.send(Point{21, 1.5});
    ASSERT_TRUE(conn.poll(kBound));
    Point pt = conn.recv<Point>();
    EXPECT_EQ(pt.x, 42);
    EXPECT_EQ(pt.y, 3.0);

    std::string raw("\0binary\xff data", 13);
    conn.send(std::string("bytes"));
    conn.send_bytes(raw);
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_EQ(conn.recv_bytes(), raw);

    // Larger than any socket buffer: exercises partial writes and reads on both sides.
    std::vector<std::uint64_t> big(1 << 20);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = i * 7;
    conn.send(std::string("big"));
    conn.send(big);
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_EQ(conn.recv<decltype(big)>(), big);

    // A Connection sent through a Connection (its descriptor travels with the message).
    auto [a, b] = mp::Pipe();
    conn.send(std::string("conn"));
    conn.send(b);
    b.close();
    ASSERT_TRUE(a.poll(kBound));
    EXPECT_EQ(a.recv<std::string>(), "via passed connection");

    conn.send(std::string("stop"));
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
    // The child has exited and we closed our copy of its end: end of file.
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_THROW(conn.recv<int>(), mp::EOFError);
}

TEST_P(ConnectionTest, GarbageFromAChildIsDetected) {
    auto [conn, child] = mp::Pipe();
    mp::Process p(write_raw, child, std::string("this is not a nogil frame at all"), options());
    p.start();
    child.close();
    ASSERT_TRUE(conn.poll(kBound));
    EXPECT_THROW(conn.recv<std::string>(), std::runtime_error);
    p.join(kBound);
}

TEST_P(ConnectionTest, AbsurdLengthIsRejectedNotAllocated) {
    // A header with the right magic announcing 2^62 bytes.
    std::string header(16, '\0');
    const std::uint32_t magic = 0x504D676E;
    const std::uint64_t length = std::uint64_t{1} << 62;
    std::memcpy(header.data(), &magic, 4);
    header[4] = 1;
    header[5] = 2;
    std::memcpy(header.data() + 8, &length, 8);
    auto [conn, child] = mp::Pipe();
    mp::Process p(write_raw, child, header, options());
    p.start();
    child.close();
    ASSERT_TRUE(conn.poll(kBound));
    try {
        (void)conn.recv<std::string>();
        ADD_FAILURE() << "expected an exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("length"), std::string::npos) << e.what();
    }
    p.join(kBound);
}

TEST_P(ConnectionTest, TruncatedFrameIsEOFError) {
    auto [w, r] = mp::Pipe();
    std::string frame;
    {
        // A valid frame for a std::string, cut in half by the child exiting.
        auto [a, b] = mp::Pipe();
        a.send(std::string(100, 'x'));
        ASSERT_TRUE(b.poll(kBound));
        char buf[256];
        ssize_t n = ::read(b.fileno(), buf, sizeof buf);
        ASSERT_GT(n, 16);
        frame.assign(buf, static_cast<std::size_t>(n) / 2);
    }
    mp::Process p(write_raw, w, frame, options());
    p.start();
    w.close();
    p.join(kBound);
    ASSERT_TRUE(r.poll(kBound));
    EXPECT_THROW(r.recv<std::string>(), mp::EOFError);
}

MP_INSTANTIATE_START_METHODS(ConnectionTest);

TEST(Connection, PollTimesOutWhenNothingArrives) {
    auto [a, b] = mp::Pipe();
    EXPECT_FALSE(a.poll());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(a.poll(30ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
    b.send(1);
    EXPECT_TRUE(a.poll(kBound));
    EXPECT_EQ(a.recv<int>(), 1);
}

TEST(Connection, SendBytesOffsetsAndMaxlength) {
    auto [a, b] = mp::Pipe();
    a.send_bytes("abcdefgh", 2, 3);
    EXPECT_EQ(b.recv_bytes(), "cde");
    a.send_bytes("abcdefgh", 5);
    EXPECT_EQ(b.recv_bytes(), "fgh");
    EXPECT_THROW(a.send_bytes("abc", 4), std::invalid_argument);
    EXPECT_THROW(a.send_bytes("abc", 1, 3), std::invalid_argument);
    a.send_bytes("0123456789");
    EXPECT_THROW(b.recv_bytes(4), nogil::OSError);
    EXPECT_TRUE(b.closed());  // as in Python: the stream position is lost, the connection closed
}

TEST(Connection, ValueSentAsBytesIsNotAValue) {
    auto [a, b] = mp::Pipe();
    a.send_bytes("raw");
    EXPECT_THROW(b.recv<int>(), std::runtime_error);
}

TEST(Connection, OneWayPipeAndClosedEnds) {
    auto [reader, writer] = mp::Pipe(false);
    EXPECT_TRUE(reader.readable());
    EXPECT_FALSE(reader.writable());
    EXPECT_FALSE(writer.readable());
    EXPECT_THROW(reader.send(1), std::runtime_error);
    EXPECT_THROW((void)writer.recv<int>(), std::runtime_error);
    writer.send(std::map<std::string, int>{{"a", 1}, {"b", 2}});
    EXPECT_EQ((reader.recv<std::map<std::string, int>>()), (std::map<std::string, int>{{"a", 1}, {"b", 2}}));
    writer.close();
    EXPECT_TRUE(writer.closed());
    writer.close();  // idempotent
    EXPECT_THROW(writer.send(1), std::runtime_error);
    EXPECT_THROW(reader.recv<int>(), mp::EOFError);
}

TEST(Connection, SendToClosedPeerIsBrokenPipe) {
    auto [a, b] = mp::Pipe();
    b.close();
    EXPECT_THROW(a.send(std::string("x")), nogil::OSError);
}

TEST(Connection, WrongTypeWithTrailingBytesIsDetected) {
    auto [a, b] = mp::Pipe();
    a.send(std::make_pair(1, 2));
    EXPECT_THROW(b.recv<int>(), std::runtime_error);  // 4 bytes left over: not silently accepted
}

}  // namespace
