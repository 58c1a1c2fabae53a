#include <nogil/asyncio/timeouts.hpp>

namespace nogil::asyncio {

Timeout::clock::time_point detail::from_loop_time(double when) {
    if (std::isnan(when)) throw std::invalid_argument("when must not be NaN");
    // loop.time() is seconds since the steady clock's epoch: convert directly, no "now" involved.
    if (when > 3.2e9) return Timeout::clock::time_point::max();
    if (when < 0) return Timeout::clock::time_point{};
    return Timeout::clock::time_point(std::chrono::round<Timeout::clock::duration>(std::chrono::duration<double>(when)));
}

void Timeout::enter() {
    if (state_ != State::created) throw std::runtime_error("Timeout has already been entered");
    detail::TaskBase* task = detail::TaskBase::current();
    if (!task) throw std::runtime_error("Timeout should be used inside a task");
    task_ = detail::Ref<detail::TaskBase>(task);
    state_ = State::entered;
    cancelling_ = task->cancelling();
    reschedule(when_);
}

void Timeout::reschedule(std::optional<clock::time_point> when) {
    if (state_ != State::entered) {
        if (state_ == State::created) throw std::runtime_error("Timeout has not been entered");
        throw std::runtime_error("Cannot change state of an expired or exited Timeout");
    }
    when_ = when;
    if (handle_) std::exchange(handle_, nullptr)->cancel();
    if (!when) return;
    auto& loop = task_->loop();
    if (*when <= clock::now())
        handle_ = loop.call_soon([this] { on_timeout(); });
    else
        handle_ = loop.call_at(*when, [this] { on_timeout(); });
}

void Timeout::reschedule(double when) { reschedule(detail::from_loop_time(when)); }

void Timeout::on_timeout() {
    handle_ = nullptr;
    task_->cancel({});
    state_ = State::expiring;
}

void Timeout::exit(const std::exception_ptr& error) {
    if (handle_) std::exchange(handle_, nullptr)->cancel();
    if (state_ == State::expiring) {
        state_ = State::expired;
        // No other cancel request is pending: this cancellation was ours. Python raises
        // `TimeoutError from exc`; here the TimeoutError carries the CancelledError nested
        // (std::throw_with_nested: catch TimeoutError, std::rethrow_if_nested gives the cause).
        if (task_->uncancel() <= cancelling_ && error) {
            try {
                std::rethrow_exception(error);
            } catch (const CancelledError&) {
                std::throw_with_nested(TimeoutError());
            } catch (...) {
            }
        }
    } else if (state_ == State::entered) {
        state_ = State::exited;
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace nogil::asyncio
