#pragma once
// The manager's server process (Python's managers.Server), numbered:
//
//   1. The starting process binds the listening socket (so that the address is known and
//      connections queue from the first moment), starts this process with it, and closes its
//      own copy: once the server is gone, nothing listens (ConnectionRefusedError).
//   2. The main thread accepts; each connection gets its own thread (Python's per-connection
//      threads), which runs the handshake (manager_socket.hpp) and then serves requests in order
//      until the client hangs up. A blocking method (Queue.get, Lock.acquire) blocks only its
//      connection.
//   3. Objects live in one table (id -> object, references) under one mutex, which is never
//      held while a method runs: a call takes its own shared_ptr to the object first.
//   4. shutdown: the answer is sent, then the process ends at once (_exit(0)), as Python's
//      server does (sys.exit with daemon threads), whatever other connections were doing: their
//      clients see EOFError.
//
// Tests: step 1 ManagerLifecycle.ProxyAfterShutdownIsRefused; step 2 ManagerThreads.ManyThreadsShareOneProxy,
// ManagerAttack.BlockedCallDoesNotBlockOthers; step 3 ManagerRefcount.ObjectsGoWithTheirLastProxy;
// step 4 ManagerAttack.ShutdownWhileCallsBlock (tests/multiprocessing_managers_test.cpp).

#include <nogil/detail/serial.hpp>
#include <nogil/multiprocessing/detail/manager.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nogil::multiprocessing::detail {
using ::nogil::detail::UniqueFd;

/// The listening socket handed to the server process (crosses as a descriptor). Not owning:
/// Process copies its arguments, and the starting process must close its socket right after
/// start() (step 1); the server keeps the one it received until it ends.
struct ListeningSocket {
    int fd = -1;

    template <class Archive>
    void save(Archive& ar) const {
        ar(serial::export_fd(fd));
    }
    template <class Archive>
    void load(Archive& ar) {
        std::uint32_t index = 0;
        ar(index);
        fd = serial::import_fd(index).release();
    }
};

/// The server process's target (step 2): serves until shutdown.
void serve_manager(ListeningSocket listener, std::string authkey, std::vector<RegisteredType> types);

}  // namespace nogil::multiprocessing::detail
