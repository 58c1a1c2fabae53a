#pragma once
// asyncio::TaskGroup: structured concurrency (Python 3.11's `async with asyncio.TaskGroup()`).
//
//   auto body = [&](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
//       tg.create_task(fetch(1));
//       tg.create_task(fetch(2));
//       co_return;
//   };
//   co_await asyncio::TaskGroup::run(body);   // returns when every child is done
//
// Why this spelling: a TaskGroup only exists inside run(), so it cannot be used before it is
// entered or after it is left, and the exit (waiting for the children, raising their errors)
// cannot be forgotten or skipped by an exception - which an object with an explicit join()
// would allow. The body runs inline in the current task. Name the lambda before the co_await
// (g++ 12 miscompiles a capturing lambda temporary inside a co_await expression).
//
// Rules (Python's): the group waits for all children. The first child that fails cancels the
// other children and the body (the parent task is cancelled, then uncancelled on exit, so the
// code after run() goes on normally). On exit, if any child or the body failed, run() throws
// ExceptionGroup("unhandled errors in a TaskGroup", [the failures]); a child's CancelledError
// is not a failure. Cancelling the parent task cancels the children, waits for them, then
// re-throws the CancelledError - unless a child failed: errors win, and a cancel from outside
// that is still counted is re-armed, so the parent's next await throws CancelledError (it is
// never lost). A KeyboardInterrupt or SystemExit (nogil::is_exit_exception) from the body or a
// child is re-thrown bare after the children are done, never inside an ExceptionGroup. The
// protocol's steps are written at TaskGroup::exit (src/asyncio/task_group.cpp). The parent is
// resumed by the loop, one turn after the last child completes.

#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/detail/task_base.hpp>
#include <nogil/errors.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace nogil::asyncio {

/// Thread safety: loop thread only. A TaskGroup exists only inside run(), in the parent task;
/// create_task() must be called on the loop's thread (from the body or from a child). Done
/// callbacks and the children's completion are handled on the loop's thread.
class TaskGroup {
public:
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    ~TaskGroup();

    /// Runs body(tg) in the current task, then waits for the group; see the header comment.
    /// Returns the body's value.
    template <class F>
        requires std::is_invocable_v<F&, TaskGroup&>
    static Coroutine<typename std::invoke_result_t<F&, TaskGroup&>::value_type> run(F body) {
        using T = typename std::invoke_result_t<F&, TaskGroup&>::value_type;
        TaskGroup tg;
        tg.enter();
        std::exception_ptr error;
        if constexpr (std::is_void_v<T>) {
            try {
                co_await body(tg);
            } catch (...) {
                error = std::current_exception();
            }
            co_await tg.exit(error);
        } else {
            std::optional<T> value;
            try {
                value.emplace(co_await body(tg));
            } catch (...) {
                error = std::current_exception();
            }
            co_await tg.exit(error);
            co_return std::move(*value);
        }
    }

    /// Schedules a child task. Throws RuntimeError if the group is shutting down (a child failed
    /// or the parent is cancelled) or finished.
    template <class T>
    Task<T> create_task(Coroutine<T> coro, TaskOptions options = {}) {
        check_can_create();
        Task<T> task = detail::make_task(*loop_, coro, options);
        adopt(*task.state());
        return task;
    }
    /// Same, with a name.
    template <class T>
    Task<T> create_task(Coroutine<T> coro, std::string_view name) {
        return create_task(std::move(coro), TaskOptions{name, false, nullptr});
    }

private:
    friend struct detail::DebugLayout;  // task_done's context is the group (introspection.hpp rule 2)
    TaskGroup() = default;
    void enter();
    Coroutine<> exit(std::exception_ptr error);
    void check_can_create() const;
    void adopt(detail::TaskBase& task);
    void abort();
    void on_task_done(detail::FutureBase& task);
    static void task_done(void* self, detail::FutureBase& task) { static_cast<TaskGroup*>(self)->on_task_done(task); }

    // The group's state, all on the loop's thread (no lock). Each flag, once set, is never unset:
    //   entered_                 enter() (run() before the body): create_task is allowed from now.
    //   aborting_                abort(): the first child failure, a body error, or the parent
    //                            cancelled while exit() waits. Every pending child has been
    //                            cancelled; create_task throws "TaskGroup is shutting down".
    //   parent_cancel_requested_ on_task_done(): the group cancelled its parent to interrupt the
    //                            body (at most once); exit() step 4 takes that cancel back.
    //   exiting_                 exit() step 1. With tasks_ empty too, the group is finished:
    //                            create_task throws "TaskGroup is finished".
    // So: created → entered (body runs) → exiting (waits for tasks_) → finished, with aborting
    // possible from entered on.
    //
    // exit(error), the body's outcome (Python 3.13's TaskGroup.__aexit__), step by step:
    //   1. exiting_ = true; a KeyboardInterrupt/SystemExit from the body is remembered (it wins
    //      over everything). (test: TestTaskGroup.test_taskgroup_20, _20_system_exit)
    //   2. A failing body (a cancellation included) aborts the group: the children are cancelled.
    //      Every child is awaited; a cancel of the parent meanwhile cancels them too (once).
    //      (tests: BodyErrorCancelsChildrenAndIsInTheGroup,
    //      CancellingTheParentCancelsTheChildrenAndPropagates, TestTaskGroup.test_cancellation_in_body)
    //   3. A KeyboardInterrupt/SystemExit (the body's or a child's) is re-thrown bare, never in
    //      an ExceptionGroup. (test: TestTaskGroup.test_taskgroup_21, _21a)
    //   4. Only now, with every child done, is the group's own cancel of the parent taken back
    //      (uncancel): a child that failed while we waited cancelled the parent too.
    //      (tests: TestTaskGroup.test_cancelling_level_preserved, test_nested_groups_both_cancelled)
    //   5. A CancelledError is propagated if the parent still has cancel requests (from
    //      outside) and nothing failed. Errors have priority over the cancellation.
    //      (tests: ChildErrorWhileTheParentIsCancelledHasPriority, TestTaskGroup.test_taskgroup_09)
    //   6. The failures (the body's own error, not a cancellation, included) are thrown as
    //      ExceptionGroup("unhandled errors in a TaskGroup", errors), with no cause (Python
    //      raises it `from None`); a cancel from outside still counted is re-armed first, so
    //      the parent's next await throws CancelledError: it is never lost.
    //      (tests: SeveralFailuresAreAllCollected, TestTaskGroup.test_error_and_cancel)
    // The tests are in tests/asyncio_task_group_test.cpp and tests/cpython/test_taskgroups.cpp;
    // the code follows these steps at TaskGroup::exit (src/asyncio/task_group.cpp).
    detail::LoopCore* loop_ = nullptr;
    detail::Ref<detail::TaskBase> parent_;
    std::unordered_set<detail::TaskBase*> tasks_;  // pending children, one reference each
    detail::DoneLink done_link_{&task_done, this};  // registered on each pending child
    std::vector<std::exception_ptr> errors_;
    std::exception_ptr base_error_;  // the first KeyboardInterrupt / SystemExit (body or child)
    std::optional<Future<>> on_completed_;
    bool entered_ = false;
    bool exiting_ = false;
    bool aborting_ = false;
    bool parent_cancel_requested_ = false;
};

}  // namespace nogil::asyncio
