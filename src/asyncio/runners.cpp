#include <nogil/asyncio/runners.hpp>
#include <nogil/asyncio/threads.hpp>

#include <nogil/asyncio/detail/task_base.hpp>

namespace nogil::asyncio::detail {

namespace {
struct Remaining {
    std::size_t count;
    nogil::asyncio::detail::LoopCore* core;
};
void one_done(void* ctx, nogil::asyncio::detail::FutureBase&) {
    auto* r = static_cast<Remaining*>(ctx);
    if (--r->count == 0) r->core->stop();
}
}  // namespace

void shutdown(EventLoop& loop) noexcept {
    auto& core = loop.core();
    try {
        auto tasks = core.tasks();
        if (!tasks.empty()) {
            Remaining remaining{tasks.size(), &core};
            for (auto& t : tasks) t->cancel({});
            const nogil::asyncio::detail::DoneLink link{&one_done, &remaining};
            // The link lives on this stack: a task still pending when we leave (the loop threw)
            // must not keep a pointer to it.
            struct Unlink {
                decltype(tasks)& all;
                const nogil::asyncio::detail::DoneLink& link;
                ~Unlink() {
                    for (auto& t : all)
                        if (!t->done()) t->remove_callback(link);
                }
            } unlink{tasks, link};
            for (auto& t : tasks) t->add_callback(link);
            while (remaining.count > 0 && !core.is_closed()) {
                try {
                    core.run_forever();
                } catch (...) {
                    // A task that ends with KeyboardInterrupt/SystemExit while being cancelled
                    // leaves the loop; run() is already ending: go on with the shutdown.
                    if (!is_exit_exception(std::current_exception())) throw;
                }
            }
            for (auto& t : tasks) {
                if (t->cancelled() || !t->stored_exception() || is_exit_exception(t->stored_exception())) continue;
                core.call_exception_handler(
                    {"unhandled exception during asyncio.run() shutdown", t->stored_exception(), t->describe()});
            }
        }
    } catch (...) {
        core.call_exception_handler({"error while shutting down asyncio.run()", std::current_exception(), {}});
    }
    try {
        if (core.default_executor) loop.run_until_complete(loop.shutdown_default_executor());
    } catch (...) {
        core.call_exception_handler({"error while shutting down the default executor", std::current_exception(), {}});
    }
    try {
        loop.close();
    } catch (...) {
    }
}

}  // namespace nogil::asyncio::detail
