#pragma once
// The untyped engine of multiprocessing::Pool.
//
// One manager thread owns the worker processes. It hands each idle worker one task at a time
// (so a dead worker costs exactly the task it held), reads responses, and restarts workers that
// exit (maxtasksperchild) or die. Completion callbacks run on the manager thread.
//
// Shutdown protocol:
//   1. close(): no new tasks; the manager keeps going until pending and running tasks are done,
//      then closes every worker's connection (end of file: the worker returns) and reaps them.
//   2. terminate(): no new tasks; the manager kills every worker (SIGKILL), reaps them, and fails
//      every unfinished task with ProcessError ("pool terminated") — nobody waits forever.
//   3. join(): waits for the manager thread (after 1 or 2; std::invalid_argument otherwise;
//      std::runtime_error("cannot join current thread") from a completion callback, as Python).
//   The destructor is 2 then 3, except on the manager thread (a callback dropped the last Pool):
//   there it is 2 alone, and the manager, which shares the state, finishes it and frees it.
//   A worker that dies while running a task fails that task with ProcessError (exit code in the
//   message) and is replaced. If workers keep dying before finishing anything (a throwing
//   initializer), the pool breaks: every unfinished and future task fails with ProcessError.
// Tests (tests/multiprocessing_pool_test.cpp, PoolBasics.*): step 1 CloseLetsSubmittedTasksFinish;
// 2 TerminateFailsPendingTasksAndRejectsNewOnes; 3 JoinBeforeCloseAndBadArguments; a death
// WorkerKilledMidTaskFailsThatTaskOnly; the broken pool FailingInitializerBreaksThePoolInsteadOfHanging.

#include <nogil/multiprocessing/detail/call.hpp>
#include <nogil/multiprocessing/detail/worker.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace nogil::concurrent::futures::detail {
struct ExecutorDebugOffsets;
}  // namespace nogil::concurrent::futures::detail

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;


struct TaskOutcome {
    std::string bytes;                     // the serialized result, when there is no error
    std::vector<UniqueFd> fds;             // descriptors inside the result
    std::optional<RemoteException> error;  // the task's exception or a pool failure, described:
                                           // the exception object is built where it is caught
};

using TaskCallback = std::function<void(TaskOutcome&)>;

/// What `nogil ps` names a task by (docs/debugging.md): the function the user gave, and for a
/// chunk of map/imap/starmap which one. Empty (the default): the call's own function (apply).
struct TaskLabel {
    FunctionId function;       // map's function (the call's target is the chunk runner)
    std::uint64_t chunk = 0;   // 1 + the chunk's index; 0: not a chunk
    std::uint64_t chunks = 0;  // how many chunks (map); 0: not known yet (imap reads lazily)
};

class PoolCore {
public:
    PoolCore(int processes, SharedCall initializer, std::uint64_t maxtasksperchild, std::string start_method);
    ~PoolCore();  // terminate() + join(), as Python's Pool.__exit__
    PoolCore(const PoolCore&) = delete;
    PoolCore& operator=(const PoolCore&) = delete;

    /// Queues a task; `done` runs exactly once on the manager thread. Throws std::invalid_argument
    /// if the pool is closed or terminated ("Pool not running").
    void submit(EncodedCall call, TaskCallback done, TaskLabel label = {});
    /// As submit(), but only from a completion callback (the manager thread; std::logic_error
    /// elsewhere) and still accepted after close(): work that continues work submitted before
    /// close() (imap's feeder). Throws std::invalid_argument after terminate().
    void submit_continuation(EncodedCall call, TaskCallback done, TaskLabel label = {});
    void close();
    void terminate();
    void join();
    int processes() const noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;  // shared with the manager thread
    // Where `nogil ps` finds Impl's fields (src/multiprocessing/detail/pool_record.hpp).
    friend void describe_pool(::nogil::concurrent::futures::detail::ExecutorDebugOffsets& r) noexcept;
};

}  // namespace nogil::multiprocessing::detail
