#pragma once
// Shared by the multiprocessing tests: the bound on every wait, and a fixture that reaps any
// child a failed test left behind (so a failure is reported instead of hanging at exit).
#include <nogil/multiprocessing.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mp_test {

namespace mp = nogil::multiprocessing;
using namespace std::chrono_literals;

inline constexpr auto kBound = std::chrono::seconds(60);

inline void kill_leftover_children() {
    for (auto& p : mp::active_children()) {
        p.kill();
        p.join(kBound);
    }
}

/// Parameterized on the start method.
class StartMethodTest : public ::testing::TestWithParam<std::string> {
protected:
    mp::ProcessOptions options(std::string name = "") const {
        return mp::ProcessOptions{.name = std::move(name), .daemon = {}, .start_method = GetParam()};
    }
    void TearDown() override { kill_leftover_children(); }
};

class ChildrenTest : public ::testing::Test {
protected:
    void TearDown() override { kill_leftover_children(); }
};

/// ThreadSanitizer cannot run threads in a child made by plain fork() of a multi-threaded process
/// (it aborts or hangs: die_after_fork). Tests whose fork-method child starts a thread (a queue's
/// feeder, a grandchild's launcher) skip that one combination under TSan only; spawn and
/// forkserver run the same code under TSan, and the fork case runs under release and ASan.
inline bool tsan_forbids_threads_in_fork_child(const std::string& method) {
#if defined(__SANITIZE_THREAD__)
    return method == "fork";
#else
    (void)method;
    return false;
#endif
}

#define MP_SKIP_IF_TSAN_FORK_CHILD_STARTS_THREADS()                                                          \
    if (mp_test::tsan_forbids_threads_in_fork_child(GetParam()))                                              \
    GTEST_SKIP() << "ThreadSanitizer: a child of plain fork() of a threaded process cannot start threads; " \
                    "covered by spawn/forkserver under TSan and by fork under release/ASan"

/// AddressSanitizer's allocator in g++ 12 (LLVM's sanitizer_common before 17) has no fork
/// handlers: a child made by plain fork() while another thread holds one of its size-class
/// locks (any allocation or free that refills or drains a thread cache, and every thread exit)
/// blocks at its first allocation of that size, forever. glibc's malloc, which the release and
/// clang builds use, takes its locks around fork(); TSan does too. Tests whose point is forking
/// while other threads of the parent allocate skip that one combination under ASan only; the
/// same test runs with fork in the other builds and with spawn/forkserver under ASan. Reproduced
/// (StartFromSeveralThreadsAtOnce/fork, 1 run in ~550 under load): the child's stack was
/// SizeClassAllocator64::GetFromAllocator -> Mutex::Lock, called from recv_frame.
inline bool asan_forbids_fork_beside_allocating_threads(const std::string& method) {
#if defined(__SANITIZE_ADDRESS__)
    return method == "fork";
#else
    (void)method;
    return false;
#endif
}

#define MP_SKIP_IF_ASAN_FORK_BESIDE_ALLOCATING_THREADS()                                                       \
    if (mp_test::asan_forbids_fork_beside_allocating_threads(GetParam()))                                      \
    GTEST_SKIP() << "AddressSanitizer (g++ 12): its allocator has no fork handlers, so a child forked while "    \
                    "another thread allocates can inherit a held allocator lock and hang; covered by fork "   \
                    "under release/clang/TSan and by spawn/forkserver under ASan (docs/multiprocessing.md)"

inline auto start_method_name = [](const auto& info) { return info.param; };

}  // namespace mp_test

#define MP_INSTANTIATE_START_METHODS(suite)                                                                  \
    INSTANTIATE_TEST_SUITE_P(StartMethods, suite, ::testing::Values("fork", "spawn", "forkserver"), \
                             mp_test::start_method_name)
