// The process pool worker: batches in, batches out.
//
// Results are sent when the batch is done, or earlier once more than flush_after of work has
// accumulated since the last send, so a long task's result is not held back by the tasks queued
// behind it, while a burst of tiny tasks costs one write per batch.
//
// Messages travel through the shared rings (process_pool_channel.hpp). Waiting for the next
// request, the worker spins up to spin_for (the pool's next request often follows within
// microseconds, and a sleep plus a cross-process wake-up cost tens of them on an idle VM), then
// sleeps on the ring's futex word. The spinning backs off while it does not pay (Spinner). It
// wakes every idle_check to see whether the pool closed its socket (it then exits).

#include <nogil/multiprocessing/detail/frame.hpp>
#include "multiprocessing/detail/futex.hpp"
#include <nogil/concurrent/futures/detail/process_pool_channel.hpp>
#include <nogil/concurrent/futures/detail/process_pool_core.hpp>

#include <chrono>
#include <sched.h>
#include <thread>
#include <unistd.h>

namespace nogil::concurrent::futures::detail {
// multiprocessing's machinery: frames, calls, function ids, shared blocks.
using ::nogil::multiprocessing::detail::EncodedCall;
using ::nogil::multiprocessing::detail::Frame;
using ::nogil::multiprocessing::detail::FrameKind;
using ::nogil::multiprocessing::detail::FunctionId;
using ::nogil::multiprocessing::detail::Invoker;
using ::nogil::multiprocessing::detail::SharedCall;
using ::nogil::multiprocessing::detail::TaskResponse;
using ::nogil::multiprocessing::detail::stop_task_id;
using ::nogil::multiprocessing::detail::capture_current_exception;
using ::nogil::multiprocessing::detail::recv_frame;
using ::nogil::multiprocessing::detail::resolve_function;
using ::nogil::multiprocessing::detail::run_call;
using ::nogil::multiprocessing::detail::send_frame;
using ::nogil::multiprocessing::detail::shared_futex_wait;
using ::nogil::multiprocessing::detail::wait_readable;

// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;


namespace {
int worker_fd = -1;
const ProcessPoolChannel* worker_channel = nullptr;
constexpr auto flush_after = std::chrono::microseconds(500);
constexpr auto spin_for = std::chrono::microseconds(50);
constexpr auto idle_check = std::chrono::milliseconds(100);

struct Message {
    std::string bytes;
    std::vector<UniqueFd> fds;
};

// The next request: from the ring, or from the socket where the ring holds a marker.
// std::nullopt: the pool closed the socket (no more work).
std::optional<Message> next_request(RingReader& in, int fd) {
    Message m;
    auto from_socket = [&]() -> std::optional<Message> {
        std::optional<Frame> frame = recv_frame(fd);
        if (!frame) return std::nullopt;
        return Message{std::move(frame->bytes), std::move(frame->fds)};
    };
    auto take = [&](RingReader::Next next) -> std::optional<Message> {
        if (next == RingReader::Next::record) return std::move(m);
        return from_socket();  // a marker: the message follows on the socket
    };
    static Spinner spinner(spin_for);
    for (;;) {
        if (auto next = in.try_read(m.bytes); next != RingReader::Next::empty) return take(next);
        if (spinner.spin([&] { return in.ready(); })) continue;
        in.announce_sleep();
        if (!in.ready()) {
            bool woken = shared_futex_wait(in.sleep_word(), 1, std::chrono::steady_clock::now() + idle_check);
            // Nothing came for a while: an end of file on the socket means the pool is gone.
            if (!woken && !in.ready() && wait_readable(fd, std::chrono::steady_clock::now())) {
                in.withdraw_sleep();
                if (in.ready()) continue;
                if (auto next = in.try_read(m.bytes); next != RingReader::Next::empty) return take(next);
                return from_socket();
            }
        }
        in.withdraw_sleep();
    }
}

// Sends one response batch: through the ring when it fits, else as a frame behind a marker.
void send_response(const ProcessPoolChannel& channel, RingWriter& out, int fd, std::string_view bytes,
                   std::span<const UniqueFd> fds) {
    if (!fds.empty() || !out.try_write(bytes)) {
        // The pool reads responses whenever it is not writing to a worker that has room: wait.
        while (!out.try_write_marker()) {
            if (out.take_sleeper()) channel.wake_manager();
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        if (out.take_sleeper()) channel.wake_manager();
        send_frame(fd, FrameKind::response, bytes, fds);
    }
    if (out.take_sleeper()) {
        channel.wake_manager();
        // The pipe's wake-up put the manager on this CPU: let it run now rather than behind our
        // spinning for the next request (which it is about to cause).
        ::sched_yield();
    }
}

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

const ProcessPoolChannel* process_pool_worker_channel() noexcept { return worker_channel; }

void process_pool_worker_main(multiprocessing::Connection conn, ProcessPoolChannel channel, std::uint64_t maxtasks,
                              SharedCall initializer) {
    using Clock = std::chrono::steady_clock;
    worker_fd = conn.fileno();
    worker_channel = &channel;
    RingReader in = channel.request_reader();
    RingWriter out_ring = channel.response_writer();
    std::atomic<std::uint64_t>& running = channel.running_word();
    if (const EncodedCall* init = initializer.get()) {
        std::vector<UniqueFd> fds;
        for (const auto& fd : init->fds) fds.emplace_back(::dup(fd.get()));
        run_call(*init, fds);  // a failing initializer ends the worker (exit code 1): the pool breaks
    }
    ResponseBatch out;
    auto flush = [&] {
        if (out.items.empty()) return;
        send_response(channel, out_ring, conn.fileno(), serial::dumps(out).bytes, {});
        out.items.clear();
        out.busy_ns = 0;
    };
    std::uint64_t done = 0;
    for (;;) {
        std::optional<Message> frame = next_request(in, conn.fileno());
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
            running.store(request.id << 1 | 1, std::memory_order_relaxed);  // for `nogil ps`
            try {
                result = run_cached(request.call, request.call.fds);
                response.ok = true;
                response.result = std::move(result.bytes);
            } catch (...) {
                response.error = capture_current_exception();
                result.fds.clear();
            }
            running.store(request.id << 1, std::memory_order_relaxed);
            auto end = Clock::now();
            out.busy_ns += static_cast<std::uint64_t>(std::chrono::nanoseconds(end - start).count());
            if (!result.fds.empty()) {
                // Descriptors are numbered per payload: a result that carries some travels alone.
                flush();
                out.items.push_back(std::move(response));
                send_response(channel, out_ring, conn.fileno(), serial::dumps(out).bytes, result.fds);
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

}  // namespace nogil::concurrent::futures::detail
