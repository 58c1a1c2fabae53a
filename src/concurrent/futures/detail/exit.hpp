#pragma once
// Executors at program exit, as Python's concurrent.futures does at interpreter exit
// (thread._python_exit and process._python_exit, registered with threading._register_atexit):
//   1. Under the registry lock, mark exit as begun and take every executor core still alive.
//   2. Shut each down with wait = true: the work already submitted runs to the end, its workers
//      exit and are joined. The program's exit waits for that.
//   3. From step 1 on, a submit to any executor throws std::runtime_error("cannot schedule new
//      futures after interpreter shutdown") (an executor shut down by its owner before keeps
//      "after shutdown"); an executor made after that refuses every submit the same way.
// The hook runs before threading joins the non-daemon threads (threading/detail/atexit.hpp).

#include <memory>

namespace nogil::concurrent::futures::detail {

/// An executor core that program exit shuts down and waits for.
class ExitParticipant {
public:
    /// Step 2: shutdown(wait = true) with exit's message for later submits. Called once, on the
    /// exiting thread.
    virtual void shutdown_at_exit() noexcept = 0;

protected:
    ~ExitParticipant() = default;
};

/// The message of step 3: one home.
inline constexpr const char* kSubmitAfterExit = "cannot schedule new futures after interpreter shutdown";

/// True once program exit has begun (step 1). One acquire load.
bool exiting() noexcept;

/// Makes `core` part of program exit for as long as it lives (the registry keeps a weak
/// reference). False if exit has begun already: the caller must then refuse every submit.
bool register_for_exit(std::weak_ptr<ExitParticipant> core);

}  // namespace nogil::concurrent::futures::detail
