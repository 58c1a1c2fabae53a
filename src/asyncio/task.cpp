// all_tasks(loop) from any thread (include/nogil/asyncio/task.hpp).
#include <nogil/asyncio/task.hpp>

#include <future>
#include <memory>
#include <thread>

namespace nogil::asyncio {

namespace {
std::vector<Task<>> snapshot(detail::LoopCore& core) {
    std::vector<Task<>> out;
    for (auto& t : core.tasks()) out.emplace_back(std::move(t));
    return out;
}
}  // namespace

std::vector<Task<>> all_tasks(EventLoop& loop) {
    detail::LoopCore& core = loop.core();
    // Not running, or running on this thread: nobody else changes the list now.
    if (!core.is_running() || detail::running_loop == &core) return snapshot(core);
    // Running elsewhere: the list belongs to that thread; take it there. The promise is broken
    // (an empty list) if the loop closes before it runs the callback.
    auto result = std::make_shared<std::promise<std::vector<Task<>>>>();
    std::future<std::vector<Task<>>> done = result->get_future();
    try {
        core.call_soon_threadsafe([result, &core] { result->set_value(snapshot(core)); });
    } catch (const std::exception&) {  // closed meanwhile
        return {};
    }
    result.reset();
    try {
        return done.get();
    } catch (const std::future_error&) {
        return {};
    }
}

}  // namespace nogil::asyncio
