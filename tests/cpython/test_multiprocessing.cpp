// CPython's Lib/test/_test_multiprocessing.py, the parts that apply to nogil's multiprocessing:
// _TestConnection, _TestQueue, _TestSharedMemory, _TestPool (the iterable-exception cases and the
// basics), _TestEvent, _TestValue, and the manager cases: _TestContainers, _TestMyManager,
// _TestRemoteManager, _TestManagerRestart. Run with the fork start method unless a case says
// otherwise (tests/multiprocessing_*_test.cpp run every start method).
//
// Not applicable, as groups: _TestListenerClient/_TestPicklingConnections (no Listener/Client),
// _TestHeap/_TestFinalize/_TestLogging (Python internals), _TestPoolWorkerLifetime's gc-based
// checks, _TestImportStar, cases whose subject is pickling. The generic cases run again with
// TYPE = 'manager' in CPython (_TestQueue, _TestEvent, _TestLock, ... on manager proxies) are
// covered by tests/multiprocessing_managers_test.cpp instead of a second copy here.
#include <nogil/errors.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstddef>
#include <optional>
#include <tuple>
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

// ---- managers: _TestContainers ---------------------------------------------------------------------

std::vector<int> range(int n) {
    std::vector<int> out(n);
    for (int i = 0; i < n; ++i) out[i] = i;
    return out;
}

