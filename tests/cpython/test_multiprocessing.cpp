// CPython's Lib/test/_test_multiprocessing.py, the parts that apply to nogil's multiprocessing:
// _TestConnection, _TestQueue, _TestSharedMemory, _TestPool (the iterable-exception cases and the
// basics), _TestEvent, _TestValue. Run with the fork start method unless a case says otherwise
// (tests/multiprocessing_*_test.cpp run every start method).
//
// Not applicable, as groups: _TestManagerRestart/_TestMyManager/_TestRemoteManager and every
// Manager-backed case (no Managers this session), _TestListenerClient/_TestPicklingConnections
// (no Listener/Client), _TestHeap/_TestFinalize/_TestLogging (Python internals), _TestPoolWorker-
// Lifetime's gc-based checks, _TestImportStar, cases whose subject is pickling.
#include <nogil/errors.hpp>
#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <ranges>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

namespace mp = nogil::multiprocessing;
using namespace std::chrono_literals;

constexpr auto kBound = std::chrono::seconds(60);

int sqr(int x) { return x * x; }

// _test_multiprocessing.py: SayWhenError / exception_throwing_generator — an input that throws
// at index `when`.
class SayWhenError : public std::invalid_argument {
public:
    SayWhenError() : std::invalid_argument("Somebody said when") {}
};
auto exception_throwing_generator(int total, int when) {
    return std::views::iota(0, total) | std::views::transform([when](int i) {
               if (i == when) throw SayWhenError();
               return i;
           });
}

// ---- _TestConnection ----------------------------------------------------------------------------

// _test_multiprocessing.py: _TestConnection.test_connection (in-process: the same frames cross a
// socket pair either way)
TEST(TestConnection, test_connection) {
    auto [conn, other] = mp::Pipe();
    EXPECT_FALSE(conn.poll());
    other.send(std::vector<int>{1, 2, 3});
    EXPECT_TRUE(conn.poll(kBound));
    EXPECT_EQ(conn.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));

    std::string msg = "hello world";
    other.send_bytes(msg);
    EXPECT_EQ(conn.recv_bytes(), msg);

    // recv_bytes_into, offset 0 and a later offset
    std::array<char, 40> buffer{};
    other.send_bytes(msg);
    EXPECT_EQ(conn.recv_bytes_into(buffer), msg.size());
    EXPECT_EQ(std::string(buffer.data(), msg.size()), msg);
    std::array<std::byte, 40> bytes{};
    other.send_bytes(msg);
    EXPECT_EQ(conn.recv_bytes_into(std::span(bytes), 8), msg.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()) + 8, msg.size()), msg);
    EXPECT_EQ(bytes[7], std::byte{0});  // nothing written before the offset

    // BufferTooShort carries the whole message, which is consumed
    std::array<char, 4> small{};
    std::string longmsg(16, 'z');
    other.send_bytes(longmsg);
    try {
        conn.recv_bytes_into(small);
        FAIL() << "expected BufferTooShort";
    } catch (const mp::BufferTooShort& e) {
        EXPECT_EQ(e.message(), longmsg);
    }
    EXPECT_FALSE(conn.poll());
    EXPECT_THROW(conn.recv_bytes_into(small, 5), std::invalid_argument);  // offset too large

    other.close();
    EXPECT_THROW(conn.recv_bytes(), mp::EOFError);
}

// _test_multiprocessing.py: _TestConnection.test_duplex_false
TEST(TestConnection, test_duplex_false) {
    auto [reader, writer] = mp::Pipe(false);
    writer.send(1);
    EXPECT_EQ(reader.recv<int>(), 1);
    EXPECT_THROW(reader.send(2), nogil::OSError);
    EXPECT_THROW(writer.recv<int>(), nogil::OSError);
    EXPECT_THROW(writer.poll(), nogil::OSError);
}

// _test_multiprocessing.py: _TestConnection.test_sendbytes
TEST(TestConnection, test_sendbytes) {
    auto [a, b] = mp::Pipe();
    std::string msg = "abcdefghijklmnopqrstuvwxyz";
    a.send_bytes(msg);
    EXPECT_EQ(b.recv_bytes(), msg);
    a.send_bytes(msg, 5);
    EXPECT_EQ(b.recv_bytes(), msg.substr(5));
    a.send_bytes(msg, 7, 8);
    EXPECT_EQ(b.recv_bytes(), msg.substr(7, 8));
    a.send_bytes(msg, 26);
    EXPECT_EQ(b.recv_bytes(), "");
    a.send_bytes(msg, 26, 0);
    EXPECT_EQ(b.recv_bytes(), "");
    EXPECT_THROW(a.send_bytes(msg, 27), std::invalid_argument);
    EXPECT_THROW(a.send_bytes(msg, 22, 5), std::invalid_argument);
    EXPECT_THROW(a.send_bytes(msg, 26, 1), std::invalid_argument);
}

