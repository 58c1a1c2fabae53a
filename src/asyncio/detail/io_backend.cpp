// Choosing the event loop's I/O backend (docs/asyncio-io.md, "Backends").
#include <nogil/asyncio/detail/io_backend.hpp>

#include "asyncio/detail/io_epoll.hpp"
#include "asyncio/detail/io_uring.hpp"

#include <nogil/errors.hpp>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace nogil::asyncio::detail {

std::uint64_t IoBackend::start_recv(int, RecvSink&) { throw OSError(ENOTSUP, "this I/O backend has no completion-based receive"); }
void IoBackend::cancel_recv(std::uint64_t) noexcept {}
void IoBackend::detach_recv(std::uint64_t) noexcept {}
std::uint64_t IoBackend::queue_send(int, SendSource&) { throw OSError(ENOTSUP, "this I/O backend has no completion-based send"); }
void IoBackend::cancel_send(std::uint64_t) noexcept {}
std::uint64_t IoBackend::start_accept(int, AcceptSink&) { throw OSError(ENOTSUP, "this I/O backend has no completion-based accept"); }
void IoBackend::detach_accept(std::uint64_t) noexcept {}

namespace {
std::atomic<bool> fallback_reported{false};
std::atomic<bool> bad_variable_reported{false};
}  // namespace

std::unique_ptr<IoBackend> make_io_backend(std::optional<IoBackendKind> requested, bool debug) {
    bool explicit_request = requested.has_value();
    if (!requested) {
        requested = IoBackendKind::epoll;
        const char* v = std::getenv("NOGIL_ASYNCIO_BACKEND");
        if (v && std::strcmp(v, "io_uring") == 0) {
            requested = IoBackendKind::io_uring;
        } else if (v && *v && std::strcmp(v, "epoll") != 0 && !bad_variable_reported.exchange(true)) {
            std::cerr << "asyncio: NOGIL_ASYNCIO_BACKEND=" << v << " is neither epoll nor io_uring; using epoll\n";
        }
    }
    if (*requested == IoBackendKind::epoll) return std::make_unique<EpollBackend>();
    std::string why;
    int err = 0;
    if (auto b = IoUringBackend::create(why, err)) return b;
    if (explicit_request) throw OSError(err, "the io_uring event loop backend cannot run here: " + why);
    if (debug && !fallback_reported.exchange(true))
        std::cerr << "asyncio: NOGIL_ASYNCIO_BACKEND=io_uring, but " << why << "; using epoll\n";
    return std::make_unique<EpollBackend>();
}

std::string io_uring_unavailable_reason() {
    std::string why;
    int err = 0;
    if (IoUringBackend::create(why, err)) return {};
    return why;
}

}  // namespace nogil::asyncio::detail