// _test_multiprocessing.py: _TestContainers.test_list (slicing, `*=` and `+` have no proxy
// spelling: tolist() is a[:]; a list holding 'hello' beside ints is an int here)
TEST(TestContainers, test_list) {
    auto manager = mp::Manager();
    auto a = manager.list<int>(range(10));
    EXPECT_EQ(a.tolist(), range(10));
    auto b = manager.list<int>();
    EXPECT_EQ(b.tolist(), std::vector<int>{});
    b.extend(range(5));
    EXPECT_EQ(b.tolist(), range(5));
    EXPECT_EQ(b.getitem(2), 2);
    b.extend(b.tolist());  // b *= 2
    EXPECT_EQ(b.tolist(), (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
    EXPECT_EQ(a.tolist(), range(10));

    auto e = manager.list<mp::ListProxy<int>>({a, b});
    std::vector<std::vector<int>> elements;
    for (auto& element : e.tolist()) elements.push_back(element.tolist());
    EXPECT_EQ(elements, (std::vector<std::vector<int>>{range(10), {0, 1, 2, 3, 4, 0, 1, 2, 3, 4}}));

    auto f = manager.list<mp::ListProxy<int>>({a});
    a.append(10);
    EXPECT_EQ(f.getitem(0).tolist(), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

// _test_multiprocessing.py: _TestContainers.test_list_iter, test_dict_iter — not applicable: a
// proxy has no live iterator (tolist()/keys() return a snapshot; "changed size during iteration"
// cannot happen).

// _test_multiprocessing.py: _TestContainers.test_list_proxy_in_list
TEST(TestContainers, test_list_proxy_in_list) {
    auto manager = mp::Manager();
    std::vector<mp::ListProxy<int>> inners;
    for (int i = 0; i < 3; ++i) inners.push_back(manager.list<int>(range(3)));
    auto a = manager.list<mp::ListProxy<int>>(inners);
    inners.clear();
    for (auto& inner : a.tolist()) EXPECT_EQ(inner.tolist(), range(3));
    a.getitem(0).setitem(-1, 55);
    EXPECT_EQ(a.getitem(0).tolist(), (std::vector<int>{0, 1, 55}));
    for (int i = 1; i < 3; ++i) EXPECT_EQ(a.getitem(i).tolist(), range(3));
    EXPECT_EQ(a.getitem(1).pop(), 2);
    EXPECT_EQ(a.getitem(1).len(), 2u);
    for (int i = 0; i < 3; i += 2) EXPECT_EQ(a.getitem(i).len(), 3u);
    // b.append(b): a list holding itself — a ListProxy<ListProxy<...>> of itself has no C++ type.
}

// _test_multiprocessing.py: _TestContainers.test_dict
TEST(TestContainers, test_dict) {
    auto manager = mp::Manager();
    auto d = manager.dict<int, std::string>();
    std::vector<int> indices{65, 66, 67, 68, 69};
    for (int i : indices) d.setitem(i, std::string(1, char(i)));
    std::vector<std::pair<int, std::string>> expected;
    for (int i : indices) expected.emplace_back(i, std::string(1, char(i)));
    EXPECT_EQ(d.items(), expected);  // d.copy()
    auto keys = d.keys();
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, indices);
    auto values = d.values();
    std::sort(values.begin(), values.end());
    EXPECT_EQ(values, (std::vector<std::string>{"A", "B", "C", "D", "E"}));
}

// _test_multiprocessing.py: _TestContainers.test_dict_proxy_nested
TEST(TestContainers, test_dict_proxy_nested) {
    using Counts = mp::DictProxy<std::string, int>;
    auto manager = mp::Manager();
    auto pets = manager.dict<std::string, int>({{"ferrets", 2}, {"hamsters", 4}});
    auto supplies = manager.dict<std::string, int>({{"water", 10}, {"feed", 3}});
    auto d = manager.dict<std::string, Counts>({{"pets", pets}, {"supplies", supplies}});

    EXPECT_EQ(supplies.getitem("water"), 10);
    EXPECT_EQ(d.getitem("supplies").getitem("water"), 10);
    d.getitem("supplies").setitem("blankets", 5);
    EXPECT_EQ(supplies.getitem("blankets"), 5);
    EXPECT_EQ(d.getitem("supplies").getitem("blankets"), 5);
    d.getitem("supplies").setitem("water", 7);
    EXPECT_EQ(supplies.getitem("water"), 7);
    EXPECT_EQ(d.getitem("supplies").getitem("water"), 7);

    pets = Counts();  // del pets
    supplies = Counts();
    EXPECT_EQ(d.getitem("pets").getitem("ferrets"), 2);
    d.getitem("supplies").setitem("blankets", 11);
    EXPECT_EQ(d.getitem("supplies").getitem("blankets"), 11);

    pets = d.getitem("pets");
    supplies = d.getitem("supplies");
    supplies.setitem("water", 7);
    EXPECT_EQ(supplies.getitem("water"), 7);
    EXPECT_EQ(d.getitem("supplies").getitem("water"), 7);

    d.clear();
    EXPECT_EQ(d.len(), 0u);
    EXPECT_EQ(supplies.getitem("water"), 7);
    EXPECT_EQ(pets.getitem("hamsters"), 4);

    auto l = manager.list<Counts>({pets, supplies});
    l.getitem(0).setitem("marmots", 1);
    EXPECT_EQ(pets.getitem("marmots"), 1);
    EXPECT_EQ(l.getitem(0).getitem("marmots"), 1);
    pets = Counts();
    supplies = Counts();
    EXPECT_EQ(l.getitem(0).getitem("marmots"), 1);
    // outer = list([[88, 99], l]): a list mixing a plain list and a proxy has no C++ type.
    EXPECT_EQ(l.getitem(-1).getitem("feed"), 3);
}

// _test_multiprocessing.py: _TestContainers.test_nested_queue
TEST(TestContainers, test_nested_queue) {
    auto manager = mp::Manager();
    auto a = manager.list<mp::QueueProxy<int>>();
    a.append(manager.Queue<int>());
    a.getitem(0).put(123);
    EXPECT_EQ(a.getitem(0).get(), 123);
    auto b = manager.dict<int, mp::QueueProxy<int>>();
    b.setitem(0, manager.Queue<int>());
    b.getitem(0).put(456);
    EXPECT_EQ(b.getitem(0).get(), 456);
}

// _test_multiprocessing.py: _TestContainers.test_namespace (str(n) is "Namespace(name='Bob')":
// names() lists every attribute, the underscored ones too, which Python's repr hides)
TEST(TestContainers, test_namespace) {
    auto manager = mp::Manager();
    auto n = manager.Namespace();
    n.setattr("name", std::string("Bob"));
    n.setattr("job", std::string("Builder"));
    n.setattr("_hidden", std::string("hidden"));
    EXPECT_EQ(n.getattr<std::string>("name"), "Bob");
    EXPECT_EQ(n.getattr<std::string>("job"), "Builder");
    n.delattr("job");
    EXPECT_EQ(n.names(), (std::vector<std::string>{"_hidden", "name"}));
    EXPECT_TRUE(n.hasattr("name"));
    EXPECT_FALSE(n.hasattr("job"));
}

// ---- managers: _TestMyManager ----------------------------------------------------------------------

struct FooBar {
    std::string f() const { return "f()"; }
    std::string g() const { throw std::invalid_argument("ValueError"); }
    std::string h() const { return "_h()"; }  // Python's _h: not exposed by default
};

// MyManager.register('Foo', callable=FooBar); register('Bar', callable=FooBar, exposed=('f', '_h'))
// (C++ has no default exposure: each registration lists its methods; 'baz', an iterator proxy,
// has no counterpart.)
class MyManager : public mp::BaseManager {
public:
    MyManager() : foo_(register_type<FooBar>("Foo")), bar_(register_type<FooBar>("Bar")) {
        foo_.expose<&FooBar::f>("f").expose<&FooBar::g>("g");
        bar_.expose<&FooBar::f>("f").expose<&FooBar::h>("_h");
    }
    mp::Proxy<FooBar> Foo() const { return foo_.create(); }
    mp::Proxy<FooBar> Bar() const { return bar_.create(); }

private:
    mp::TypeRegistration<FooBar, void> foo_, bar_;
};

void common(const MyManager& manager) {
    auto foo = manager.Foo();
    auto bar = manager.Bar();
    EXPECT_EQ(foo.call<&FooBar::f>(), "f()");
    EXPECT_THROW(foo.call<&FooBar::g>(), std::invalid_argument);
    EXPECT_THROW(foo.call<&FooBar::h>(), nogil::AttributeError);  // Python: RemoteError
    EXPECT_EQ(bar.call<&FooBar::f>(), "f()");
    EXPECT_EQ(bar.call<&FooBar::h>(), "_h()");
}

bool ended_cleanly(const MyManager& manager) {  // bpo-30356: 0, or SIGTERM on a slow machine
    auto code = manager.exitcode();
    return code == 0 || code == -SIGTERM;
}

// _test_multiprocessing.py: _TestMyManager.test_mymanager
TEST(TestMyManager, test_mymanager) {
    MyManager manager;
    manager.start();
    common(manager);
    manager.shutdown();
    EXPECT_TRUE(ended_cleanly(manager));
}

// _test_multiprocessing.py: _TestMyManager.test_mymanager_context (`with manager:` is a scope:
// the destructor shuts the server down; the exit code is read through a second handle)
TEST(TestMyManager, test_mymanager_context) {
    std::optional<MyManager> manager(std::in_place);
    manager->start();
    common(*manager);
    auto pid = manager->pid();
    manager.reset();
    ASSERT_TRUE(pid.has_value());
    EXPECT_NE(::kill(*pid, 0), 0);  // reaped: the server is gone
}

// _test_multiprocessing.py: _TestMyManager.test_mymanager_context_prestarted
TEST(TestMyManager, test_mymanager_context_prestarted) {
    MyManager manager;
    manager.start();
    common(manager);
    manager.shutdown();
    EXPECT_EQ(manager.exitcode(), 0);
}

// ---- managers: _TestRemoteManager, _TestManagerRestart -------------------------------------------------

// The values of _TestRemoteManager, typed: 'hello world', None, True, 2.25, two non-ASCII strings
// and the bytes b'hall\xe5 v\xe4rlden'.
using Values = std::tuple<std::string, std::optional<int>, bool, double, std::string, std::string, std::string>;
const Values values{"hello world", std::nullopt, true, 2.25, "hall\u00e5 v\u00e4rlden",
                    "\u043f\u0440\u0438\u0432\u0456\u0442 \u0441\u0432\u0456\u0442", "hall\xe5 v\xe4rlden"};

struct SharedQueue {
    nogil::queue::Queue<Values> queue;
    void put(Values v) { queue.put(std::move(v)); }
    Values get() { return queue.get(); }
};
std::shared_ptr<SharedQueue> the_queue() {  // _queue = pyqueue.Queue(); def get_queue(): return _queue
    static auto queue = std::make_shared<SharedQueue>();
    return queue;
}

// QueueManager.register('get_queue', callable=get_queue) (QueueManager2, which registers the name
// without a callable, is the same class here: the client names the same function).
class QueueManager : public mp::BaseManager {
public:
    explicit QueueManager(mp::ManagerOptions options)
        : BaseManager(std::move(options)), get_queue_(register_type<SharedQueue>("get_queue", the_queue)) {
        get_queue_.expose<&SharedQueue::put>("put").expose<&SharedQueue::get>("get").concurrent();
    }
    mp::Proxy<SharedQueue> get_queue() const { return get_queue_.create(); }

private:
    mp::TypeRegistration<SharedQueue, std::shared_ptr<SharedQueue> (*)()> get_queue_;
};

void putter(std::string address, std::string authkey) {
    QueueManager manager({.address = address, .authkey = authkey, .start_method = ""});
    manager.connect();
    manager.get_queue().call<&SharedQueue::put>(values);
}

// _test_multiprocessing.py: _TestRemoteManager.test_remote (a Unix socket, not TCP; cereal, not
// xmlrpclib: the "cannot serialize time.sleep" half is a compile error here)
TEST(TestRemoteManager, test_remote) {
    std::string authkey = "0123456789abcdef0123456789abcdef";
    QueueManager manager({.address = "", .authkey = authkey, .start_method = ""});
    manager.start();
    mp::Process p(putter, manager.address(), authkey, mp::ProcessOptions{.daemon = true});
    p.start();
    QueueManager manager2({.address = manager.address(), .authkey = authkey, .start_method = ""});
    manager2.connect();
    auto queue = manager2.get_queue();
    EXPECT_EQ(queue.call<&SharedQueue::get>(), values);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
}

// _test_multiprocessing.py: _TestManagerRestart.test_rapid_restart — a second manager binds the
// address the first one used at once.
TEST(TestManagerRestart, test_rapid_restart) {
    std::string dir = "/tmp/nogil-restart-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    std::string address = dir + "/manager";
    std::string authkey = "restart key";
    {
        QueueManager manager({.address = address, .authkey = authkey, .start_method = ""});
        manager.start();
        mp::Process p(putter, address, authkey);
        p.start();
        p.join(kBound);
        EXPECT_EQ(p.exitcode(), 0);
        EXPECT_EQ(manager.get_queue().call<&SharedQueue::get>(), values);
        manager.shutdown();
    }
    QueueManager manager({.address = address, .authkey = authkey, .start_method = ""});
    manager.start();
    manager.get_queue().call<&SharedQueue::put>(values);
    EXPECT_EQ(manager.get_queue().call<&SharedQueue::get>(), values);
    manager.shutdown();
    ::rmdir(dir.c_str());
}

}  // namespace
