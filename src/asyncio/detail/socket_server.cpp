// asyncio::Server machinery; the accept loop and lifetimes are described in
// include/nogil/asyncio/detail/socket_server.hpp.
#include <nogil/asyncio/detail/socket_server.hpp>
#include <nogil/asyncio/detail/transport_reader.hpp>

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/task.hpp>
#include "asyncio/detail/socket.hpp"
#include "asyncio/detail/tls_start.hpp"
#include <nogil/errors.hpp>

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

ServerState::ServerState(LoopCore& loop, Callback callback, std::size_t limit, int backlog)
    : loop_(&loop), callback_(std::move(callback)), limit_(limit), backlog_(backlog) {
    if (!callback_) throw std::invalid_argument("client_connected_cb must not be empty");
    check_limit(limit);
    if (backlog <= 0) throw std::invalid_argument("backlog must be positive, got " + std::to_string(backlog));
}

ServerState::~ServerState() {
    close();
    accept_callback_.cancel();
    for (FdTransport* t : clients_) t->set_observer(nullptr);
}

void ServerState::remove_user() noexcept {
    if (--users_ == 0) close();
}

void ServerState::add_listener(int fd, std::string unix_path) {
    FdGuard guard(fd);
    Listener l;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) throw_os_error(errno, "getsockname()");
    if (auto a = to_socket_address(reinterpret_cast<sockaddr*>(&ss), len)) l.address = *a;
    if (!unix_path.empty() && unix_path[0] != '\0') {
        struct stat st {};
        if (::stat(unix_path.c_str(), &st) == 0) {
            l.dev = st.st_dev;
            l.ino = st.st_ino;
            l.unix_path = std::move(unix_path);
        }
    }
    l.fd = guard.release();
    listeners_.push_back(std::move(l));
}

void ServerState::start_serving() {
    if (closed_) throw std::runtime_error("Server is closed");
    if (serving_) return;
    for (Listener& l : listeners_)
        if (::listen(l.fd, backlog_) < 0) throw_os_error(errno, "listen()");
    serving_ = true;
    register_listeners();
}

void ServerState::register_listeners() {
    IoBackend* backend = loop_->backend();
    const bool completions = backend && backend->can_accept();
    if (completions && !accept_callback_.bound()) accept_callback_.bind(this);
    for (Listener& l : listeners_) {
        if (l.registered) continue;
        const int fd = l.fd;
        if (completions)
            l.accept_id = backend->start_accept(fd, *this);
        else
            loop_->set_fd_callback(fd, false, [this, fd] { on_acceptable(fd); });
        l.registered = true;
    }
}

void ServerState::unregister_listeners() noexcept {
    for (Listener& l : listeners_) {
        if (!l.registered) continue;
        l.registered = false;
        if (loop_->is_closed()) continue;
        if (l.accept_id) {
            loop_->backend()->detach_accept(std::exchange(l.accept_id, 0));
            continue;
        }
        try {
            loop_->clear_fd_callback(l.fd, false);
        } catch (...) {
        }
    }
}

void ServerState::close() noexcept {
    if (closed_) return;
    closed_ = true;
    serving_ = false;
    if (retry_accept_) std::exchange(retry_accept_, nullptr)->cancel();
    unregister_listeners();
    for (Listener& l : listeners_) {
        ::close(l.fd);
        // Python 3.13's cleanup_socket: remove the file if it still is our socket.
        struct stat st {};
        if (!l.unix_path.empty() && ::stat(l.unix_path.c_str(), &st) == 0 && st.st_dev == l.dev && st.st_ino == l.ino)
            ::unlink(l.unix_path.c_str());
    }
    listeners_.clear();
    for (int fd : accepted_) ::close(fd);  // accepted by the kernel, not set up yet
    accepted_.clear();
    if (serving_forever_ && !serving_forever_->done()) serving_forever_->cancel();
    if (clients_.empty()) wakeup();
}

std::vector<asyncio::SocketAddress> ServerState::sockets() const {
    std::vector<asyncio::SocketAddress> out;
    for (const Listener& l : listeners_) out.push_back(l.address);
    return out;
}

void ServerState::close_clients() {
    std::vector<Ref<FdTransport>> all;
    for (FdTransport* t : clients_) all.emplace_back(t);
    for (auto& t : all) t->close();
}

void ServerState::abort_clients() {
    std::vector<Ref<FdTransport>> all;
    for (FdTransport* t : clients_) all.emplace_back(t);
    for (auto& t : all) t->abort();
}

void ServerState::connection_lost(FdTransport& transport) noexcept {
    clients_.erase(&transport);
    if (closed_ && clients_.empty()) wakeup();
}

void ServerState::wakeup() noexcept {
    woken_ = true;
    for (auto& f : closed_waiters_)
        if (!f.done()) f.set_result();
    closed_waiters_.clear();
}

asyncio::Coroutine<> ServerState::wait_closed(Ref<ServerState> self) {
    if (self->woken_) co_return;
    asyncio::Future<> done(*self->loop_->owner());
    self->closed_waiters_.push_back(done);
    co_await done;
}

