#pragma once
// Ctrl-C for asyncio::run(), as Python 3.11's asyncio.Runner does it, built on the loop's
// add_signal_handler (<nogil/asyncio/event_loop.hpp>, src/asyncio/signals.cpp).
//
// MainTaskInterrupt is installed by run() around the main task, only on the main thread and
// only while SIGINT has its default disposition (a program with its own SIGINT handling, or
// started with SIGINT ignored, keeps it):
//   1. the first SIGINT runs, on the loop's thread one turn later, a handler that cancels the
//      main task and gives SIGINT back its default action - so a second Ctrl-C ends the
//      program as usual (Python raises KeyboardInterrupt at once there; C++ cannot throw from
//      a signal handler);
//   2. the main task sees CancelledError at its current co_await and may clean up;
//   3. when it ends cancelled and uncancel() brings its cancel count to zero, run() throws
//      nogil::KeyboardInterrupt instead of CancelledError (Python's rule: a task that swallowed
//      the cancellation, or was also cancelled for another reason, keeps its own outcome).
// Tests (tests/asyncio_signals_test.cpp, AsyncioSignals.*): steps 1-3
// CtrlCCancelsTheMainTaskThenKeyboardInterrupt; step 1's default action back
// SecondCtrlCEndsTheProgram; the conditions of installation ProgramHandlingSigintItselfKeepsIt,
// GuardLeavesSigintAloneOffTheMainThreadAndRestoresIt.
// Loop thread only.

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/detail/task_base.hpp>
#include <nogil/errors.hpp>

#include <csignal>
#include <memory>
#include <sys/syscall.h>
#include <unistd.h>

namespace nogil::asyncio::detail {

/// The Ctrl-C half of Python's asyncio.Runner, as an RAII guard around running the main task.
class MainTaskInterrupt {
public:
    /// Routes SIGINT to cancelling `main_task` (see the header comment); does nothing off the
    /// main thread, when SIGINT is not at its default, or when another loop handles signals.
    MainTaskInterrupt(asyncio::EventLoop& loop, TaskBase& main_task)
        : state_(std::make_shared<State>(State{&loop, Ref<TaskBase>(&main_task)})) {
        if (::getpid() != static_cast<pid_t>(::syscall(SYS_gettid))) return;
        struct sigaction current {};
        if (::sigaction(SIGINT, nullptr, &current) != 0 || (current.sa_flags & SA_SIGINFO) ||
            current.sa_handler != SIG_DFL)
            return;
        try {
            loop.add_signal_handler(SIGINT, CancelMainTask{state_});
        } catch (const std::runtime_error&) {  // another loop handles signals: leave SIGINT alone
            return;
        }
        state_->installed = true;
    }
    /// Gives SIGINT back its default action if the first Ctrl-C has not already done so.
    ~MainTaskInterrupt() { state_->restore(); }
    MainTaskInterrupt(const MainTaskInterrupt&) = delete;
    MainTaskInterrupt& operator=(const MainTaskInterrupt&) = delete;

    /// True once a SIGINT cancelled the main task.
    bool interrupted() const noexcept { return state_->interrupted; }
    /// Call when the main task ended with CancelledError: throws KeyboardInterrupt if SIGINT
    /// cancelled it and uncancel() brings its cancel count to zero (step 3 above).
    void throw_if_interrupted() {
        if (state_->interrupted && state_->task->cancelled() && state_->task->uncancel() == 0) throw KeyboardInterrupt();
    }

private:
    struct State {
        asyncio::EventLoop* loop;
        Ref<TaskBase> task;
        bool installed = false;
        bool interrupted = false;
        void restore() noexcept {
            if (!installed) return;
            installed = false;
            try {
                loop->remove_signal_handler(SIGINT);
            } catch (...) {  // a closed loop already restored every disposition
            }
        }
    };
    struct CancelMainTask {
        std::shared_ptr<State> state;
        void operator()() const {
            if (!state->interrupted && !state->task->done()) {
                state->interrupted = true;
                state->task->cancel({});
            }
            state->restore();  // a second Ctrl-C now has SIGINT's default action
        }
    };
    std::shared_ptr<State> state_;
};

}  // namespace nogil::asyncio::detail
