#pragma once
// What the master and its worker ranks say to each other: MPI messages on a communicator of their
// own (a spawned intercommunicator, or a duplicate of the user's communicator), one tag per kind.
// Calls and answers are the process pool's (TaskRequest, ResponseBatch: function ids relative to
// the loaded object, cereal bytes, exceptions by type), so a task that runs in a ProcessPoolExecutor
// runs on a rank unchanged.
//
//   master → worker   boot     Session: initializer, wdir, env, path       (one per executor)
//                     tasks    RequestBatch: several calls, run in order
//                     stop     the executor is done: a spawned worker leaves, a static one
//                              waits for the next executor's boot
//                     exit     (static ranks only) the program is over: leave serve()
//   worker → master   booted   BootReport: the initializer's outcome
//                     results  ResponseBatch: answers in request order + time spent running
//                     stopped  the answer to stop, its last message of this executor
//
// A worker answers in the order it was asked, and MPI does not let two messages from one rank
// overtake each other: once the master has a worker's `stopped`, nothing of that executor is left
// in flight from it, so the next executor on the same ranks (static form) starts clean.
//
// On one host, a bell in shared memory (src/mpi/doorbell.hpp) wakes a rank that sleeps waiting for a
// message: every message above is followed by a ring of its receiver's bell.
//
// Every message is one MPI message of bytes (MPI_BYTE), received with MPI_Improbe + MPI_Mrecv so
// its size need not be known in advance; a 100 MiB argument is one message like any other.

#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/exception.hpp>
#include <nogil/concurrent/futures/detail/process_pool_core.hpp>
#include <nogil/multiprocessing/detail/worker.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nogil::mpi::detail {

using nogil::multiprocessing::detail::EncodedCall;
using nogil::multiprocessing::detail::RemoteException;
using nogil::concurrent::futures::detail::RequestBatch;
using nogil::concurrent::futures::detail::ResponseBatch;
using nogil::multiprocessing::detail::SharedCall;
using nogil::multiprocessing::detail::TaskRequest;
using nogil::multiprocessing::detail::TaskResponse;

enum Tag : int {
    tag_boot = 7101,
    tag_tasks = 7102,
    tag_stop = 7103,
    tag_exit = 7104,
    tag_booted = 7111,
    tag_results = 7112,
    tag_stopped = 7113,
};

/// What every worker of one executor does before its first task (mpi4py's keyword arguments).
struct Session {
    SharedCall initializer;
    std::string wdir;                                       // "" = stay where the rank started
    std::vector<std::pair<std::string, std::string>> env;   // set before the initializer runs
    std::vector<std::string> path;                          // where to look for a task's shared library
    std::string doorbell;     // the master's wake-up segment (src/mpi/doorbell.hpp), "" = none
    std::string master_host;  // where the master runs: only a worker on that host opens `doorbell`

    template <class Archive>
    void serialize(Archive& ar) {
        ar(initializer, wdir, env, path, doorbell, master_host);
    }
};

struct BootReport {
    bool ok = true;
    RemoteException error;  // when !ok: what the initializer (or wdir) threw
    std::string host;       // where the rank runs (processor name)
    std::int64_t pid = 0;   // its process id there: the master watches it when it runs on its host
    bool doorbell = false;  // it opened the master's wake-up segment: it sleeps on its bell, rings the master's

    template <class Archive>
    void serialize(Archive& ar) {
        ar(ok, error, host, pid, doorbell);
    }
};

}  // namespace nogil::mpi::detail
