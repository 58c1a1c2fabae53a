// The event loop's machinery. The iteration and close protocols are written at the top of
// include/nogil/asyncio/detail/loop_core.hpp.
#include <nogil/asyncio/detail/loop_core.hpp>

#include <nogil/asyncio/event_loop.hpp>
#include <nogil/concurrent/futures/executor.hpp>
#include <nogil/asyncio/detail/future_base.hpp>
#include <nogil/asyncio/detail/introspection.hpp>
#include <nogil/asyncio/detail/task_base.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <utility>

#include <unistd.h>

namespace nogil::asyncio::detail {

// ----------------------------------------------------------------------------- handles

void HandleState::cancel() noexcept {
    cancelled.store(true, std::memory_order_release);
    if (loop && heap_index != not_in_heap) loop->remove_timer(*this);
}


// A closed loop's ring is kept for the thread's next loop (one spare per thread, up to
// spare_ring_max_words): a program that runs asyncio.run() again and again, or a loop per
// request, does not grow the ring by doubling and page-fault it in each time (a large block
// freed at the heap top goes back to the kernel). At most 4 MiB stays with a thread.
// Plain thread_locals (valid until the thread is gone) plus an owner that frees the spare at
// thread exit: a loop destroyed later in the thread's exit (a user's thread_local loop) finds
// `spare_closed` and frees its ring itself.
namespace {
constexpr std::size_t spare_ring_max_words = std::size_t(1) << 19;
thread_local std::uintptr_t* spare_ring = nullptr;
thread_local std::size_t spare_ring_words = 0;
thread_local bool spare_closed = false;
struct SpareRingOwner {
    ~SpareRingOwner() {
        delete[] spare_ring;
        spare_ring = nullptr;
        spare_ring_words = 0;
        spare_closed = true;
    }
};
thread_local SpareRingOwner spare_ring_owner;
}  // namespace

ReadyQueue::~ReadyQueue() {
    if (spare_closed || capacity_ <= spare_ring_words || capacity_ > spare_ring_max_words) return;
    (void)&spare_ring_owner;  // registers its destructor for this thread's exit
    delete[] spare_ring;
    spare_ring = buf_.release();
    spare_ring_words = capacity_;
}

void ReadyQueue::grow() {
    std::size_t bigger_capacity = capacity_ == 0 ? 64 : capacity_ * 2;
    std::unique_ptr<std::uintptr_t[]> bigger;
    if (spare_ring_words >= bigger_capacity) {
        bigger.reset(std::exchange(spare_ring, nullptr));
        bigger_capacity = std::exchange(spare_ring_words, 0);
    } else {
        bigger.reset(new std::uintptr_t[bigger_capacity]);
    }
    for (std::size_t i = 0; i < used_; ++i) bigger[i] = buf_[(head_ + i) & (capacity_ - 1)];
    buf_ = std::move(bigger);
    capacity_ = bigger_capacity;
    head_ = 0;
}

// ----------------------------------------------------------------------------- life cycle

LoopCore::LoopCore(asyncio::EventLoop& owner, std::optional<IoBackendKind> backend, bool debug_mode)
    : debug(debug_mode), owner_(&owner), backend_(make_io_backend(backend, debug_mode)), backend_kind_(backend_->kind()) {
    register_loop(*this);
}

LoopCore::~LoopCore() { unregister_loop(*this); }

LoopCore& running_loop_or_throw() {
    if (!running_loop) throw std::runtime_error("no running event loop");
    return *running_loop;
}

void LoopCore::check_thread() const {
    if (!debug) return;
    auto running = running_thread_.load(std::memory_order_acquire);
    auto bound = running != std::thread::id() ? running : owner_thread_;
    if (bound != std::thread::id() && bound != std::this_thread::get_id())
        throw std::runtime_error("Non-thread-safe operation invoked on an event loop other than the current one");
}

void LoopCore::close() {
    if (is_running()) throw std::runtime_error("Cannot close a running event loop");
    if (closed_) return;
    {
        // Under the lock: call_soon_threadsafe reads closed_ from other threads.
        std::lock_guard lock(threadsafe_mutex_);
        closed_ = true;
    }
    // Step 2: drop everything scheduled, without running it (test: CloseDropsWhatIsScheduledWithoutRunningIt).
    while (!ready_.empty()) {
        ReadyItem item = ready_.pop();
        if (item.kind() == ReadyItem::Kind::future_callback)
            item.future->release();
        else if (item.kind() == ReadyItem::Kind::handle)
            static_cast<HandleState*>(item.ptr())->release();
    }
    for (HandleState* t : timers_) {
        t->heap_index = HandleState::not_in_heap;
        t->release();
    }
    timers_.clear();
    {
        std::lock_guard lock(threadsafe_mutex_);
        threadsafe_.clear();
    }
    close_signals();
    fds_.clear();
    // Step 3: destroy the frames of pending tasks. A frame's destructors may release other
    // tasks, so take them one at a time from the head of the registry.
    while (tasks_head_) {
        Ref<TaskBase> task(tasks_head_);
        unregister_task(*task);
        task->abandon();  // step 4 too: drops its callbacks and those of what it awaited
    }
    if (auto executor = std::exchange(default_executor, nullptr)) executor->shutdown(false);
    // Step 5. No other thread reaches the backend any more: call_soon_threadsafe wakes the loop
    // under threadsafe_mutex_, and only while not closed.
    backend_.reset();
    events_ = {};
}

// ----------------------------------------------------------------------------- scheduling

void LoopCore::schedule_future_callback(void (*fn)(void*, FutureBase&), void* ctx, FutureBase& fut) {
    if (closed_) return;
    take_threadsafe_first();
    fut.add_ref();
    ready_.push(ReadyItem::make(ReadyItem::Kind::future_callback, ctx, &fut, fn));
}

void LoopCore::throw_closed() { throw std::runtime_error("Event loop is closed"); }

void LoopCore::schedule_handle(HandleState* handle) {
    if (closed_) return;
    take_threadsafe_first();
    handle->add_ref();
    ready_.push(ReadyItem::make(ReadyItem::Kind::handle, handle));
}

Ref<HandleState> LoopCore::call_soon(std::function<void()> fn) {
    check_open();
    take_threadsafe_first();
    auto* h = new CallbackHandle(std::move(fn));
    ready_.push(ReadyItem::make(ReadyItem::Kind::handle, h));  // the queue owns the first reference
    return Ref<HandleState>(h);
}

void LoopCore::heap_up(std::size_t i) noexcept {
    auto less = [](const HandleState* a, const HandleState* b) {
        return a->when < b->when || (a->when == b->when && a->seq < b->seq);
    };
    HandleState* h = timers_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 2;
        if (!less(h, timers_[parent])) break;
        timers_[i] = timers_[parent];
        timers_[i]->heap_index = static_cast<std::uint32_t>(i);
        i = parent;
    }
    timers_[i] = h;
    h->heap_index = static_cast<std::uint32_t>(i);
}

