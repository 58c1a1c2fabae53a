// Linked into every test program: a test still running after 120 s (NOGIL_WATCHDOG_SECONDS to
// change; ctest kills a program after 300 s) gets every thread's stack printed to stderr, so a
// hang in CI leaves its cause in the log (see tools/watchdog/watchdog.hpp).
#include <gtest/gtest.h>

#include <watchdog/watchdog.hpp>

namespace {

class WatchdogListener final : public ::testing::EmptyTestEventListener {
public:
    void OnTestStart(const ::testing::TestInfo& test) override {
        dog().begin(std::string(test.test_suite_name()) + "." + test.name(), limit_);
    }
    void OnTestEnd(const ::testing::TestInfo&) override { dog().end(); }

private:
    // Never destroyed: a child made by fork() that calls exit() must not join a thread it does
    // not have.
    static nogil_watchdog::StepWatchdog& dog() {
        static auto* instance = new nogil_watchdog::StepWatchdog;
        return *instance;
    }
    std::chrono::seconds limit_ = nogil_watchdog::limit_from_environment(std::chrono::seconds(120));
};

const bool registered = [] {
    ::testing::UnitTest::GetInstance()->listeners().Append(new WatchdogListener);
    return true;
}();

}  // namespace
