#include <nogil/asyncio/detail/future_base.hpp>

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

namespace nogil::asyncio::detail {

FutureBase::~FutureBase() {
    delete extras_if_any();
    loop_->release();
}

void FutureBase::report_unretrieved() noexcept {
    try {
        const bool task = dynamic_cast<const TaskBase*>(this) != nullptr;
        asyncio::ExceptionContext context{task ? "Task exception was never retrieved" : "Future exception was never retrieved",
                                          peek_exception(), describe()};
        if (loop_->is_closed())
            print_exception_context(context);
        else
            loop_->call_exception_handler(context);
    } catch (...) {
    }
}

FutureBase::Extras& FutureBase::extras() {
    if (Extras* x = extras_if_any()) return *x;
    auto x = std::make_unique<Extras>();
    if (const DoneLink* link = single_link()) x->callbacks.push_back({link, {}, 0});
    slot_ = reinterpret_cast<std::uintptr_t>(x.release()) | extras_tag;
    return *extras_if_any();
}

const std::string& FutureBase::cancel_message() const noexcept {
    static const std::string empty;
    const Extras* x = extras_if_any();
    return x ? x->cancel_message : empty;
}

void FutureBase::set_cancel_message(std::string msg) {
    if (msg.empty() && !extras_if_any()) return;
    extras().cancel_message = std::move(msg);
}

std::string FutureBase::describe() const {
    switch (state_) {
        case State::pending:
            return "<Future pending>";
        case State::cancelled:
            return "<Future cancelled>";
        default:
            return peek_exception() ? "<Future finished exception>" : "<Future finished>";
    }
}

void FutureBase::throw_if_done(const char* what) const {
    if (done()) throw InvalidStateError(std::string(what) + ": " + describe());
}

bool FutureBase::cancel(std::string msg) { return cancel_future(std::move(msg)); }

bool FutureBase::cancel_future(std::string msg) {
    (void)stored_exception();  // Python's cancel() clears __log_traceback first, even when done
    if (done()) return false;
    set_cancel_message(std::move(msg));
    state_ = State::cancelled;
    schedule_callbacks();
    return true;
}

bool FutureBase::cancel_future(std::string msg, std::exception_ptr raised) {
    if (done()) return false;
    if (raised) extras().cancelled_exception = std::move(raised);
    return cancel_future(std::move(msg));
}

std::exception_ptr FutureBase::cancelled_error() const {
    const Extras* x = extras_if_any();
    if (x && x->cancelled_exception) return x->cancelled_exception;
    return std::make_exception_ptr(make_cancelled_error());
}

void FutureBase::set_exception(std::exception_ptr e) {
    if (!e) throw std::invalid_argument("set_exception: exception must not be null");
    throw_if_done("invalid state");
    extras().exception = std::move(e);
    derived_flags_ |= unretrieved_flag;
    state_ = State::finished;
    schedule_callbacks();
}

void FutureBase::finish() {
    throw_if_done("invalid state");
    state_ = State::finished;
    schedule_callbacks();
}

std::exception_ptr FutureBase::exception() const {
    if (state_ == State::cancelled) std::rethrow_exception(cancelled_error());
    if (state_ == State::pending) throw InvalidStateError("Exception is not set.");
    return stored_exception();  // retrieved
}

void FutureBase::check_result() const {
    if (state_ == State::cancelled) std::rethrow_exception(cancelled_error());
    if (state_ == State::pending) throw InvalidStateError("Result is not set.");
    if (peek_exception()) std::rethrow_exception(stored_exception());  // retrieved
}

void FutureBase::add_callback(const DoneLink& link) {
    if (done()) {
        loop_->schedule_future_callback(link.fn, link.ctx, *this);
        return;
    }
    if (slot_ == 0) {
        slot_ = reinterpret_cast<std::uintptr_t>(&link);
        return;
    }
    extras().callbacks.push_back({&link, {}, 0});
}

bool FutureBase::remove_callback(const DoneLink& link) noexcept {
    if (slot_ == reinterpret_cast<std::uintptr_t>(&link)) {
        slot_ = 0;
        return true;
    }
    Extras* x = extras_if_any();
    if (!x) return false;
    auto& cbs = x->callbacks;
    for (auto it = cbs.begin(); it != cbs.end(); ++it)
        if (it->link == &link) {
            cbs.erase(it);
            return true;
        }
    return false;
}

std::uint64_t FutureBase::add_done_callback(std::function<void(FutureBase&)> fn) {
    if (!fn) throw std::invalid_argument("add_done_callback: fn must not be empty");
    // Python's add_done_callback(fn, context=None): fn runs in a copy of the current context.
    fn = [context = Ref<contextvars::detail::ContextState>::adopt(contextvars::detail::copy_current_or_null()),
          fn = std::move(fn)](FutureBase& f) {
        contextvars::detail::Entered scope(context.get());
        fn(f);
    };
    auto& x = extras();
    std::uint64_t id = x.next_id++;
    if (done()) {
        Ref<FutureBase> self(this);
        loop_->call_soon([self, fn = std::move(fn)] { fn(*self); });
        return id;
    }
    x.callbacks.push_back({nullptr, std::move(fn), id});
    return id;
}

std::size_t FutureBase::remove_done_callback(std::uint64_t id) noexcept {
    Extras* x = extras_if_any();
    if (!x) return 0;
    auto& cbs = x->callbacks;
    for (auto it = cbs.begin(); it != cbs.end(); ++it)
        if (it->user && it->id == id) {
            cbs.erase(it);
            return 1;
        }
    return 0;
}

void FutureBase::drop_callbacks() noexcept {
    if (single_link()) {
        slot_ = 0;
        return;
    }
    Extras* x = extras_if_any();
    if (!x) return;
    // Moved out first: a callback's captures may release futures that reach back here.
    auto cbs = std::move(x->callbacks);
    x->callbacks.clear();
}

void FutureBase::schedule_callbacks() {
    if (const DoneLink* link = single_link()) {
        slot_ = 0;
        loop_->schedule_future_callback(link->fn, link->ctx, *this);
        return;
    }
    Extras* x = extras_if_any();
    if (!x || x->callbacks.empty()) return;
    auto cbs = std::move(x->callbacks);
    x->callbacks.clear();
    for (auto& e : cbs) {
        if (e.user) {
            if (loop_->is_closed()) continue;
            Ref<FutureBase> self(this);
            loop_->call_soon([self, fn = std::move(e.user)] { fn(*self); });
        } else {
            loop_->schedule_future_callback(e.link->fn, e.link->ctx, *this);
        }
    }
}

}  // namespace nogil::asyncio::detail