// _test_multiprocessing.py: _TestConnection.test_closed — every operation on a closed handle is
// OSError("handle is closed").
TEST(TestConnection, test_closed) {
    auto [a, b] = mp::Pipe();
    a.close();
    EXPECT_TRUE(a.closed());
    EXPECT_THROW(a.send(1), nogil::OSError);
    EXPECT_THROW(a.recv<int>(), nogil::OSError);
    EXPECT_THROW(a.poll(), nogil::OSError);
    a.close();  // idempotent
}

// ---- _TestQueue ---------------------------------------------------------------------------------

void queue_putter(mp::Queue<int> q) {
    for (int i = 0; i < 6; ++i) q.put(i);
}

// _test_multiprocessing.py: _TestQueue.test_put / test_get (the Full/Empty halves)
TEST(TestQueue, test_put_get) {
    mp::Queue<int> queue(6);
    // spawn: the child's queue feeder is a thread, which TSan forbids in a child of fork().
    mp::Process p(queue_putter, queue, mp::ProcessOptions{.start_method = "spawn"});
    p.start();
    for (int i = 0; i < 6; ++i) EXPECT_EQ(queue.get(kBound), i);
    EXPECT_THROW(queue.get(false), nogil::queue::Empty);
    EXPECT_THROW(queue.get(10ms), nogil::queue::Empty);
    for (int i = 0; i < 6; ++i) queue.put(i);
    EXPECT_THROW(queue.put(7, false), nogil::queue::Full);
    EXPECT_THROW(queue.put(7, 10ms), nogil::queue::Full);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

// _test_multiprocessing.py: _TestQueue.test_closed_queue_put_get_exceptions
TEST(TestQueue, test_closed_queue_put_get_exceptions) {
    mp::Queue<std::string> q;
    q.close();
    try {
        q.put("foo");
        FAIL();
    } catch (const std::invalid_argument& e) {  // Python: ValueError
        EXPECT_NE(std::string(e.what()).find("is closed"), std::string::npos);
    }
    try {
        q.get();
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("is closed"), std::string::npos);
    }
}

// _test_multiprocessing.py: _TestQueue.test_qsize
TEST(TestQueue, test_qsize) {
    mp::Queue<int> q;
    EXPECT_EQ(q.qsize(), 0);
    q.put(1);
    EXPECT_EQ(q.qsize(), 1);
    q.put(5);
    EXPECT_EQ(q.qsize(), 2);
    q.get(kBound);
    EXPECT_EQ(q.qsize(), 1);
    q.get(kBound);
    EXPECT_EQ(q.qsize(), 0);
}

// ---- _TestSharedMemory --------------------------------------------------------------------------

// _test_multiprocessing.py: _TestSharedMemory.test_shared_memory_basics (the error halves)
TEST(TestSharedMemory, test_shared_memory_basics) {
    using mp::shared_memory::SharedMemory;
    SharedMemory sms("nogil_test01_tsmb", true, 512);
    EXPECT_EQ(sms.name(), "nogil_test01_tsmb");
    EXPECT_GE(sms.size(), 512u);
    // Creating a block with an existing name is FileExistsError.
    EXPECT_THROW(SharedMemory("nogil_test01_tsmb", true, 512), nogil::FileExistsError);
    SharedMemory also(sms.name());
    also.buf()[0] = std::byte{42};
    EXPECT_EQ(sms.buf()[0], std::byte{42});
    also.close();
    sms.close();
    sms.unlink();
    // Attaching to a name that does not exist is FileNotFoundError, and so is unlinking it.
    EXPECT_THROW(SharedMemory("nogil_test01_tsmb"), nogil::FileNotFoundError);
    EXPECT_THROW(sms.unlink(), nogil::FileNotFoundError);
    // A size of 0 on create is ValueError.
    EXPECT_THROW(SharedMemory(std::nullopt, true, 0), std::invalid_argument);
}

// ---- _TestPool ----------------------------------------------------------------------------------

class TestPool : public ::testing::Test {
protected:
    mp::Pool pool{mp::PoolOptions{.processes = 4, .start_method = "fork"}};
};

// _test_multiprocessing.py: _TestPool.test_apply
TEST_F(TestPool, test_apply) { EXPECT_EQ(pool.apply(sqr, 5), 25); }

