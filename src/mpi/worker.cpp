// A worker rank: serves the protocol of include/nogil/mpi/detail/protocol.hpp on one thread.
//
// Idle workers must not burn the machine, and MPI gives nothing to sleep on (Open MPI's
// shared-memory transport is polled). So a worker polls (MPI_Improbe) continuously for a short
// window after its last message — long enough that a caller submitting task after task finds it
// still spinning — and then sleeps: on its doorbell when it runs on the master's host
// (doorbell.hpp: the master rings it after each message), else between polls, 50 µs doubling up
// to 1 ms. It never sleeps on the doorbell while a send of its own is unfinished (a large result
// needs its progress). Measured costs are in docs/mpi.md ("Idle workers"); NOGIL_MPI_SPIN_US
// overrides the window (0: never spin).

#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/mpi/detail/pool_core.hpp>

#include "doorbell.hpp"
#include "messages.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace nogil::mpi::detail {

namespace {

constexpr auto default_spin = std::chrono::microseconds(200);

std::chrono::nanoseconds spin_window() {
    if (const char* env = std::getenv("NOGIL_MPI_SPIN_US")) return std::chrono::microseconds(std::atoll(env));
    return default_spin;
}

// mpi4py's `path`: where a task's shared library is found on this host when the master's path
// for it does not exist here (the executable itself is always this process's own).
void relocate(nogil::multiprocessing::detail::FunctionId& id, const std::vector<std::string>& path) {
    if (id.object.empty() || path.empty()) return;
    struct stat st;
    if (::stat(id.object.c_str(), &st) == 0) return;
    auto slash = id.object.rfind('/');
    std::string name = slash == std::string::npos ? id.object : id.object.substr(slash + 1);
    for (const auto& dir : path) {
        std::string candidate = dir + "/" + name;
        if (::stat(candidate.c_str(), &st) == 0) {
            id.object = candidate;
            return;
        }
    }
}

RemoteException capture(MPI_Comm comm) {
    RemoteException e = nogil::multiprocessing::detail::capture_current_exception();
    e.process = describe_rank(comm);
    return e;
}

class Server {
public:
    Server(MPI_Comm comm, int master) : comm_(comm), master_(master) {}

    // True: stop (or exit when until_exit) received.
    void run(bool until_exit) {
        Backoff backoff(spin_window());
        for (;;) {
            outbox_.test();
            auto message = receive(comm_, master_);
            if (!message) {
                if (bells_ && outbox_.empty()) {
                    backoff.pause([&] { return bells_->sleep(slot_, [&] { return !message_waiting(comm_, master_); }); });
                } else {
                    backoff.pause();
                }
                continue;
            }
            backoff.reset();
            switch (message->tag) {
                case tag_boot: boot(message->bytes); break;
                case tag_tasks: run_tasks(message->bytes); break;
                case tag_stop:
                    print_stats("worker");
                    send(std::string(), tag_stopped);
                    outbox_.flush();
                    session_ = {};
                    bells_.reset();
                    if (!until_exit) return;
                    break;
                case tag_exit: outbox_.flush(); return;
                default: throw std::runtime_error("nogil::mpi worker: unknown message tag " + std::to_string(message->tag));
            }
        }
    }

private:
    void boot(const std::string& bytes) {
        BootReport report;
        char host[MPI_MAX_PROCESSOR_NAME];
        int length = 0;
        MPI_Get_processor_name(host, &length);
        report.host.assign(host, static_cast<std::size_t>(length));
        report.pid = ::getpid();
        try {
            session_ = decode<Session>(bytes);
            if (!session_.doorbell.empty() && session_.master_host == report.host) {
                int rank = 0;
                MPI_Comm_rank(comm_, &rank);
                slot_ = rank + 1;
                bells_ = Doorbells::open(session_.doorbell, slot_);
                report.doorbell = bells_ != nullptr;
            }
            if (!session_.wdir.empty() && ::chdir(session_.wdir.c_str()) != 0)
                throw std::runtime_error("cannot change to wdir '" + session_.wdir + "': " + std::strerror(errno));
            for (const auto& [name, value] : session_.env) ::setenv(name.c_str(), value.c_str(), 1);
            if (const EncodedCall* init = session_.initializer.get()) {
                EncodedCall call{init->invoker, init->target, init->args, {}};
                relocate(call.invoker, session_.path);
                relocate(call.target, session_.path);
                std::vector<nogil::detail::UniqueFd> fds;
                nogil::multiprocessing::detail::run_call(call, fds);
            }
        } catch (...) {
            report.ok = false;
            report.error = capture(comm_);
        }
        send(encode(report), tag_booted);
    }

    // A message to the master, and a ring of its bell when it sleeps on one.
    void send(std::string bytes, int tag) {
        outbox_.send(std::move(bytes), master_, tag, comm_);
        if (bells_) bells_->ring(0);
    }

    void run_tasks(const std::string& bytes) {
        auto started = std::chrono::steady_clock::now();
        auto batch = decode<RequestBatch>(bytes);
        ResponseBatch answers;
        answers.items.reserve(batch.size());
        for (auto& request : batch) {
            TaskResponse response;
            response.id = request.id;
            try {
                relocate(request.call.invoker, session_.path);
                relocate(request.call.target, session_.path);
                std::vector<nogil::detail::UniqueFd> fds;
                auto result = nogil::multiprocessing::detail::run_call(request.call, fds);
                if (!result.fds.empty()) throw std::invalid_argument("nogil::mpi: a task's result cannot carry file descriptors to another rank");
                response.result = std::move(result.bytes);
                response.ok = true;
            } catch (...) {
                response.ok = false;
                response.error = capture(comm_);
            }
            answers.items.push_back(std::move(response));
        }
        answers.busy_ns = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count());
        send(encode(answers), tag_results);
    }

    MPI_Comm comm_;
    int master_;
    Session session_;
    Outbox outbox_;
    std::unique_ptr<Doorbells> bells_;  // this session's, when the master runs on this host
    int slot_ = 0;                      // this rank's bell in it
};

}  // namespace

void serve(MPI_Comm comm, int master, bool until_exit) { Server(comm, master).run(until_exit); }

namespace {

// A worker spawned by MPIPoolExecutor is this same executable with the marker as its only
// argument: it serves before main() runs, and exits. (Namespace-scope objects of other files may
// not be constructed yet then, as with the process pool's spawn start method: tasks should not
// rely on them.)
bool spawned_as_worker() {
    std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    auto first_end = all.find('\0');
    if (first_end == std::string::npos) return false;
    return all.compare(first_end + 1, std::string::npos, std::string("--nogil-mpi-worker") + '\0') == 0;
}

[[noreturn]] void spawned_worker_main() {
    int rc = 0;
    try {
        ensure_mpi_initialized();
        MPI_Comm parent = MPI_COMM_NULL;
        MPI_Comm_get_parent(&parent);
        if (parent == MPI_COMM_NULL) throw std::runtime_error("started with --nogil-mpi-worker but not spawned by MPI");
        serve(parent, 0, true);  // executor after executor of the parent, until it exits
        MPI_Comm_disconnect(&parent);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nogil::mpi worker: %s\n", e.what());
        rc = 1;
    }
    MPI_Finalize();
    std::fflush(nullptr);
    std::_Exit(rc);
}

}  // namespace

void run_spawned_worker_if_marked() {
    if (spawned_as_worker()) spawned_worker_main();
}

}  // namespace nogil::mpi::detail
