#pragma once
// Unix signals in asyncio: EventLoop::add_signal_handler / remove_signal_handler (declared in
// <nogil/asyncio/event_loop.hpp>, defined with this file's machinery) and Ctrl-C handling for
// asyncio::run() (Python 3.11's Runner).
//
// add_signal_handler(sig, fn), as Python's (a self-pipe, like signal.set_wakeup_fd):
//   1. the C handler, on whichever thread the signal lands, only writes the signal number to a
//      non-blocking pipe (async-signal-safe; a full pipe drops the byte: signals coalesce);
//   2. the loop watches the pipe's read end; on its thread it reads the numbers and queues each
//      registered fn with call_soon, so fn runs on the loop's thread one turn later;
//   3. remove_signal_handler(sig) restores SIG_DFL (Python does the same, and SIGINT's default
//      there is KeyboardInterrupt, which nogil::asyncio::run() reproduces below);
//   4. closing the loop removes every handler it registered (the loop drops the pipe's
//      callback, whose destructor restores the dispositions and closes the pipe).
// One loop handles signals at a time, on the main thread only (RuntimeError otherwise).
//
// Ctrl-C (MainTaskInterrupt, installed by asyncio::run() around the main task, only on the main
// thread and only while SIGINT has its default disposition): the first SIGINT cancels the main
// task and restores SIGINT's default, so a second Ctrl-C ends the program as usual (Python
// raises KeyboardInterrupt at once instead; C++ cannot throw from a signal handler). When the
// main task then ends cancelled and uncancel() brings its count to zero, run() throws
// nogil::KeyboardInterrupt instead of CancelledError.

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/errors.hpp>

#include <memory>

namespace nogil::detail {

class TaskBase;

/// The Ctrl-C half of Python's asyncio.Runner, as an RAII guard around running the main task.
/// Loop thread only.
class MainTaskInterrupt {
public:
    /// Routes SIGINT to cancelling `main_task` if we are on the main thread and SIGINT has its
    /// default disposition (no user handler, not ignored); otherwise does nothing.
    MainTaskInterrupt(asyncio::EventLoop& loop, TaskBase& main_task);
    /// Restores SIGINT's default disposition if our handler is still the one installed.
    ~MainTaskInterrupt();
    MainTaskInterrupt(const MainTaskInterrupt&) = delete;
    MainTaskInterrupt& operator=(const MainTaskInterrupt&) = delete;

    /// True once a SIGINT cancelled the main task.
    bool interrupted() const noexcept;
    /// Call after the main task is done: throws KeyboardInterrupt if SIGINT cancelled it, it
    /// ended cancelled, and uncancel() brings its cancel count to zero (Python's rule).
    void throw_if_interrupted();

    /// The machinery (shared with the installed SIGINT handler).
    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace nogil::detail
