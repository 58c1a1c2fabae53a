#include <nogil/multiprocessing/managers.hpp>

#include "multiprocessing/detail/hmac.hpp"
#include "multiprocessing/detail/manager_server.hpp"
#include "multiprocessing/detail/manager_socket.hpp"
#include <nogil/multiprocessing/detail/frame.hpp>
#include <nogil/multiprocessing/process.hpp>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <sys/socket.h>
#include <unistd.h>

namespace nogil::multiprocessing {

namespace detail {

struct ManagerState {
    enum class Phase { initial, started, connected, shut_down };

    mutable std::mutex mutex;  // guards every field
    Phase phase = Phase::initial;
    ManagerOptions options;
    ManagerAddress address;
    std::vector<RegisteredType> types;
    std::optional<Process> process;  // a started manager's server
    pid_t owner = 0;                 // the process that started it: only it shuts the server down
    std::string temp_dir;            // made by start() for the socket; removed by shutdown()

    void check_initial() const {
        if (phase == Phase::started || phase == Phase::connected) throw ProcessError("Already started server");
        if (phase == Phase::shut_down) throw ProcessError("Manager has shut down");
    }
};

ManagerAddress manager_running_address(const ManagerState& state) {
    std::lock_guard lock(state.mutex);
    if (state.phase == ManagerState::Phase::initial)
        throw ProcessError("Manager has not been started (call start() or connect())");
    if (state.phase == ManagerState::Phase::shut_down) throw ProcessError("Manager has shut down");
    return state.address;
}

void manager_expose(ManagerState& state, std::size_t index, FunctionId invoker, std::string name) {
    std::lock_guard lock(state.mutex);
    state.check_initial();
    state.types.at(index).method_invokers.push_back(std::move(invoker));
    state.types.at(index).method_names.push_back(std::move(name));
}

void manager_set_concurrent(ManagerState& state, std::size_t index) {
    std::lock_guard lock(state.mutex);
    state.check_initial();
    state.types.at(index).concurrent = true;
}

}  // namespace detail

namespace {
using Phase = detail::ManagerState::Phase;

std::atomic<int> manager_counter{0};

/// Asks the server to end and waits at most about a second for its answer (a server that is
/// stopped or wedged is then terminated by the caller, after shutdown_timeout).
void request_shutdown(const detail::ManagerAddress& address) {
    detail::UniqueFd fd = detail::unix_connect(address.path);
    timeval limit{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    detail::client_handshake(fd.get(), address.authkey);
    detail::send_frame(fd.get(), detail::FrameKind::object,
                       detail::to_bytes(detail::ManagerRequest{detail::ManagerOp::shutdown, 0, {}, {}, {}}));
    (void)detail::recv_frame(fd.get());
}
}  // namespace

BaseManager::BaseManager(ManagerOptions options) : state_(std::make_shared<detail::ManagerState>()) {
    state_->options = std::move(options);
}

BaseManager::~BaseManager() {
    if (!state_) return;  // moved from
    try {
        shutdown();
    } catch (...) {
        // A destructor does not throw; shutdown() already did all it could.
    }
}

BaseManager::BaseManager(BaseManager&&) noexcept = default;
BaseManager& BaseManager::operator=(BaseManager&& other) noexcept {
    if (this != &other) {
        BaseManager old(std::move(*this));  // shuts down what this managed
        state_ = std::move(other.state_);
    }
    return *this;
}

std::size_t BaseManager::add_type(std::string type_id, detail::FunctionId invoker, detail::FunctionId factory) {
    std::lock_guard lock(state_->mutex);
    state_->check_initial();
    for (auto& t : state_->types)
        if (t.name == type_id) throw std::invalid_argument("register_type: '" + type_id + "' is already registered");
    state_->types.push_back(detail::RegisteredType{std::move(type_id), std::move(invoker), std::move(factory), {}, {}, false});
    return state_->types.size() - 1;
}

void BaseManager::start() {
    auto& s = *state_;
    std::lock_guard lock(s.mutex);
    s.check_initial();
    s.address.authkey = s.options.authkey.empty() ? detail::random_bytes(32) : s.options.authkey;
    s.address.path = s.options.address;
    if (s.address.path.empty()) {
        std::string pattern = "/tmp/nogil-manager-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw OSError(errno, "mkdtemp");
        s.temp_dir = pattern;
        s.address.path = pattern + "/listener";
    }
    detail::UniqueFd listener = detail::unix_listen(s.address.path);  // step 1 (manager_server.hpp)
    Process server(detail::serve_manager, detail::ListeningSocket{listener.get()}, s.address.authkey, s.types,
                   ProcessOptions{.name = "SyncManager-" + std::to_string(++manager_counter), .daemon = true,
                                  .start_method = s.options.start_method});
    server.start();
    listener.reset();  // only the server listens now
    s.process = std::move(server);
    s.owner = ::getpid();
    s.phase = Phase::started;
}

void BaseManager::connect() {
    auto& s = *state_;
    std::lock_guard lock(s.mutex);
    s.check_initial();
    detail::ManagerAddress address{s.options.address, s.options.authkey};
    detail::manager_call(address, detail::ManagerRequest{detail::ManagerOp::ping, 0, {}, {}, {}});
    s.address = std::move(address);
    s.phase = Phase::connected;
}

void BaseManager::shutdown() {
    auto& s = *state_;
    std::lock_guard lock(s.mutex);
    if (s.phase != Phase::started) return;
    if (s.owner != ::getpid()) return;  // a copy of the manager in a forked child: not its server
    s.phase = Phase::shut_down;
    Process& p = *s.process;
    if (p.is_alive()) {  // Python's _finalize_manager
        try {
            request_shutdown(s.address);
        } catch (...) {
            // Dead, stopped or wedged: terminate() below.
        }
        p.join(s.options.shutdown_timeout);
        if (p.is_alive()) {
            p.terminate();
            p.join(s.options.shutdown_timeout);
            if (p.is_alive()) p.kill();
        }
    }
    p.join();
    detail::manager_forget(s.address.path);
    ::unlink(s.address.path.c_str());
    if (!s.temp_dir.empty()) ::rmdir(s.temp_dir.c_str());
}

std::string BaseManager::address() const {
    std::lock_guard lock(state_->mutex);
    return state_->address.path.empty() ? state_->options.address : state_->address.path;
}

std::string BaseManager::authkey() const {
    std::lock_guard lock(state_->mutex);
    return state_->address.authkey.empty() ? state_->options.authkey : state_->address.authkey;
}

std::optional<int> BaseManager::pid() const {
    std::lock_guard lock(state_->mutex);
    return state_->process ? state_->process->pid() : std::nullopt;
}

std::optional<int> BaseManager::exitcode() const {
    std::lock_guard lock(state_->mutex);
    return state_->process ? state_->process->exitcode() : std::nullopt;
}

std::size_t BaseManager::number_of_objects() const {
    std::string out = detail::manager_call(detail::manager_running_address(*state_),
                                           detail::ManagerRequest{detail::ManagerOp::object_count, 0, {}, {}, {}});
    return detail::from_bytes<std::uint64_t>(out);
}

SyncManager Manager(ManagerOptions options) {
    SyncManager manager(std::move(options));
    manager.start();
    return manager;
}

}  // namespace nogil::multiprocessing