void LoopCore::heap_down(std::size_t i) noexcept {
    auto less = [](const HandleState* a, const HandleState* b) {
        return a->when < b->when || (a->when == b->when && a->seq < b->seq);
    };
    HandleState* h = timers_[i];
    const std::size_t n = timers_.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && less(timers_[child + 1], timers_[child])) ++child;
        if (!less(timers_[child], h)) break;
        timers_[i] = timers_[child];
        timers_[i]->heap_index = static_cast<std::uint32_t>(i);
        i = child;
    }
    timers_[i] = h;
    h->heap_index = static_cast<std::uint32_t>(i);
}

void LoopCore::heap_push(HandleState* h) {
    h->seq = timer_seq_++;
    h->loop = this;
    timers_.push_back(h);
    heap_up(timers_.size() - 1);
}

void LoopCore::remove_timer(HandleState& timer) noexcept {
    std::size_t i = timer.heap_index;
    if (i == HandleState::not_in_heap || i >= timers_.size() || timers_[i] != &timer) return;
    HandleState* last = timers_.back();
    timers_.pop_back();
    timer.heap_index = HandleState::not_in_heap;
    if (last != &timer) {
        timers_[i] = last;
        last->heap_index = static_cast<std::uint32_t>(i);
        heap_down(i);
        heap_up(last->heap_index);
    }
    timer.release();
}

Ref<HandleState> LoopCore::call_at(Clock::time_point when, std::function<void()> fn) {
    check_open();
    auto* h = new CallbackHandle(std::move(fn));
    h->when = when;
    heap_push(h);  // the heap owns the first reference
    return Ref<HandleState>(h);
}

Ref<HandleState> LoopCore::call_at(Clock::time_point when, void (*fn)(void*), void* ctx) {
    if (closed_) return nullptr;
    auto* h = new HandleState;
    h->fn = fn;
    h->ctx = ctx;
    h->when = when;
    heap_push(h);
    return Ref<HandleState>(h);
}

