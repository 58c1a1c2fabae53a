// Attack: SIGKILL a program that runs every kind of child nogil makes (a ProcessPoolExecutor, a
// multiprocessing Pool, fork and forkserver Processes) and holds a SharedMemory block it never
// unlinked. Nothing may survive it: no orphan process (PR_SET_PDEATHSIG, the fork server's
// exit), no /dev/shm name (the program's resource tracker unlinks it once every process of the
// program is gone). The program is this test binary run again (fork + exec), running only the
// helper below: a process started with mp::Process would share this test's resource tracker,
// which then rightly waits for this test to end too.
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include "abuse/core_testing.hpp"

#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace cf = nogil::concurrent::futures;
namespace mp = nogil::multiprocessing;
using core_testing::eventually;
using core_testing::kBound;
using core_testing::process_gone;

constexpr const char* kReportFd = "NOGIL_TEST_PARENT_KILLED_FD";

int square(int x) { return x * x; }
void block_on(mp::Connection c) {
    char byte;
    [[maybe_unused]] auto n = ::read(c.fileno(), &byte, 1);  // until its parent is gone
}

// The program that gets killed: starts everything, reports "pid pid ... name\n", then blocks.
TEST(ParentKilled, DISABLED_Helper) {
    const char* fd_text = std::getenv(kReportFd);
    if (fd_text == nullptr) GTEST_SKIP() << "run by ParentKilled.NoOrphanNoSharedMemoryLeft only";
    int report = std::atoi(fd_text);
    cf::ProcessPoolExecutor executor(2);
    executor.submit(square, 1).result(kBound);
    mp::Pool pool(2);
    pool.apply_async(square, 2).get(kBound);
    auto [keep, other] = mp::Pipe();
    mp::Process forked(block_on, other, mp::ProcessOptions{.start_method = "fork"});
    forked.start();
    mp::Process served(block_on, other, mp::ProcessOptions{.start_method = "forkserver"});
    served.start();
    mp::shared_memory::SharedMemory shm(std::nullopt, true, 4096);  // never unlinked
    std::ostringstream line;
    for (int pid : executor.worker_pids()) line << pid << ' ';
    for (auto& child : mp::active_children())  // the Pool's workers and the two Processes
        if (auto pid = child.pid()) line << *pid << ' ';
    line << shm.name() << '\n';
    std::string text = line.str();
    ASSERT_EQ(::write(report, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    for (;;) ::pause();  // until killed
}

TEST(ParentKilled, NoOrphanNoSharedMemoryLeft) {
    // Orphans are reparented to us, so that we can see them end (and reap them), whatever the
    // container's init does.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int ends[2];
    ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
    // Appended piecewise: g++ 12 under -fsanitize=thread warns (-Warray-bounds) about the
    // concatenation of temporaries.
    std::string fd_env = kReportFd;
    fd_env += '=';
    fd_env += std::to_string(ends[1]);
    pid_t program = ::fork();
    if (program == 0) {
        ::fcntl(ends[1], F_SETFD, 0);
        ::putenv(fd_env.data());
        ::execl("/proc/self/exe", "parent_killed_helper", "--gtest_also_run_disabled_tests",
                "--gtest_filter=ParentKilled.DISABLED_Helper", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ASSERT_GT(program, 0);
    ::close(ends[1]);
    std::string text;
    char buffer[512];
    for (ssize_t n; text.find('\n') == std::string::npos && (n = ::read(ends[0], buffer, sizeof buffer)) > 0;)
        text.append(buffer, static_cast<std::size_t>(n));
    ::close(ends[0]);
    std::istringstream fields(text);
    std::vector<std::string> words{std::istream_iterator<std::string>(fields), {}};
    ASSERT_GE(words.size(), 7u) << "the helper reported: " << text;
    std::string name = words.back();
    words.pop_back();
    std::string file = name.starts_with("/") ? name.substr(1) : name;
    EXPECT_TRUE(core_testing::shm_names().contains(file)) << name;

    ::kill(program, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(program, &status, 0), program);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    auto reap_orphans = [] {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    };
    for (auto& word : words) {
        pid_t pid = std::stoi(word);
        EXPECT_TRUE(eventually([&] {
            reap_orphans();
            return process_gone(pid);
        })) << "orphan "
            << pid;
    }
    EXPECT_TRUE(eventually([&] {
        reap_orphans();
        return !core_testing::shm_names().contains(file);
    })) << name << " left in /dev/shm";
    // The tracker exits once it has cleaned up: nothing of the program is left.
    EXPECT_TRUE(eventually([] {
        return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD;
    })) << "a process of the killed program is still running";
}

}  // namespace