asyncio::Coroutine<> ServerState::serve_forever(Ref<ServerState> self) {
    if (self->serving_forever_) throw std::runtime_error("server is already being awaited on serve_forever()");
    if (self->closed_) throw std::runtime_error("Server is closed");
    self->start_serving();
    asyncio::Future<> forever(*self->loop_->owner());
    self->serving_forever_ = forever;
    std::exception_ptr error;
    try {
        co_await forever;
    } catch (...) {
        error = std::current_exception();
    }
    self->serving_forever_.reset();
    self->close();
    if (error) std::rethrow_exception(error);
}

// ----------------------------------------------------------------------------- accepting

void ServerState::on_acceptable(int fd) {
    Ref<ServerState> keep(this);
    for (int i = 0; i < backlog_ && serving_; ++i) {
        const int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn >= 0) {
            accept_connection(conn);
            continue;
        }
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        if (!accept_failed(err)) return;
    }
}

bool ServerState::accept_failed(int err) {
    if (err == EINTR || err == ECONNABORTED || err == EPROTO) return true;
    asyncio::ExceptionContext ctx{"socket.accept() failed", make_os_error(err, "accept4()"), "<Server>"};
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of resources: stop accepting for a while instead of spinning on a ready fd.
        ctx.message = "socket.accept() out of system resource";
        loop_->call_exception_handler(ctx);
        unregister_listeners();
        retry_accept_ = loop_->call_at(Clock::now() + std::chrono::seconds(1), [this] {
            retry_accept_ = nullptr;
            if (serving_) register_listeners();
        });
    } else {
        loop_->call_exception_handler(ctx);
    }
    return false;
}

// ----------------------------------------------------------------------------- accepting by completions

void ServerState::on_accept(std::uint64_t, int fd) noexcept {
    // Inside the backend's poll: keep the connection for the callback (the vector has room for
    // it, or this is the rare growth: out of memory there closes the connection).
    try {
        accepted_.push_back(fd);
    } catch (...) {
        ::close(fd);
        return;
    }
    accept_callback_.schedule(*loop_);
}

void ServerState::on_accept_end(std::uint64_t id, int res) noexcept {
    for (Listener& l : listeners_)
        if (l.accept_id == id) {
            l.accept_id = 0;
            l.accept_end = res;
        }
    accept_callback_.schedule(*loop_);
}

void ServerState::on_accept_callback() {
    Ref<ServerState> keep(this);
    accept_callback_.running();
    std::vector<int> fds;
    fds.swap(accepted_);
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (serving_) {
            accept_connection(fds[i]);
        } else {
            ::close(fds[i]);
        }
    }
    if (accepted_.empty()) {
        fds.clear();
        accepted_.swap(fds);  // keep the capacity
    }
    // Accepts the kernel ended: the error handled as accept4()'s, then another one started
    // (unless accepting paused, or the server stopped serving).
    // (By index: the exception handler may close the server, which clears the listeners.)
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
        const int res = std::exchange(listeners_[i].accept_end, 0);
        if (res == 0) continue;
        if (res < 0 && res != -ECANCELED) (void)accept_failed(-res);  // may pause accepting
        if (!serving_ || i >= listeners_.size() || !listeners_[i].registered || listeners_[i].accept_id) continue;
        try {
            listeners_[i].accept_id = loop_->backend()->start_accept(listeners_[i].fd, *this);
        } catch (const std::exception&) {
            loop_->call_exception_handler({"socket.accept() failed", std::current_exception(), "<Server>"});
        }
    }
}

void ServerState::accept_connection(int fd) {
    FdGuard guard(fd);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    try {
        auto reader = Ref<StreamReaderState>::adopt(new StreamReaderState(limit_));
        Ref<FdTransport> t = FdTransport::open(*loop_, guard.release(), reader, true);
        t->set_observer(this);
        t->set_server_side(true);
        clients_.insert(t.get());
        asyncio::StreamReader r(std::move(reader), TransportUse(t));
        asyncio::StreamWriter w{TransportUse(t)};
        std::optional<asyncio::Future<>> handshake;
        if (tls_) handshake = attach_layer(*t, *tls_, tls_params_);  // before the loop reads again
        asyncio::create_task(run_client(Ref<ServerState>(this), std::move(r), std::move(w), std::move(handshake)));
    } catch (...) {
        loop_->call_exception_handler({"Error setting up a client connection", std::current_exception(), "<Server>"});
    }
}

asyncio::Coroutine<> ServerState::run_client(Ref<ServerState> self, asyncio::StreamReader reader,
                                             asyncio::StreamWriter writer,
                                             std::optional<asyncio::Future<>> handshake) {
    if (handshake) {
        // A failed handshake (garbage instead of a ClientHello, a timeout, a bad certificate)
        // has already lost its connection; Python reports it only in debug mode, so do we not.
        bool handshake_done = false;
        try {
            co_await wait_handshake(Ref<FdTransport>(&writer.transport()), std::move(*handshake));
            handshake_done = true;
        } catch (const CancelledError&) {
            throw;
        } catch (const std::exception&) {
        }
        if (!handshake_done) co_return;
    }
    std::exception_ptr error;
    try {
        co_await self->callback_(reader, writer);
    } catch (const CancelledError&) {
        throw;
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        self->loop_->call_exception_handler({"Unhandled exception in client_connected_cb", error, "<Server client>"});
        writer.close();
    }
}

}  // namespace nogil::asyncio::detail