Ref<HandleState> LoopCore::call_soon_threadsafe(std::function<void()> fn) {
    Ref<HandleState> h = Ref<HandleState>::adopt(new CallbackHandle(std::move(fn)));
    if (running_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
        // From the loop's own thread: straight into the ready queue, behind what call_soon
        // queued before it (no wakeup needed: the loop is running this very callback).
        check_open();
        take_threadsafe_first();
        ready_.push(ReadyItem::make(ReadyItem::Kind::handle, Ref<HandleState>(h).detach()));
        return h;
    }
    {
        std::lock_guard lock(threadsafe_mutex_);
        check_open();
        threadsafe_.push_back(h);
        // Under the lock, so that close() cannot release the backend in between (close step 5);
        // only the first of a burst writes to the eventfd.
        if (!threadsafe_pending_.exchange(true, std::memory_order_acq_rel)) backend_->wakeup();
    }
    return h;
}

void LoopCore::drain_threadsafe() {
    if (!threadsafe_pending_.load(std::memory_order_acquire)) return;
    threadsafe_pending_.store(false, std::memory_order_release);
    std::vector<Ref<HandleState>> batch;
    {
        std::lock_guard lock(threadsafe_mutex_);
        batch.swap(threadsafe_);
    }
    for (auto& h : batch) ready_.push(ReadyItem::make(ReadyItem::Kind::handle, h.detach()));
}

// ----------------------------------------------------------------------------- fds

void LoopCore::set_fd_callback(int fd, bool writer, std::function<void()> fn) {
    check_thread();
    check_open();
    if (fd < 0) throw std::invalid_argument("fd must be a non-negative file descriptor, got " + std::to_string(fd));
    auto& entry = fds_[fd];
    auto& slot = writer ? entry.writer : entry.reader;
    auto& other = writer ? entry.reader : entry.writer;
    auto h = Ref<HandleState>::adopt(new CallbackHandle(std::move(fn)));
    try {
        backend_->watch(fd, (writer ? io_writable : io_readable) | (other ? (writer ? io_readable : io_writable) : 0u));
    } catch (...) {
        if (!slot && !other) fds_.erase(fd);
        throw;
    }
    if (slot) slot->cancel();
    slot = std::move(h);
}

bool LoopCore::clear_fd_callback(int fd, bool writer) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) return false;
    auto& slot = writer ? it->second.writer : it->second.reader;
    auto& other = writer ? it->second.reader : it->second.writer;
    if (!slot) return false;
    slot->cancel();
    slot = nullptr;
    backend_->watch(fd, other ? (writer ? io_readable : io_writable) : 0u);
    if (!other) fds_.erase(it);
    return true;
}

void LoopCore::dispatch_fd(int fd, std::uint32_t events) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) return;
    if ((events & io_readable) && it->second.reader) schedule_handle(it->second.reader.get());
    if ((events & io_writable) && it->second.writer) schedule_handle(it->second.writer.get());
}

// ----------------------------------------------------------------------------- tasks

void LoopCore::register_task(TaskBase& task) noexcept {
    task.add_ref();
    task.reg_prev = nullptr;
    task.reg_next = tasks_head_;
    if (tasks_head_) tasks_head_->reg_prev = &task;
    tasks_head_ = &task;
    ++task_count_;
}

void LoopCore::unregister_task(TaskBase& task) noexcept {
    if (task.reg_prev)
        task.reg_prev->reg_next = task.reg_next;
    else
        tasks_head_ = task.reg_next;
    if (task.reg_next) task.reg_next->reg_prev = task.reg_prev;
    task.reg_prev = task.reg_next = nullptr;
    --task_count_;
    task.release();
}

std::vector<Ref<TaskBase>> LoopCore::tasks() const {
    std::vector<Ref<TaskBase>> out;
    out.reserve(task_count_);
    for (TaskBase* t = tasks_head_; t; t = t->reg_next) out.emplace_back(t);
    std::reverse(out.begin(), out.end());  // creation order
    return out;
}

// ----------------------------------------------------------------------------- running

void LoopCore::run_forever() {
    check_open();
    if (is_running()) throw std::runtime_error("This event loop is already running");
    if (running_loop) throw std::runtime_error("Cannot run the event loop while another loop is running");
    backend_->bind_thread();
    running_thread_.store(std::this_thread::get_id(), std::memory_order_release);
    owner_thread_ = std::this_thread::get_id();
    running_tid_ = static_cast<int>(::gettid());
    running_loop = this;
    // A callback may destroy the EventLoop (see close_when_stopped): the core stays until here.
    Ref<LoopCore> keep(this);
    struct Reset {
        LoopCore* self;
        ~Reset() {
            self->stopping_ = false;
            self->running_tid_ = 0;
            running_loop = nullptr;
            self->running_thread_.store(std::thread::id(), std::memory_order_release);
            if (self->close_when_stopped_) {
                try {
                    self->close();
                } catch (...) {  // nobody left to tell: the owner is gone
                }
            }
        }
    } reset{this};
    for (;;) {
        run_once();
        if (stopping_) break;
    }
}

