#include <nogil/threading/timer.hpp>

namespace nogil::threading {

namespace {
// The timer thread's target: the event doubles as "cancelled" (set before firing) and
// "finished" (set after), exactly as in CPython's Timer.run.
struct TimerTarget final : detail::Target {
    TimerTarget(std::shared_ptr<Event> finished, std::chrono::duration<double> interval,
                std::unique_ptr<detail::Target> fn)
        : finished(std::move(finished)), interval(interval), fn(std::move(fn)) {}
    void operator()() override {
        finished->wait(interval);
        if (!finished->is_set()) (*fn)();
        finished->set();
    }
    std::shared_ptr<Event> finished;
    std::chrono::duration<double> interval;
    std::unique_ptr<detail::Target> fn;
};
}  // namespace

Timer::Timer(ThreadOptions options, std::shared_ptr<Event> finished, std::chrono::duration<double> interval,
             std::unique_ptr<detail::Target> fn)
    : Thread(std::move(options), std::make_unique<TimerTarget>(finished, interval, std::move(fn))),
      finished_(std::move(finished)) {}

}  // namespace nogil::threading
