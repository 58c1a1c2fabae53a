#include <nogil/multiprocessing/detail/frame.hpp>
#include <nogil/multiprocessing/detail/worker.hpp>

#include <unistd.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


void send_task(multiprocessing::Connection& conn, const TaskRequest& request) {
    serial::Payload payload = serial::dumps(request);
    detail::send_frame(conn.fileno(), FrameKind::request, payload.bytes, payload.fds);
}

void pool_worker_main(multiprocessing::Connection conn, std::uint64_t maxtasks, SharedCall initializer) {
    if (const EncodedCall* init = initializer.get()) {
        std::vector<UniqueFd> fds;
        for (const auto& fd : init->fds) fds.emplace_back(::dup(fd.get()));
        run_call(*init, fds);  // a failing initializer ends the worker (exit code 1), as in Python
    }
    for (std::uint64_t done = 0; maxtasks == 0 || done < maxtasks; ++done) {
        std::optional<Frame> frame = recv_frame(conn.fileno());
        if (!frame) return;  // the pool closed our connection: no more work
        auto [request] = serial::loads<TaskRequest>(frame->bytes, frame->fds);
        if (request.id == stop_task_id) return;
        TaskResponse response;
        response.id = request.id;
        serial::Payload result;
        try {
            result = run_call(request.call, request.call.fds);
            response.ok = true;
            response.result = std::move(result.bytes);
        } catch (...) {
            response.error = capture_current_exception();
            result.fds.clear();
        }
        send_frame(conn.fileno(), FrameKind::response, serial::dumps(response).bytes, result.fds);
    }
}

}  // namespace nogil::multiprocessing::detail
