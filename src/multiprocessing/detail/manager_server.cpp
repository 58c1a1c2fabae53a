#include "multiprocessing/detail/manager_server.hpp"

#include "multiprocessing/detail/manager_objects.hpp"
#include "multiprocessing/detail/manager_socket.hpp"
#include <nogil/errors.hpp>
#include <nogil/multiprocessing/detail/frame.hpp>

#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace nogil::multiprocessing::detail {

namespace {

/// A registered type as the server runs it: its invokers resolved once, at server start.
struct ServedType {
    RegisteredType info;
    FactoryInvoker factory_invoker = nullptr;
    std::uintptr_t factory = 0;
    std::vector<std::pair<FunctionId, MethodInvoker>> methods;
    std::string resolve_error;  // why the invokers could not be resolved (then nothing is called)
};

class UserObject final : public Served {
public:
    UserObject(std::shared_ptr<void> object, const ServedType& type) : object_(std::move(object)), type_(type) {}
    std::string call(const ManagerRequest& r) override {
        for (auto& [id, invoker] : type_.methods) {
            if (id == r.method) {
                if (type_.info.concurrent) return invoker(object_.get(), r.args);
                std::lock_guard lock(mutex_);  // one method at a time per object (the GIL's role)
                return invoker(object_.get(), r.args);
            }
        }
        throw AttributeError("method of '" + type_.info.name + "' object is not in exposed (" + exposed() + ")");
    }

private:
    std::string exposed() const {
        std::string out;
        for (auto& name : type_.info.method_names) out += (out.empty() ? "" : ", ") + name;
        return out;
    }
    std::mutex mutex_;
    std::shared_ptr<void> object_;
    const ServedType& type_;
};

class Server {
public:
    Server(std::string authkey, std::vector<RegisteredType> types) : authkey_(std::move(authkey)) {
        for (auto& t : types) {
            ServedType s;
            s.info = std::move(t);
            try {
                s.factory_invoker = resolve_as<std::remove_pointer_t<FactoryInvoker>>(s.info.factory_invoker);
                if (s.info.factory.offset != 0 || !s.info.factory.object.empty())
                    s.factory = resolve_function(s.info.factory);
                for (auto& m : s.info.method_invokers)
                    s.methods.emplace_back(m, resolve_as<std::remove_pointer_t<MethodInvoker>>(m));
            } catch (const std::exception& e) {
                s.resolve_error = e.what();
                s.methods.clear();
            }
            types_.emplace(s.info.name, std::move(s));
        }
    }

    [[noreturn]] void serve(int listener) {
        for (;;) {
            int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
                std::perror("nogil manager: accept");
                ::_exit(1);
            }
            std::thread([this, conn = UniqueFd(fd)]() mutable { serve_connection(std::move(conn)); }).detach();
        }
    }

private:
    void serve_connection(UniqueFd conn) {
        try {
            server_handshake(conn.get(), authkey_);
            for (;;) {
                std::optional<Frame> frame = recv_frame(conn.get());
                if (!frame) return;  // the client hung up
                auto request = from_bytes<ManagerRequest>(frame->bytes);
                ManagerResponse response;
                try {
                    response.bytes = handle(request);
                    response.ok = true;
                } catch (...) {
                    response.error = capture_current_exception();
                }
                if (request.op == ManagerOp::decref) continue;
                send_frame(conn.get(), FrameKind::object, to_bytes(response));
                if (request.op == ManagerOp::shutdown && response.ok) ::_exit(0);  // step 4
            }
        } catch (...) {
            // A client that failed the handshake, sent garbage or vanished: drop its connection.
        }
    }

    std::string handle(const ManagerRequest& r) {
        switch (r.op) {
            case ManagerOp::ping:
            case ManagerOp::shutdown: return {};
            case ManagerOp::create: return to_bytes(add(create(r.name, r.args)));
            case ManagerOp::call: return find(r.id)->call(r);
            case ManagerOp::incref: {
                std::lock_guard lock(mutex_);
                entry(r.id).refs += 1;
                return {};
            }
            case ManagerOp::decref: {
                std::shared_ptr<Served> last;  // destroyed outside the lock
                std::lock_guard lock(mutex_);
                Entry& e = entry(r.id);
                if (--e.refs == 0) {
                    last = std::move(e.object);
                    objects_.erase(r.id);
                }
                return {};
            }
            case ManagerOp::object_count: {
                std::lock_guard lock(mutex_);
                return to_bytes(std::uint64_t(objects_.size()));
            }
        }
        throw std::invalid_argument("manager: unknown request");
    }

    std::shared_ptr<Served> create(const std::string& name, const std::string& args) {
        auto it = types_.find(name);
        if (it != types_.end()) {
            const ServedType& t = it->second;
            if (!t.resolve_error.empty())
                throw std::runtime_error("manager: the registered type '" + name + "' cannot be made here: " + t.resolve_error);
            return std::make_shared<UserObject>(t.factory_invoker(t.factory, args), t);
        }
        if (auto builtin = make_builtin(name, args)) return builtin;
        throw std::invalid_argument("manager: no type registered as '" + name + "'");
    }

    struct Entry {
        std::shared_ptr<Served> object;
        long refs = 0;
    };
    Entry& entry(std::uint64_t id) {
        auto it = objects_.find(id);
        if (it == objects_.end()) throw KeyError("manager: no object with id " + std::to_string(id));
        return it->second;
    }
    std::uint64_t add(std::shared_ptr<Served> object) {
        std::lock_guard lock(mutex_);
        std::uint64_t id = next_id_++;
        objects_.emplace(id, Entry{std::move(object), 1});
        return id;
    }
    std::shared_ptr<Served> find(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        return entry(id).object;
    }

    const std::string authkey_;
    std::map<std::string, ServedType> types_;  // fixed after construction

    std::mutex mutex_;  // guards objects_ and next_id_ (step 3)
    std::unordered_map<std::uint64_t, Entry> objects_;
    std::uint64_t next_id_ = 1;
};

}  // namespace

void serve_manager(ListeningSocket listener, std::string authkey, std::vector<RegisteredType> types) {
    // Never destroyed: the process ends with _exit while connection threads may still use it.
    auto* server = new Server(std::move(authkey), std::move(types));
    server->serve(listener.fd);
}

}  // namespace nogil::multiprocessing::detail
