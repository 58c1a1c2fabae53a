// Mirrors the core of CPython's _test_multiprocessing.py _TestSharedMemory.
#include "multiprocessing_test_support.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>
#include <filesystem>
#include "multiprocessing/detail/resource_tracker.hpp"
#include <sys/socket.h>
#include <sys/wait.h>

namespace mp = nogil::multiprocessing;
using mp::shared_memory::SharedMemory;
using namespace mp_test;

namespace {

bool in_dev_shm(const std::string& name) { return std::filesystem::exists("/dev/shm/" + name); }

void write_hello(SharedMemory shm, std::string name) {
    SharedMemory attached(name);  // attach by name, as another program would
    std::memcpy(attached.buf().data(), "hello", 5);
    shm.buf()[5] = std::byte{'!'};
    attached.close();
}

using SharedMemoryTest = StartMethodTest;

TEST_P(SharedMemoryTest, ChildWritesParentReads) {
    SharedMemory shm(std::nullopt, true, 64);
    mp::Process p(write_hello, shm, shm.name(), options());
    p.start();
    p.join(kBound);
    ASSERT_EQ(p.exitcode(), 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data()), 6), "hello!");
    shm.close();
    shm.unlink();
    EXPECT_FALSE(in_dev_shm(shm.name()));
}


TEST(SharedMemory, CreateAttachCloseUnlink) {
    SharedMemory shm("nogil_test_shm_" + std::to_string(::getpid()), true, 100);
    EXPECT_EQ(shm.name(), "nogil_test_shm_" + std::to_string(::getpid()));
    EXPECT_EQ(shm.size(), 100u);
    EXPECT_TRUE(in_dev_shm(shm.name()));
    shm.buf()[0] = std::byte{42};
    SharedMemory other(shm.name());
    EXPECT_GE(other.size(), 100u);
    EXPECT_EQ(other.buf()[0], std::byte{42});
    EXPECT_THROW(SharedMemory(shm.name(), true, 10), nogil::OSError);  // exists
    other.close();
    EXPECT_TRUE(other.buf().empty());
    other.close();  // idempotent
    shm.unlink();
    EXPECT_FALSE(in_dev_shm(shm.name()));
    EXPECT_EQ(shm.buf()[0], std::byte{42});  // still mapped after unlink
    EXPECT_THROW(SharedMemory{shm.name()}, nogil::OSError);  // gone
    EXPECT_THROW(shm.unlink(), nogil::OSError);
}

TEST(SharedMemory, BadArguments) {
    EXPECT_THROW(SharedMemory(std::nullopt, false), std::invalid_argument);
    EXPECT_THROW(SharedMemory(std::nullopt, true, 0), std::invalid_argument);
    EXPECT_THROW(SharedMemory("a/b", true, 10), std::invalid_argument);
}

TEST(SharedMemory, RandomNamesAreUnique) {
    SharedMemory a(std::nullopt, true, 10), b(std::nullopt, true, 10);
    EXPECT_NE(a.name(), b.name());
    EXPECT_EQ(a.name().rfind("psm_", 0), 0u);
    a.unlink();
    b.unlink();
}

}  // namespace

namespace {

void create_and_forget(mp::Connection conn) {
    SharedMemory shm(std::nullopt, true, 128);  // never unlinked
    conn.send(shm.name());
}

TEST_P(SharedMemoryTest, SegmentCreatedInAChildOutlivesTheChild) {
    auto [conn, child] = mp::Pipe();
    mp::Process p(create_and_forget, child, options());
    p.start();
    ASSERT_TRUE(conn.poll(kBound));
    std::string name = conn.recv<std::string>();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_TRUE(in_dev_shm(name));  // as in Python: the program's tracker unlinks it at the end
    SharedMemory attached(name);
    attached.unlink();
    EXPECT_FALSE(in_dev_shm(name));
}

TEST(ResourceTracker, UnlinksWhatIsLeftWhenEveryHolderIsGone) {
    auto [pid, fd] = nogil::multiprocessing::detail::start_resource_tracker();
    SharedMemory kept(std::nullopt, true, 10, false);
    SharedMemory released(std::nullopt, true, 10, false);
    std::string r1 = "R/" + kept.name(), r2 = "R/" + released.name(), u2 = "U/" + released.name();
    ASSERT_GT(::send(fd.get(), r1.data(), r1.size(), 0), 0);
    ASSERT_GT(::send(fd.get(), r2.data(), r2.size(), 0), 0);
    ASSERT_GT(::send(fd.get(), u2.data(), u2.size(), 0), 0);
    fd.reset();  // the last holder: as if the whole program had ended (or been killed)
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_FALSE(in_dev_shm(kept.name()));
    EXPECT_TRUE(in_dev_shm(released.name()));  // unregistered: left to its owner
    released.unlink();
}

}  // namespace

