// The process pool worker: batches in, batches out.
//
// Results are sent when the batch is done, or earlier once more than flush_after of work has
// accumulated since the last send, so a long task's result is not held back by the tasks queued
// behind it, while a burst of tiny tasks costs one write per batch.

#include <nogil/detail/mp_frame.hpp>
#include <nogil/detail/mp_process_pool_core.hpp>

#include <chrono>
#include <unistd.h>

namespace nogil::detail {

namespace {
int worker_fd = -1;
constexpr auto flush_after = std::chrono::microseconds(500);

// run_call with resolved names cached (the worker is single-threaded; a name resolves to the
// same address for the process's life: libraries loaded for a task stay loaded).
serial::Payload run_cached(const EncodedCall& call, std::vector<UniqueFd>& fds) {
    static std::vector<std::pair<FunctionId, std::uintptr_t>> cache;
    auto resolve = [](const FunctionId& id) {
        for (const auto& [known, address] : cache)
            if (known == id) return address;
        std::uintptr_t address = resolve_function(id);  // throws for a name that does not resolve
        if (cache.size() >= 64) cache.clear();
        cache.emplace_back(id, address);
        return address;
    };
    auto invoker = reinterpret_cast<Invoker>(resolve(call.invoker));
    return invoker(resolve(call.target), call.args, fds);
}

}  // namespace

int process_pool_worker_fd() noexcept { return worker_fd; }

void process_pool_worker_main(multiprocessing::Connection conn, std::uint64_t maxtasks, SharedCall initializer) {
    using Clock = std::chrono::steady_clock;
    worker_fd = conn.fileno();
    if (const EncodedCall* init = initializer.get()) {
        std::vector<UniqueFd> fds;
        for (const auto& fd : init->fds) fds.emplace_back(::dup(fd.get()));
        run_call(*init, fds);  // a failing initializer ends the worker (exit code 1): the pool breaks
    }
    ResponseBatch out;
    auto flush = [&] {
        if (out.items.empty()) return;
        send_frame(conn.fileno(), FrameKind::response, serial::dumps(out).bytes);
        out.items.clear();
        out.busy_ns = 0;
    };
    std::uint64_t done = 0;
    for (;;) {
        std::optional<Frame> frame = recv_frame(conn.fileno());
        if (!frame) return;  // the pool closed our connection: no more work
        auto [batch] = serial::loads<RequestBatch>(frame->bytes, frame->fds);
        auto last_flush = Clock::now();
        for (auto& request : batch) {
            if (request.id == stop_task_id) {
                flush();
                return;
            }
            auto start = Clock::now();
            TaskResponse response;
            response.id = request.id;
            serial::Payload result;
            try {
                result = run_cached(request.call, request.call.fds);
                response.ok = true;
                response.result = std::move(result.bytes);
            } catch (...) {
                response.error = capture_current_exception();
                result.fds.clear();
            }
            auto end = Clock::now();
            out.busy_ns += static_cast<std::uint64_t>(std::chrono::nanoseconds(end - start).count());
            if (!result.fds.empty()) {
                // Descriptors are numbered per payload: a result that carries some travels alone.
                flush();
                out.items.push_back(std::move(response));
                send_frame(conn.fileno(), FrameKind::response, serial::dumps(out).bytes, result.fds);
                out.items.clear();
                out.busy_ns = 0;
            } else {
                out.items.push_back(std::move(response));
            }
            ++done;
            if (maxtasks != 0 && done >= maxtasks) {
                flush();
                return;
            }
            if (end - last_flush > flush_after) {
                flush();
                last_flush = end;
            }
        }
        flush();
    }
}

}  // namespace nogil::detail
