#pragma once
// threading.Timer: a Thread that calls a function after an interval, unless cancelled first.

#include <nogil/threading/event.hpp>
#include <nogil/threading/thread.hpp>

#include <chrono>
#include <memory>
#include <tuple>
#include <utility>

namespace nogil::threading {

/// Python's threading.Timer. A Thread (start, join, is_alive, name, daemon all apply) whose
/// target waits `interval` and then calls fn(args...) on the timer's thread, unless cancel()
/// was called first. Copies are handles onto the same timer.
///
/// Thread safety: as Thread; cancel() may come from any thread. The function runs on the timer's
/// own thread, unless cancel() came first.
class Timer : public Thread {
public:
    /// A timer that, once started, calls fn(args...) after `interval` (copies made now).
    template <class Rep, class Period, class F, class... Args>
        requires ThreadTarget<F, Args...>
    Timer(std::chrono::duration<Rep, Period> interval, F&& fn, Args&&... args)
        : Timer(ThreadOptions{}, interval, std::forward<F>(fn), std::forward<Args>(args)...) {}

    /// As above, with a thread name and daemon flag.
    template <class Rep, class Period, class F, class... Args>
        requires ThreadTarget<F, Args...>
    Timer(ThreadOptions options, std::chrono::duration<Rep, Period> interval, F&& fn, Args&&... args)
        : Timer(std::move(options), std::make_shared<Event>(), std::chrono::duration<double>(interval),
                detail::make_target(std::forward<F>(fn), std::forward<Args>(args)...)) {}

    /// Stops the timer if it has not fired yet: the function is then never called and the
    /// thread ends at once. Callable from any thread, before or after start(); harmless later.
    void cancel() noexcept { finished_->set(); }

private:
    Timer(ThreadOptions options, std::shared_ptr<Event> finished, std::chrono::duration<double> interval,
          std::unique_ptr<detail::Target> fn);

    std::shared_ptr<Event> finished_;  // shared with the timer's thread
};

}  // namespace nogil::threading
