#pragma once
// Sending and receiving the protocol's messages (include/nogil/mpi/detail/protocol.hpp) on a
// communicator: bytes in, bytes out, nothing blocks. Used by the master and the workers alike;
// callers serialize their MPI calls (the master under its mutex, a worker on its one thread).

#include <nogil/detail/serial.hpp>
#include <nogil/mpi/detail/pool_core.hpp>
#include <nogil/mpi/detail/protocol.hpp>

#include <mpi.h>

#include <list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nogil::mpi::detail {

template <class T>
std::string encode(const T& value) {
    auto payload = nogil::detail::serial::dumps(value);
    return std::move(payload.bytes);
}

template <class T>
T decode(const std::string& bytes) {
    std::vector<nogil::detail::UniqueFd> none;
    return nogil::detail::serial::load_one<T>(bytes, none);
}

/// An MPI call failed (the communicator is no longer usable).
class MpiError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Throws MpiError naming `what` and MPI's error string when rc is not MPI_SUCCESS.
void check(int rc, const char* what);

struct Message {
    int source = 0;
    int tag = 0;
    std::string bytes;
};

/// The next message from `source` (or MPI_ANY_SOURCE) on `comm` if one has arrived
/// (MPI_Improbe + MPI_Mrecv), else nothing. Throws on an MPI error.
std::optional<Message> receive(MPI_Comm comm, int source);

/// True if a message from `source` (or MPI_ANY_SOURCE) has arrived on `comm` (MPI_Iprobe: it
/// stays there for receive()): every message that arrived before the call, which takes two probes
/// in Open MPI (messages.cpp). Throws on an MPI error.
bool message_waiting(MPI_Comm comm, int source);

/// Messages being sent (MPI_Isend keeps the buffer until the send completes).
class Outbox {
public:
    Outbox() = default;
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;
    ~Outbox();  // frees requests still pending (MPI_Request_free: the message still goes out)

    void send(std::string bytes, int dest, int tag, MPI_Comm comm);
    /// Completes what has been sent; true if anything completed.
    bool test();
    bool empty() const noexcept { return sending_.empty(); }
    /// Waits until everything has been sent (MPI_Waitall).
    void flush();

private:
    struct Sending {
        std::string bytes;
        MPI_Request request = MPI_REQUEST_NULL;
    };
    std::list<Sending> sending_;
};

/// "rank R on HOST (pid P)": who a worker is, in messages and RemoteError.
std::string describe_rank(MPI_Comm comm);

}  // namespace nogil::mpi::detail

namespace nogil::mpi::detail {
/// Why spawning failed, and what to do instead (the static form).
std::string spawn_refused_message(int code);
}  // namespace nogil::mpi::detail

namespace nogil::mpi::detail {
/// In a process spawned by MPIPoolExecutor (this executable with the worker marker): serve the
/// master, then exit, never returning. Elsewhere: nothing. Runs before main (pool_core.cpp).
void run_spawned_worker_if_marked();
}  // namespace nogil::mpi::detail

namespace nogil::mpi::detail {
/// Rank 0 of a static job (nogil::mpi::init): the workers' communicator; else MPI_COMM_NULL.
MPI_Comm static_world() noexcept;
}  // namespace nogil::mpi::detail

namespace nogil::mpi::detail {
/// Spawned workers outlive their executor: once it has shut down they wait, parked, for the next
/// executor of this process that asks for as many workers (each spawn costs ~0.4 s, and Open MPI
/// 4.1 with PMIx 4, as Debian 12 ships it, hangs now and then in repeated MPI_Comm_spawn:
/// openpmix/openpmix#2735). At exit every parked group is told `exit` and disconnected.
/// The intercommunicator of a parked group of exactly `workers` ranks, if there is one.
std::optional<MPI_Comm> take_parked_workers(int workers);
void park_workers(MPI_Comm intercomm, int workers);
}  // namespace nogil::mpi::detail

namespace nogil::mpi {
struct MPIPoolOptions;
namespace detail {
/// MPIPoolExecutor's options as the core's settings: the static form's ranks when
/// nogil::mpi::init made this rank 0 of a static job, else spawned workers. Checks max_workers.
PoolSettings settings_from(MPIPoolOptions options);
}  // namespace detail
}  // namespace nogil::mpi
