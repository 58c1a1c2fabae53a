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
    // An eager child whose first steps made the group fail (it created a child that failed at
    // once) was not in tasks_ when abort() ran: cancel it now (Python's gh-128550).
    if (aborting_) task.cancel({});
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
    const std::exception_ptr& error = task.stored_exception();
    errors_.push_back(error);
    if (!base_error_ && is_exit_exception(error)) base_error_ = error;
    if (parent_->done()) {
        loop_->call_exception_handler({"Task error after the TaskGroup's parent finished", error, task.describe()});
        return;
    }
    if (!aborting_ && !parent_cancel_requested_) {
        // Cancel the parent to interrupt the body; exit() takes this cancel back (uncancel).
        abort();
        parent_cancel_requested_ = true;
        parent_->cancel({});
    }
}

// Python 3.13's TaskGroup.__aexit__, step by step:
//   1. a KeyboardInterrupt/SystemExit from the body is remembered (it wins over everything);
//   2. a failing body cancels the children; all children are awaited (a cancel of the parent
//      meanwhile cancels the children too, and is propagated unless errors win);
//   3. a KeyboardInterrupt/SystemExit (body's or a child's) is re-thrown bare;
//   4. only now, with every child done, is the group's own cancel of the parent taken back
//      (uncancel): a child that failed while we waited cancelled the parent too;
//   5. a CancelledError is propagated if the parent still has cancel requests (from outside)
//      and nothing failed;
//   6. the failures are thrown as one ExceptionGroup (with no cause or context: Python raises it
//      `from None`); if a cancel from outside is still counted, it is re-armed first (uncancel
//      + cancel), so the parent's next await throws CancelledError: it is never lost.
Coroutine<> TaskGroup::exit(std::exception_ptr error) {
    exiting_ = true;
    if (error && !base_error_ && is_exit_exception(error)) base_error_ = error;
    const bool error_is_cancel = is_cancelled_error(error);
    std::exception_ptr propagate_cancel = error_is_cancel ? error : nullptr;
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
    if (base_error_) {
        errors_.clear();
        std::rethrow_exception(std::exchange(base_error_, nullptr));
    }
    if (parent_cancel_requested_ && parent_->uncancel() == 0) propagate_cancel = nullptr;
    if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
    if (error && !error_is_cancel) errors_.push_back(error);
    if (!errors_.empty()) {
        if (parent_->cancelling() > 0) {
            parent_->uncancel();
            parent_->cancel({});
        }
        throw ExceptionGroup("unhandled errors in a TaskGroup", std::exchange(errors_, {}));
    }
}

}  // namespace nogil::asyncio
