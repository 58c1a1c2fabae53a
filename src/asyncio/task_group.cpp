#include <nogil/asyncio/task_group.hpp>

namespace nogil::asyncio {

namespace {
bool is_cancelled_error(const std::exception_ptr& e) {
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError&) {
        return true;
    } catch (...) {
        return false;
    }
}
}  // namespace

TaskGroup::~TaskGroup() {
    // Only reached with pending children when the loop closed under us: detach from them.
    for (detail::TaskBase* t : tasks_) {
        t->remove_callback(done_link_);
        t->release();
    }
}

void TaskGroup::enter() {
    if (entered_) throw std::runtime_error("TaskGroup has already been entered");
    detail::TaskBase* parent = detail::TaskBase::current();
    if (!parent) throw std::runtime_error("TaskGroup cannot determine the parent task");
    parent_ = detail::Ref<detail::TaskBase>(parent);
    loop_ = &parent->loop();
    entered_ = true;
}

void TaskGroup::check_can_create() const {
    if (!entered_) throw std::runtime_error("TaskGroup has not been entered");
    if (exiting_ && tasks_.empty()) throw std::runtime_error("TaskGroup is finished");
    if (aborting_) throw std::runtime_error("TaskGroup is shutting down");
}

void TaskGroup::adopt(detail::TaskBase& task) {
    if (task.done()) {  // finished eagerly: no callback needed
        on_task_done(task);
        return;
    }
    task.add_ref();
    tasks_.insert(&task);
    task.add_callback(done_link_);
}

void TaskGroup::abort() {
    aborting_ = true;
    for (detail::TaskBase* t : tasks_)
        if (!t->done()) t->cancel({});
}

void TaskGroup::on_task_done(detail::FutureBase& fut) {
    auto& task = static_cast<detail::TaskBase&>(fut);
    if (tasks_.erase(&task)) task.release();  // the callback's own reference keeps it alive here
    if (on_completed_ && tasks_.empty() && !on_completed_->done()) on_completed_->set_result();
    if (task.cancelled() || !task.stored_exception()) return;
    errors_.push_back(task.stored_exception());
    if (parent_->done()) {
        loop_->call_exception_handler(
            {"Task error after the TaskGroup's parent finished", task.stored_exception(), task.describe()});
        return;
    }
    if (!aborting_ && !parent_cancel_requested_) {
        // Cancel the parent to interrupt the body; exit() takes this cancel back (uncancel).
        abort();
        parent_cancel_requested_ = true;
        parent_->cancel({});
    }
}

// The numbered steps of exit() are written down, with their tests, in task_group.hpp.
Coroutine<> TaskGroup::exit(std::exception_ptr error) {
    exiting_ = true;
    const bool error_is_cancel = is_cancelled_error(error);
    std::exception_ptr propagate_cancel = error_is_cancel ? error : nullptr;
    if (parent_cancel_requested_ && parent_->uncancel() == 0) propagate_cancel = nullptr;
    if (error && !aborting_) abort();
    while (!tasks_.empty()) {
        if (!on_completed_) on_completed_.emplace(*loop_->owner());
        std::exception_ptr cancelled;
        try {
            co_await *on_completed_;
        } catch (const CancelledError&) {
            cancelled = std::current_exception();
        }
        // The parent was cancelled while waiting: cancel the children, keep waiting for them.
        if (cancelled && !aborting_) {
            propagate_cancel = cancelled;
            abort();
        }
        on_completed_.reset();
    }
    if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
    if (error && !error_is_cancel) errors_.push_back(error);
    if (!errors_.empty()) throw ExceptionGroup("unhandled errors in a TaskGroup", std::exchange(errors_, {}));
}

}  // namespace nogil::asyncio