// _test_multiprocessing.py: _TestPool.test_map
TEST_F(TestPool, test_map) {
    std::vector<int> in;
    for (int i = 0; i < 10; ++i) in.push_back(i);
    std::vector<int> expect;
    for (int i : in) expect.push_back(i * i);
    EXPECT_EQ(pool.map(sqr, in), expect);
    std::vector<int> big(100);
    for (int i = 0; i < 100; ++i) big[static_cast<std::size_t>(i)] = i;
    EXPECT_EQ(pool.map(sqr, big, 8).size(), 100u);
}

// _test_multiprocessing.py: _TestPool.test_imap
TEST_F(TestPool, test_imap) {
    std::vector<int> got;
    for (int x : pool.imap(sqr, std::views::iota(0, 10))) got.push_back(x);
    std::vector<int> expect;
    for (int i = 0; i < 10; ++i) expect.push_back(i * i);
    EXPECT_EQ(got, expect);
}

// _test_multiprocessing.py: _TestPool.test_map_handle_iterable_exception
TEST_F(TestPool, test_map_handle_iterable_exception) {
    EXPECT_THROW(pool.map(sqr, exception_throwing_generator(1, 0), 1), SayWhenError);
    EXPECT_THROW(pool.map(sqr, exception_throwing_generator(10, 3), 1), SayWhenError);
}

// _test_multiprocessing.py: _TestPool.test_imap_handle_iterable_exception — the input's own
// exception type arrives, at the position where the input failed.
TEST_F(TestPool, test_imap_handle_iterable_exception) {
    {
        auto it = pool.imap(sqr, exception_throwing_generator(10, 3), 1);
        auto i = it.begin();
        EXPECT_EQ(*i, 0);
        ++i;
        EXPECT_EQ(*i, 1);
        ++i;
        EXPECT_EQ(*i, 4);
        EXPECT_THROW(++i, SayWhenError);
    }
    // SayWhenError seen at start of the problematic chunk's results
    for (auto [chunksize, expect_read] : {std::pair{2, 6}, std::pair{4, 4}}) {
        auto it = pool.imap(sqr, exception_throwing_generator(20, 7), static_cast<std::size_t>(chunksize));
        int read = 0;
        try {
            for (int x : it) {
                EXPECT_EQ(x, read * read);
                ++read;
            }
            ADD_FAILURE() << "expected SayWhenError";
        } catch (const SayWhenError&) {
        }
        EXPECT_EQ(read, expect_read) << chunksize;
    }
}

// _test_multiprocessing.py: _TestPool.test_imap_unordered_handle_iterable_exception
TEST_F(TestPool, test_imap_unordered_handle_iterable_exception) {
    auto it = pool.imap_unordered(sqr, exception_throwing_generator(10, 3), 1);
    int read = 0;
    try {
        for (int x : it) {
            EXPECT_TRUE(x == 0 || x == 1 || x == 4) << x;
            ++read;
        }
        FAIL() << "expected SayWhenError";
    } catch (const SayWhenError&) {
    }
    EXPECT_LE(read, 3);
}

// _test_multiprocessing.py: _TestPool.test_async_timeout
TEST_F(TestPool, test_async_timeout) {
    auto res = pool.apply_async(+[](int) {
        for (;;) ::pause();
        return 0;
    }, 0);
    EXPECT_THROW(res.get(10ms), mp::TimeoutError);
    pool.terminate();
}

// ---- _TestEvent / _TestValue --------------------------------------------------------------------

void set_event(mp::Event e) { e.set(); }

// _test_multiprocessing.py: _TestEvent.test_event
TEST(TestEvent, test_event) {
    mp::Event event;
    EXPECT_FALSE(event.is_set());
    EXPECT_FALSE(event.wait(0s));
    event.set();
    EXPECT_TRUE(event.is_set());
    EXPECT_TRUE(event.wait());
    EXPECT_TRUE(event.wait(0s));
    event.clear();
    EXPECT_FALSE(event.is_set());
    mp::Process p(set_event, event, mp::ProcessOptions{.start_method = "fork"});
    p.start();
    EXPECT_TRUE(event.wait(kBound));
    p.join(kBound);
}

void add_to_value(mp::Value<long> v) {
    for (int i = 0; i < 100; ++i) {
        std::scoped_lock guard(v.get_lock());
        v.get_obj() += 1;
    }
}

// _test_multiprocessing.py: _TestValue.test_value / test_getobj_getlock
TEST(TestValue, test_value) {
    mp::Value<long> v(0);
    std::vector<mp::Process> ps;
    for (int i = 0; i < 4; ++i) ps.emplace_back(add_to_value, v, mp::ProcessOptions{.start_method = "fork"});
    for (auto& p : ps) p.start();
    for (auto& p : ps) p.join(kBound);
    EXPECT_EQ(v.value(), 400);
}

}  // namespace
