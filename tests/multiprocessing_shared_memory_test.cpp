// Mirrors the core of CPython's _test_multiprocessing.py _TestSharedMemory.
#include "multiprocessing_test_support.hpp"

#include <cstring>
#include <filesystem>
#include <nogil/detail/mp_resource_tracker.hpp>
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
    auto [pid, fd] = nogil::detail::start_resource_tracker();
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

MP_INSTANTIATE_START_METHODS(SharedMemoryTest);