// ShareableList: mirrors CPython's test_shared_memory_ShareableList_basics / _pickling.
namespace {

using mp::shared_memory::Bytes;
using mp::shared_memory::ShareableList;
using Item = ShareableList::Item;

Bytes bytes_of(std::string_view s) {
    Bytes b;
    for (char c : s) b.push_back(static_cast<std::byte>(c));
    return b;
}

TEST(ShareableList, ItemsFormatAndFixedCapacity) {
    ShareableList sl({std::int64_t{-7}, 2.5, true, "howdy", std::monostate{}, bytes_of("\x01\x02"), 42});
    ASSERT_EQ(sl.size(), 7u);
    EXPECT_EQ(sl.get(0), Item(std::int64_t{-7}));
    EXPECT_EQ(sl.get(1), Item(2.5));
    EXPECT_EQ(sl.get(2), Item(true));
    EXPECT_EQ(sl.get(3), Item(std::string("howdy")));
    EXPECT_EQ(sl.get(4), Item(std::monostate{}));
    EXPECT_EQ(sl.get(5), Item(bytes_of("\x01\x02")));
    EXPECT_EQ(sl[-1].get(), Item(std::int64_t{42}));  // negative indices count from the end
    EXPECT_EQ(sl.format(), "qdxxxxxxx?8sxxxxxx?x8sq");

    sl[3] = "hi";  // shorter: fits
    EXPECT_EQ(sl.get(3), Item(std::string("hi")));
    sl[3] = "12345678";  // exactly the slot's capacity (5 rounded up to 8)
    EXPECT_EQ(sl.get(3), Item(std::string("12345678")));
    EXPECT_THROW(sl[3] = "123456789", std::invalid_argument);  // Python's ValueError
    EXPECT_EQ(sl.get(3), Item(std::string("12345678")));       // unchanged by the failed store
    EXPECT_THROW(sl.set(0, std::string("more than eight")), std::invalid_argument);
    sl[0] = "eight ch";  // a str in a number's 8 bytes, as Python allows
    EXPECT_EQ(sl.get(0), Item(std::string("eight ch")));
    sl[3] = 3.25;  // a float where a str was
    EXPECT_EQ(sl.get(3), Item(3.25));
    EXPECT_EQ(sl.format(), "8sdxxxxxxx?dxxxxxx?x8sq");
    sl[4] = std::monostate{};
    sl[6] = std::monostate{};
    EXPECT_EQ(sl.count(Item(std::monostate{})), 2u);
    EXPECT_EQ(sl.index(Item(std::monostate{})), 4u);
    EXPECT_EQ(sl.index(Item(3.25)), 3u);
    EXPECT_EQ(sl.count(Item(std::int64_t{99})), 0u);
    EXPECT_THROW((void)sl.index(Item(std::int64_t{99})), std::invalid_argument);

    EXPECT_THROW((void)sl.get(7), std::out_of_range);  // Python's IndexError
    EXPECT_THROW((void)sl.get(-8), std::out_of_range);
    EXPECT_THROW(sl.set(7, std::int64_t{1}), std::out_of_range);

    auto attached = ShareableList::attach(sl.shm().name());  // ShareableList(name=...)
    EXPECT_EQ(attached.size(), 7u);
    attached[1] = false;
    EXPECT_EQ(sl.get(1), Item(false));
    sl.shm().unlink();
}

TEST(ShareableList, EmptyNamedAndNotAList) {
    std::string name = "nogil_test_sl_" + std::to_string(::getpid());
    ShareableList empty({}, name);
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.shm().name(), name);
    EXPECT_EQ(empty.format(), "");
    EXPECT_THROW(ShareableList({}, name), nogil::OSError);  // the name is taken
    EXPECT_EQ(ShareableList::attach(name).size(), 0u);
    empty.shm().unlink();

    SharedMemory plain(std::nullopt, true, 64);  // zero-filled: no magic
    EXPECT_THROW(ShareableList::attach(plain.name()), std::invalid_argument);
    plain.unlink();
    EXPECT_THROW(ShareableList::attach("nogil_test_no_such_list"), nogil::OSError);
}

void bump_and_rename(ShareableList sl) {
    sl[0] = std::get<std::int64_t>(sl.get(0)) + 1;
    sl[1] = "child";
    sl[2] = bytes_of("xyz");
}

TEST_P(SharedMemoryTest, ChildSeesAndModifiesTheParentsShareableList) {
    ShareableList sl({41, "parent", bytes_of("abcdefgh")});
    mp::Process p(bump_and_rename, sl, options());
    p.start();
    p.join(kBound);
    ASSERT_EQ(p.exitcode(), 0);
    EXPECT_EQ(sl.get(0), Item(std::int64_t{42}));
    EXPECT_EQ(sl.get(1), Item(std::string("child")));
    EXPECT_EQ(sl.get(2), Item(bytes_of("xyz")));
    sl.shm().unlink();
}

}  // namespace

MP_INSTANTIATE_START_METHODS(SharedMemoryTest);