void LoopCore::run_once() {
    std::optional<std::chrono::nanoseconds> timeout;
    if (!ready_.empty() || stopping_)
        timeout = std::chrono::nanoseconds(0);
    else if (!timers_.empty())
        timeout = std::max(std::chrono::nanoseconds(0), timers_.front()->when - Clock::now());

    // Only the signal self-pipe watched, and no signal arrived: nothing to poll for.
    const std::size_t flag_backed = signal_pipe_[0] >= 0 ? 1 : 0;
    const bool no_io = backend_->watched() == flag_backed &&
                       !(flag_backed && signal_pending_.exchange(false, std::memory_order_relaxed));
    if (timeout && timeout->count() == 0 && no_io) {
        drain_threadsafe();  // nothing to poll for: skip the system call
    } else {
        events_.clear();
        backend_->poll(timeout, events_);
        for (const IoEvent& e : events_) dispatch_fd(e.fd, e.events);
        drain_threadsafe();
    }

    if (!timers_.empty()) {
        const auto now = Clock::now();
        while (!timers_.empty() && timers_.front()->when <= now) {
            HandleState* t = timers_.front();
            t->add_ref();      // remove_timer drops the heap's reference; keep it alive until queued
            remove_timer(*t);
            schedule_handle(t);
            t->release();
        }
        if (timers_.empty() && timers_.capacity() > retained_timer_slots) std::vector<HandleState*>().swap(timers_);
    }
    run_ready(ready_.size());
}

void LoopCore::run_ready(std::size_t count) {
    for (std::size_t i = 0; i < count && !ready_.empty(); ++i) {
        ReadyItem item = ready_.pop();
        Clock::time_point start;
        Ref<TaskBase> stepped;  // debug: keeps the task alive to name it in a report
        if (debug) {
            start = Clock::now();
            if (item.kind() == ReadyItem::Kind::step) stepped = Ref<TaskBase>(static_cast<TaskBase*>(item.ptr()));
        }
        switch (item.kind()) {
            case ReadyItem::Kind::step:
                static_cast<TaskBase*>(item.ptr())->step();
                break;
            case ReadyItem::Kind::future_callback: {
                Ref<FutureBase> fut = Ref<FutureBase>::adopt(item.future);
                try {
                    item.fn(item.ptr(), *fut);
                } catch (...) {
                    // KeyboardInterrupt / SystemExit leave the loop (Python's Handle._run).
                    if (is_exit_exception(std::current_exception())) throw;
                    call_exception_handler({"Exception in callback", std::current_exception(), fut->describe()});
                }
                break;
            }
            case ReadyItem::Kind::handle: {
                Ref<HandleState> h = Ref<HandleState>::adopt(static_cast<HandleState*>(item.ptr()));
                if (h->cancelled.load(std::memory_order_acquire)) break;
                try {
                    h->run();
                } catch (...) {
                    if (is_exit_exception(std::current_exception())) throw;
                    call_exception_handler({"Exception in callback", std::current_exception(), "<Handle>"});
                }
                break;
            }
        }
        if (debug) {
            double seconds = std::chrono::duration<double>(Clock::now() - start).count();
            if (seconds >= slow_callback_duration) report_slow(stepped ? stepped->describe() : "<Handle>", seconds);
        }
    }
}

void LoopCore::report_slow(const std::string& what, double seconds) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", seconds);
    std::cerr << "asyncio: Executing " << what << " took " << buf << " seconds\n";
}

// ----------------------------------------------------------------------------- errors

namespace {
std::string describe_exception(const std::exception_ptr& e) {
    if (!e) return {};
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return std::string(typeid(ex).name()) + ": " + ex.what();
    } catch (...) {
        return "unknown exception";
    }
}
}  // namespace

void print_exception_context(const asyncio::ExceptionContext& c) noexcept {
    try {
        std::ostringstream out;
        out << "asyncio: " << c.message;
        if (!c.source.empty()) out << "\n  source: " << c.source;
        if (c.exception) out << "\n  exception: " << describe_exception(c.exception);
        out << '\n';
        std::cerr << out.str();
    } catch (...) {
    }
}

void LoopCore::call_exception_handler(const asyncio::ExceptionContext& context) noexcept {
    if (!exception_handler_ || !owner_) {
        print_exception_context(context);
        return;
    }
    try {
        exception_handler_(*owner_, context);
    } catch (...) {
        print_exception_context({"Unhandled error in exception handler", std::current_exception(), context.message});
        print_exception_context(context);
    }
}

}  // namespace nogil::asyncio::detail
