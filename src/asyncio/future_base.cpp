#include <nogil/detail/asyncio_future_base.hpp>

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/detail/asyncio_task_base.hpp>

namespace nogil::detail::aio {

FutureBase::~FutureBase() { loop_->release(); }

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
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
}

const std::string& FutureBase::cancel_message() const noexcept {
    static const std::string empty;
    return extras_ ? extras_->cancel_message : empty;
}

void FutureBase::set_cancel_message(std::string msg) {
    if (msg.empty() && !extras_) return;
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
    if (done()) return false;
    set_cancel_message(std::move(msg));
    state_ = State::cancelled;
    schedule_callbacks();
    return true;
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
    if (state_ == State::cancelled) throw make_cancelled_error();
    if (state_ == State::pending) throw InvalidStateError("Exception is not set.");
    return stored_exception();  // retrieved
}

void FutureBase::check_result() const {
    if (state_ == State::cancelled) throw make_cancelled_error();
    if (state_ == State::pending) throw InvalidStateError("Result is not set.");
    if (extras_ && extras_->exception) std::rethrow_exception(stored_exception());  // retrieved
}

void FutureBase::add_callback(Callback fn, void* ctx) {
    if (done()) {
        loop_->schedule_future_callback(fn, ctx, *this);
        return;
    }
    if (!first_fn_ && (!extras_ || extras_->callbacks.empty())) {
        first_fn_ = fn;
        first_ctx_ = ctx;
        return;
    }
    extras().callbacks.push_back({fn, ctx, {}, 0});
}

bool FutureBase::remove_callback(Callback fn, void* ctx) noexcept {
    if (first_fn_ == fn && first_ctx_ == ctx) {
        first_fn_ = nullptr;
        first_ctx_ = nullptr;
        return true;
    }
    if (!extras_) return false;
    auto& cbs = extras_->callbacks;
    for (auto it = cbs.begin(); it != cbs.end(); ++it)
        if (!it->user && it->fn == fn && it->ctx == ctx) {
            cbs.erase(it);
            return true;
        }
    return false;
}

std::uint64_t FutureBase::add_done_callback(std::function<void(FutureBase&)> fn) {
    if (!fn) throw std::invalid_argument("add_done_callback: fn must not be empty");
    auto& x = extras();
    std::uint64_t id = x.next_id++;
    if (done()) {
        Ref<FutureBase> self(this);
        loop_->call_soon([self, fn = std::move(fn)] { fn(*self); });
        return id;
    }
    x.callbacks.push_back({nullptr, nullptr, std::move(fn), id});
    return id;
}

std::size_t FutureBase::remove_done_callback(std::uint64_t id) noexcept {
    if (!extras_) return 0;
    auto& cbs = extras_->callbacks;
    for (auto it = cbs.begin(); it != cbs.end(); ++it)
        if (it->user && it->id == id) {
            cbs.erase(it);
            return 1;
        }
    return 0;
}

void FutureBase::schedule_callbacks() {
    if (first_fn_) {
        loop_->schedule_future_callback(std::exchange(first_fn_, nullptr), std::exchange(first_ctx_, nullptr), *this);
    }
    if (!extras_ || extras_->callbacks.empty()) return;
    auto cbs = std::move(extras_->callbacks);
    extras_->callbacks.clear();
    for (auto& e : cbs) {
        if (e.user) {
            if (loop_->is_closed()) continue;
            Ref<FutureBase> self(this);
            loop_->call_soon([self, fn = std::move(e.user)] { fn(*self); });
        } else {
            loop_->schedule_future_callback(e.fn, e.ctx, *this);
        }
    }
}

}  // namespace nogil::detail::aio
