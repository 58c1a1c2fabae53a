// The tour once hung at "io: asyncio tasks (200 waits)": 200 coroutines each sleeping 5 ms,
// gathered under asyncio::run. A lost timer wake-up would do that. This runs exactly that shape
// (and with zero and mixed delays) many times in one process; with the test watchdog, a hang
// prints every thread's stack. To hunt beside a loaded machine:
//   ctest --preset asan -R AsyncioGatheredSleeps --repeat until-fail:200
#include <nogil/asyncio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace {

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

asyncio::Coroutine<std::uint64_t> wait_once(std::chrono::duration<double> delay) {
    co_await asyncio::sleep(delay);
    co_return 1;
}

asyncio::Coroutine<std::uint64_t> gather_waits(int ops, std::chrono::duration<double> delay, bool mixed) {
    std::vector<asyncio::Coroutine<std::uint64_t>> coros;
    for (int i = 0; i < ops; ++i) coros.push_back(wait_once(mixed ? delay * (i % 3) : delay));
    std::vector<std::uint64_t> results = co_await asyncio::gather(std::move(coros));
    std::uint64_t done = 0;
    for (auto r : results) done += r;
    co_return done;
}

TEST(AsyncioGatheredSleeps, TwoHundredFiveMillisecondSleeps) {
    for (int round = 0; round < 20; ++round) EXPECT_EQ(asyncio::run(gather_waits(200, 5ms, false)), 200u);
}

TEST(AsyncioGatheredSleeps, MixedZeroAndShortSleeps) {
    for (int round = 0; round < 20; ++round) EXPECT_EQ(asyncio::run(gather_waits(200, 1ms, true)), 200u);
}

}  // namespace
