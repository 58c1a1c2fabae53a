#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/task.hpp>

#include <cstdlib>
#include <cstring>

namespace nogil::asyncio {

EventLoop::EventLoop() : EventLoop(EventLoopOptions{}) {}

EventLoop::EventLoop(EventLoopOptions options)
    : core_(detail::Ref<detail::LoopCore>::adopt(new detail::LoopCore(
          *this, options.io_backend, options.debug.value_or(detail::debug_from_environment())))),
      task_factory_(std::make_unique<TaskFactory>()) {}

EventLoop::~EventLoop() {
    if (core_->is_running())
        core_->close_when_stopped();  // destroyed by one of its callbacks (or a misuse from another thread)
    else if (!core_->is_closed())
        core_->close();
    core_->detach_owner();
}

void EventLoop::set_task_factory(TaskFactory factory) {
    core_->check_thread();
    *task_factory_ = std::move(factory);
}

void EventLoop::default_exception_handler(const ExceptionContext& context) { detail::print_exception_context(context); }

void EventLoop::set_slow_callback_duration(double seconds) {
    if (!(seconds >= 0)) throw std::invalid_argument("slow_callback_duration must be a non-negative number of seconds");
    core_->slow_callback_duration = seconds;
}

EventLoop::clock::time_point EventLoop::from_seconds(double when, const char* name) {
    if (std::isnan(when)) throw std::invalid_argument(std::string(name) + " must not be NaN");
    // time() is seconds since the steady clock's epoch: convert directly.
    if (when > 3.2e9) return clock::time_point::max();
    if (when < 0) return clock::time_point{};
    return clock::time_point(std::chrono::round<clock::duration>(std::chrono::duration<double>(when)));
}

EventLoop& get_running_loop() { return *detail::running_loop_or_throw().owner(); }

}  // namespace nogil::asyncio

namespace nogil::asyncio::detail {
bool debug_from_environment() noexcept {
    const char* v = std::getenv("NOGIL_ASYNCIO_DEBUG");
    return v && *v && std::strcmp(v, "0") != 0;
}
}  // namespace nogil::asyncio::detail
