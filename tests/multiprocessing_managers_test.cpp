// multiprocessing/managers.hpp: SyncManager's built-in proxies, registered types, proxies in
// children and Pool workers, many threads on one proxy, and the attacks: a manager killed with
// SIGKILL mid-call, proxies after shutdown, a wrong authkey, garbage on the socket, big values.
#include "multiprocessing/detail/hmac.hpp"
#include "multiprocessing_test_support.hpp"

#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace mp = nogil::multiprocessing;
using namespace std::chrono_literals;
using mp_test::ChildrenTest;
using mp_test::StartMethodTest;

std::string hex(const nogil::multiprocessing::detail::Digest& d) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto b : d) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

// ---- the handshake ------------------------------------------------------------------------------

TEST(ManagerAuth, HmacSha256MatchesRfc4231) {
    namespace d = nogil::multiprocessing::detail;
    EXPECT_EQ(hex(d::sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(d::sha256(std::string(1000, 'a'))),
              "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    // RFC 4231 test cases 1, 2 and 6 (a key longer than a block).
    EXPECT_EQ(hex(d::hmac_sha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex(d::hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex(d::hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Pins the handshake steps 1-4 (manager_socket.hpp): both sides prove the key.
TEST(ManagerAuth, WrongAuthkeyIsRefused) {
    mp::SyncManager server({.address = "", .authkey = "right key", .start_method = ""});
    server.start();
    mp::SyncManager wrong({.address = server.address(), .authkey = "wrong key", .start_method = ""});
    EXPECT_THROW(wrong.connect(), nogil::AuthenticationError);
    mp::SyncManager right({.address = server.address(), .authkey = "right key", .start_method = ""});
    right.connect();
    auto d = right.dict<int, int>();
    d.setitem(1, 2);
    EXPECT_EQ(d.getitem(1), 2);
}

// ---- the built-in kinds ----------------------------------------------------------------------------

TEST(ManagerDict, PythonDictBehaviour) {
    auto manager = mp::Manager();
    auto d = manager.dict<std::string, int>();
    EXPECT_EQ(d.len(), 0u);
    d.setitem("b", 2);
    d.setitem("a", 1);
    d.setitem("b", 3);  // keeps its place
    EXPECT_EQ(d.getitem("b"), 3);
    EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a"}));
    EXPECT_THROW(d.getitem("zz"), nogil::KeyError);
    EXPECT_EQ(d.get("zz"), std::nullopt);
    EXPECT_EQ(d.get("zz", 7), 7);
    EXPECT_TRUE(d.contains("a"));
    EXPECT_EQ(d.setdefault("c", 9), 9);
    EXPECT_EQ(d.setdefault("c", 10), 9);
    EXPECT_EQ(d.pop("a"), 1);
    EXPECT_THROW(d.pop("a"), nogil::KeyError);
    EXPECT_THROW(d.delitem("a"), nogil::KeyError);
    d.update({{"x", 1}, {"y", 2}});
    EXPECT_EQ(d.items(), (std::vector<std::pair<std::string, int>>{{"b", 3}, {"c", 9}, {"x", 1}, {"y", 2}}));
    EXPECT_EQ(d.popitem(), (std::pair<std::string, int>{"y", 2}));
    EXPECT_EQ(d.values(), (std::vector<int>{3, 9, 1}));
    d.clear();
    EXPECT_THROW(d.popitem(), nogil::KeyError);
}

TEST(ManagerList, PythonListBehaviour) {
    auto manager = mp::Manager();
    auto l = manager.list<int>({1, 2, 3});
    l.append(4);
    l.extend({5, 6});
    EXPECT_EQ(l.len(), 6u);
    EXPECT_EQ(l.getitem(-1), 6);
    EXPECT_THROW(l.getitem(6), std::out_of_range);
    l.setitem(0, 10);
    l.insert(-100, 0);  // clamps to the front
    l.insert(100, 7);   // and to the end
    EXPECT_EQ(l.tolist(), (std::vector<int>{0, 10, 2, 3, 4, 5, 6, 7}));
    EXPECT_EQ(l.pop(), 7);
    EXPECT_EQ(l.pop(0), 0);
    l.delitem(1);
    EXPECT_EQ(l.index(4), 2u);
    EXPECT_THROW(l.index(99), std::invalid_argument);
    l.append(4);
    EXPECT_EQ(l.count(4), 2u);
    l.remove(4);
    EXPECT_EQ(l.tolist(), (std::vector<int>{10, 3, 5, 6, 4}));
    l.reverse();
    EXPECT_EQ(l.tolist(), (std::vector<int>{4, 6, 5, 3, 10}));
    l.clear();
    EXPECT_THROW(l.pop(), std::out_of_range);
}

TEST(ManagerQueue, FullEmptyAndJoin) {
    auto manager = mp::Manager();
    auto q = manager.Queue<std::string>(2);
    EXPECT_TRUE(q.empty());
    q.put("a");
    q.put_nowait("b");
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait("c"), nogil::queue::Full);
    EXPECT_THROW(q.put("c", 10ms), nogil::queue::Full);
    EXPECT_EQ(q.qsize(), 2u);
    EXPECT_EQ(q.get(), "a");
    EXPECT_EQ(q.get_nowait(), "b");
    EXPECT_THROW(q.get_nowait(), nogil::queue::Empty);
    EXPECT_THROW(q.get(10ms), nogil::queue::Empty);
    q.put("c");
    q.get();
    for (int i = 0; i < 3; ++i) q.task_done();  // "a", "b" and "c"
    q.join();                                   // every item done
    EXPECT_THROW(q.task_done(), std::invalid_argument);
}

TEST(ManagerSync, EventLockRLockSemaphoreBarrier) {
    auto manager = mp::Manager();
    auto e = manager.Event();
    EXPECT_FALSE(e.is_set());
    EXPECT_FALSE(e.wait(1ms));
    e.set();
    EXPECT_TRUE(e.wait());
    e.clear();
    EXPECT_FALSE(e.is_set());

    auto lock = manager.Lock();
    EXPECT_TRUE(lock.acquire());
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_FALSE(lock.acquire(1ms));
    lock.release();
    EXPECT_THROW(lock.release(), std::runtime_error);
    { std::lock_guard guard(lock); }

    auto rlock = manager.RLock();
    EXPECT_TRUE(rlock.acquire());
    EXPECT_TRUE(rlock.acquire());  // this thread owns it
    rlock.release();
    rlock.release();
    EXPECT_THROW(rlock.release(), std::runtime_error);

    auto sem = manager.Semaphore(2);
    EXPECT_TRUE(sem.acquire());
    EXPECT_TRUE(sem.acquire());
    EXPECT_FALSE(sem.acquire(false));
    sem.release();
    auto bounded = manager.BoundedSemaphore(1);
    EXPECT_THROW(bounded.release(), std::invalid_argument);

    auto barrier = manager.Barrier(1);
    EXPECT_EQ(barrier.parties(), 1u);
    EXPECT_EQ(barrier.wait(), 0u);
    barrier.abort();
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(barrier.wait(), nogil::BrokenBarrierError);
}

TEST(ManagerValueNamespace, GetSetAndMissingAttribute) {
    auto manager = mp::Manager();
    auto v = manager.Value<double>(1.5);
    EXPECT_EQ(v.get(), 1.5);
    v.set(2.5);
    EXPECT_EQ(v.get(), 2.5);
    auto ns = manager.Namespace();
    ns.setattr("name", std::string("x"));
    ns.setattr("n", 3);
    EXPECT_EQ(ns.getattr<std::string>("name"), "x");
    EXPECT_EQ(ns.getattr<int>("n"), 3);
    EXPECT_EQ(ns.names(), (std::vector<std::string>{"n", "name"}));
    ns.delattr("n");
    EXPECT_FALSE(ns.hasattr("n"));
    EXPECT_THROW(ns.getattr<int>("n"), nogil::AttributeError);
}

TEST(ManagerValues, BigValuesCrossWhole) {
    auto manager = mp::Manager();
    auto d = manager.dict<int, std::string>();
    std::string big(8 << 20, 'x');
    big[12345] = 'y';
    d.setitem(1, big);
    EXPECT_EQ(d.getitem(1), big);
    std::vector<int> many(200000);
    for (int i = 0; i < 200000; ++i) many[i] = i;
    auto l = manager.list<int>(many);
    EXPECT_EQ(l.tolist(), many);
}

TEST(ManagerValues, DescriptorsAreRefused) {
    auto manager = mp::Manager();
    auto q = manager.Queue<mp::Connection>();
    auto [a, b] = mp::Pipe();
    EXPECT_THROW(q.put(a), std::invalid_argument);
}

// ---- lifecycle ------------------------------------------------------------------------------------

TEST(ManagerLifecycle, StatesFollowPython) {
    mp::SyncManager manager;
    EXPECT_THROW((manager.dict<int, int>()), nogil::ProcessError);  // not started
    manager.start();
    EXPECT_TRUE(manager.pid().has_value());
    EXPECT_THROW(manager.start(), nogil::ProcessError);
    manager.shutdown();
    manager.shutdown();  // idempotent
    EXPECT_THROW(manager.start(), nogil::ProcessError);
    EXPECT_THROW((manager.dict<int, int>()), nogil::ProcessError);
}

// Pins the manager protocol step 1 (manager_server.hpp): once the server is gone, nothing listens.
TEST(ManagerLifecycle, ProxyAfterShutdownIsRefused) {
    auto manager = std::make_unique<mp::SyncManager>(mp::Manager());
    auto d = manager->dict<int, int>();
    d.setitem(1, 1);  // this thread now has a connection
    manager.reset();  // the destructor shuts the server down, and this process forgets it
    EXPECT_THROW(d.getitem(1), nogil::ConnectionRefusedError);  // nothing listens there any more
    std::thread([&] { EXPECT_THROW(d.getitem(1), nogil::ConnectionRefusedError); }).join();
}

TEST(ManagerLifecycle, ShutdownOfAServerThatDiedIsQuiet) {
    auto manager = mp::Manager();
    auto d = manager.dict<int, int>();
    ASSERT_EQ(::kill(*manager.pid(), SIGKILL), 0);
    EXPECT_THROW(d.setitem(1, 1), nogil::EOFError);
    manager.shutdown();
}

std::optional<mp::SyncManager> forked_manager;  // a fork-started child has a copy of it

void drop_copy_of_manager(mp::Connection done) {
    // A forked child holding a copy of the parent's manager object: destroying it must not stop
    // the parent's server.
    forked_manager.reset();
    done.send(1);
}

class ManagerFork : public ChildrenTest {};

TEST_F(ManagerFork, AForkedCopyDoesNotShutTheServerDown) {
    forked_manager.emplace(mp::Manager());
    auto d = forked_manager->dict<int, int>();
    auto [parent, child] = mp::Pipe();
    mp::Process p(drop_copy_of_manager, child, mp::ProcessOptions{.start_method = "fork"});
    p.start();
    EXPECT_EQ(parent.recv<int>(), 1);
    p.join(mp_test::kBound);
    EXPECT_EQ(p.exitcode(), 0);
    d.setitem(1, 1);  // still served
    EXPECT_EQ(d.getitem(1), 1);
    forked_manager.reset();
}

// ---- refcounting -----------------------------------------------------------------------------------

void hold_then_drop(mp::DictProxy<int, int> d, mp::Connection done) {
    d.setitem(2, 2);
    done.send(1);
}

class ManagerRefcount : public ChildrenTest {};

// Pins the reference counting of multiprocessing/detail/manager.hpp, and the manager protocol step
// 3 (manager_server.hpp): an object goes with its last proxy unless a proxy of it crossed (then it
// stays until shutdown).
TEST_F(ManagerRefcount, ObjectsGoWithTheirLastProxy) {
    auto manager = mp::Manager();
    EXPECT_EQ(manager.number_of_objects(), 0u);
    {
        auto d = manager.dict<int, int>();
        auto copy = d;
        auto l = manager.list<int>();
        EXPECT_EQ(manager.number_of_objects(), 2u);
        auto [parent, child] = mp::Pipe();
        mp::Process p(hold_then_drop, d, child);
        p.start();
        EXPECT_EQ(parent.recv<int>(), 1);
        p.join(mp_test::kBound);
        EXPECT_EQ(p.exitcode(), 0);
        EXPECT_EQ(copy.getitem(2), 2);
    }
    // The list never crossed: gone with its proxy. The dict crossed to the child: the bytes that
    // carried it kept a reference, which the server cannot see go (docs/multiprocessing.md).
    EXPECT_EQ(manager.number_of_objects(), 1u);
}

TEST_F(ManagerRefcount, ProxiesStoredInsideManagedObjectsStayValid) {
    auto manager = mp::Manager();
    auto outer = manager.list<mp::ListProxy<int>>();
    {
        auto inner = manager.list<int>({1, 2});
        outer.append(inner);
    }  // the only proxy in this process is gone; the stored bytes still reach the object
    for (int round = 0; round < 3; ++round) {  // each read builds a proxy that takes its own reference
        auto inner = outer.getitem(0);
        inner.append(round);
    }
    EXPECT_EQ(outer.getitem(0).tolist(), (std::vector<int>{1, 2, 0, 1, 2}));
}

// ---- proxies in other processes --------------------------------------------------------------------

void child_work(mp::DictProxy<std::string, int> d, mp::ListProxy<int> l, mp::QueueProxy<std::string> q,
                mp::EventProxy e, mp::ValueProxy<int> v, mp::NamespaceProxy ns) {
    d.setitem("child", d.getitem("parent") + 1);
    l.append(42);
    q.put("from child");
    v.set(v.get() * 2);
    ns.setattr("seen", true);
    e.set();
}

class ManagerProcessTest : public StartMethodTest {};

TEST_P(ManagerProcessTest, ProxiesCrossToAChild) {
    auto manager = mp::Manager();
    auto d = manager.dict<std::string, int>();
    auto l = manager.list<int>();
    auto q = manager.Queue<std::string>();
    auto e = manager.Event();
    auto v = manager.Value<int>(21);
    auto ns = manager.Namespace();
    d.setitem("parent", 1);
    mp::Process p(child_work, d, l, q, e, v, ns, options());
    p.start();
    EXPECT_EQ(q.get(), "from child");
    EXPECT_TRUE(e.wait());
    p.join(mp_test::kBound);
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(d.getitem("child"), 2);
    EXPECT_EQ(l.tolist(), std::vector<int>{42});
    EXPECT_EQ(v.get(), 42);
    EXPECT_TRUE(ns.getattr<bool>("seen"));
}

TEST_P(ManagerProcessTest, ServerRunsWithEachStartMethod) {
    MP_SKIP_IF_TSAN_FORK_CHILD_STARTS_THREADS();  // the server's connection threads
    mp::SyncManager manager({.address = "", .authkey = "", .start_method = GetParam()});
    manager.start();
    auto d = manager.dict<int, int>();
    d.setitem(1, 2);
    EXPECT_EQ(d.getitem(1), 2);
}

MP_INSTANTIATE_START_METHODS(ManagerProcessTest);

int add_under_lock(mp::AcquirerProxy lock, mp::ValueProxy<int> total, int n) {
    for (int i = 0; i < n; ++i) {
        std::lock_guard guard(lock);
        total.set(total.get() + 1);
    }
    return n;
}

class ManagerPool : public ChildrenTest {};

TEST_F(ManagerPool, ProxiesInPoolWorkers) {
    auto manager = mp::Manager();
    auto lock = manager.Lock();
    auto total = manager.Value<int>(0);
    mp::Pool pool(2);
    auto a = pool.apply_async(add_under_lock, lock, total, 50);
    auto b = pool.apply_async(add_under_lock, lock, total, 50);
    EXPECT_EQ(a.get() + b.get(), 100);
    EXPECT_EQ(total.get(), 100);
}

// ---- many threads on one proxy -----------------------------------------------------------------------

// Pins the manager protocol step 2 (manager_server.hpp): a connection per thread, a server thread
// per connection.
TEST(ManagerThreads, ManyThreadsShareOneProxy) {
    auto manager = mp::Manager();
    auto d = manager.dict<int, int>();
    auto lock = manager.Lock();
    d.setitem(0, 0);
    constexpr int threads = 8, rounds = 100;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < rounds; ++i) {
                d.setitem(t * 1000 + i + 1, i);  // no lock: each call is atomic in the server
                std::lock_guard guard(lock);
                d.setitem(0, d.getitem(0) + 1);
            }
        });
    for (auto& th : pool) th.join();
    EXPECT_EQ(d.getitem(0), threads * rounds);
    EXPECT_EQ(d.len(), std::size_t(threads * rounds + 1));
}

TEST(ManagerThreads, RLockIsOwnedByTheCallingThread) {
    auto manager = mp::Manager();
    auto rlock = manager.RLock();
    ASSERT_TRUE(rlock.acquire());
    std::thread([&] {
        EXPECT_FALSE(rlock.acquire(false));               // held by the main thread
        EXPECT_THROW(rlock.release(), std::runtime_error);  // not this thread's
    }).join();
    rlock.release();
}

// ---- registered types ------------------------------------------------------------------------------

struct Counter {
    int n = 0;
    int add(int k) { return n += k; }
    int value() const { return n; }
    void fail() const { throw std::out_of_range("counter failed"); }
    std::string secret() const { return "not exposed"; }
};
Counter make_counter(int start) { return Counter{start}; }
std::shared_ptr<Counter> the_counter() {
    static auto shared = std::make_shared<Counter>();
    return shared;
}

TEST(ManagerRegister, UserTypeMethodsRunInTheServer) {
    mp::BaseManager manager;
    auto counters = manager.register_type<Counter>("Counter", make_counter);
    counters.expose<&Counter::add>("add").expose<&Counter::value>("value").expose<&Counter::fail>("fail");
    auto defaults = manager.register_type<Counter>("Plain");
    defaults.expose<&Counter::value>("value");
    manager.start();
    EXPECT_THROW(manager.register_type<Counter>("Late"), nogil::ProcessError);
    auto c = counters.create(5);
    EXPECT_EQ(c.call<&Counter::add>(3), 8);
    EXPECT_EQ(c.call<&Counter::value>(), 8);
    EXPECT_THROW(c.call<&Counter::fail>(), std::out_of_range);
    EXPECT_THROW(c.call<&Counter::secret>(), nogil::AttributeError);
    EXPECT_EQ(defaults.create().call<&Counter::value>(), 0);
}

TEST(ManagerRegister, SharedObjectThroughAConnectedManager) {
    mp::BaseManager server({.address = "", .authkey = "k", .start_method = ""});
    auto shared = server.register_type<Counter>("Shared", the_counter);
    shared.expose<&Counter::add>("add");
    server.start();
    mp::BaseManager client({.address = server.address(), .authkey = "k", .start_method = ""});
    auto remote = client.register_type<Counter>("Shared", the_counter);
    remote.expose<&Counter::add>("add");
    client.connect();
    EXPECT_EQ(shared.create().call<&Counter::add>(1), 1);
    EXPECT_EQ(remote.create().call<&Counter::add>(1), 2);  // the same object in the server
}

// ---- attacks ---------------------------------------------------------------------------------------

/// A thread blocked in a call inside the manager's server: Barrier(2).wait() with no second party.
/// The constructor returns once the call is in the server; outcome() joins and gives what the
/// call threw.
class CallBlockedInServer {
public:
    explicit CallBlockedInServer(mp::BarrierProxy& barrier) : thread_([this, &barrier] {
        try {
            barrier.wait();
        } catch (...) {
            seen_ = std::current_exception();
        }
    }) {
        while (barrier.n_waiting() == 0) std::this_thread::yield();
    }
    std::exception_ptr outcome() {
        thread_.join();
        return seen_;
    }

private:
    std::exception_ptr seen_;
    std::thread thread_;
};

TEST(ManagerAttack, KilledWithSigkillMidCallNeverHangs) {
    auto manager = mp::Manager();
    auto barrier = manager.Barrier(2);
    CallBlockedInServer blocked(barrier);
    ASSERT_EQ(::kill(*manager.pid(), SIGKILL), 0);
    const std::exception_ptr seen = blocked.outcome();
    ASSERT_TRUE(seen);
    EXPECT_THROW(std::rethrow_exception(seen), nogil::EOFError);
}

// Pins the manager protocol step 2 (manager_server.hpp): a blocked method blocks only its connection.
TEST(ManagerAttack, BlockedCallDoesNotBlockOthers) {
    auto manager = mp::Manager();
    auto q = manager.Queue<int>();
    auto d = manager.dict<int, int>();
    std::thread getter([&] { EXPECT_EQ(q.get(), 7); });
    for (int i = 0; i < 100; ++i) d.setitem(i, i);  // served while the get blocks
    EXPECT_EQ(d.len(), 100u);
    q.put(7);
    getter.join();
}

// Pins the manager protocol step 4 (manager_server.hpp): shutdown ends the server whatever its
// connections were doing; their callers see EOFError.
TEST(ManagerAttack, ShutdownWhileCallsBlock) {
    auto manager = std::make_unique<mp::SyncManager>(mp::Manager());
    auto barrier = manager->Barrier(2);
    CallBlockedInServer blocked(barrier);
    manager.reset();  // shutdown() does not wait for the blocked call
    const std::exception_ptr seen = blocked.outcome();
    ASSERT_TRUE(seen);
    EXPECT_THROW(std::rethrow_exception(seen), nogil::EOFError);
}

/// A raw connection to the manager's socket.
int raw_connect(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
}

// Pins the handshake's 256-byte limit (manager_socket.hpp).
TEST(ManagerAttack, GarbageAndHugeFramesBeforeAuthAreDropped) {
    auto manager = mp::Manager();
    auto d = manager.dict<int, int>();
    for (int round = 0; round < 2; ++round) {
        int fd = raw_connect(manager.address());
        char buf[256];
        ASSERT_GT(::read(fd, buf, sizeof buf), 0);  // the challenge
        if (round == 0) {
            const char garbage[] = "this is not a frame header at all";
            ASSERT_GT(::write(fd, garbage, sizeof garbage), 0);
        } else {  // a valid header announcing 1 GiB: refused by the 256-byte handshake limit
            std::uint32_t magic = 0;
            std::memcpy(&magic, buf, 4);
            unsigned char header[16] = {};
            std::memcpy(header, &magic, 4);
            header[4] = buf[4];
            header[5] = 1;
            std::uint64_t length = std::uint64_t{1} << 30;
            std::memcpy(header + 8, &length, 8);
            ASSERT_EQ(::write(fd, header, sizeof header), 16);
        }
        EXPECT_LE(::read(fd, buf, sizeof buf), 0);  // the server hung up (EOF, or a reset: it left data unread)
        ::close(fd);
    }
    d.setitem(1, 1);  // and still serves the rest
    EXPECT_EQ(d.getitem(1), 1);
}

}  // namespace
