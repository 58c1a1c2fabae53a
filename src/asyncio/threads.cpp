#include <nogil/asyncio/threads.hpp>

#include <nogil/concurrent/futures/thread_pool.hpp>

#include <thread>

namespace nogil::asyncio {

concurrent::futures::Executor& EventLoop::default_executor() {
    if (core_->executor_shutdown_called) throw std::runtime_error("Executor shutdown has been called");
    if (!core_->default_executor) {
        concurrent::futures::ThreadPoolOptions options;
        options.thread_name_prefix = "asyncio";
        core_->default_executor = std::make_shared<concurrent::futures::ThreadPoolExecutor>(std::move(options));
    }
    return *core_->default_executor;
}

void EventLoop::set_default_executor(std::shared_ptr<concurrent::futures::Executor> executor) {
    if (!executor) throw std::invalid_argument("executor must not be null");
    core_->default_executor = std::move(executor);
}

Coroutine<void> EventLoop::shutdown_default_executor() {
    core_->executor_shutdown_called = true;
    auto executor = std::exchange(core_->default_executor, nullptr);
    if (!executor) co_return;
    // shutdown(wait = true) blocks: do it on a thread of its own so the loop keeps running.
    Future<> done(*this);
    detail::Ref<detail::LoopCore> core(&*core_);
    std::thread joiner([executor, done, core] {
        executor->shutdown(true);
        core->call_soon_threadsafe([done] {
            if (!done.done()) done.set_result();
        });
    });
    std::exception_ptr error;
    try {
        co_await done;
    } catch (...) {
        error = std::current_exception();
    }
    joiner.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace nogil::asyncio
