// ProcessPoolCore's public members and dispatch (see process_pool_impl.hpp for the map).
#include "concurrent/futures/detail/process_pool_impl.hpp"

namespace nogil::concurrent::futures::detail {

void ProcessPoolCore::Impl::shutdown_pool(bool wait, bool cancel_futures, bool at_exit) {
    std::deque<Task> cancelled;
    {
        std::lock_guard lock(mutex);
        if (at_exit && !shutdown) closed_at_exit = true;
        shutdown = true;
        if (cancel_futures) cancelled.swap(pending);
    }
    for (auto& task : cancelled) {
        task.future->cancel();
        release(task);
    }
    notify();
    if (!wait) return;
    std::lock_guard lock(join_mutex);
    if (manager.joinable() && manager.get_id() != std::this_thread::get_id()) manager.join();
}

void ProcessPoolCore::Impl::dispatch_locked(bool idle_only) {
    while (!pending.empty()) {
        Worker* target = nullptr;
        std::size_t capable = 0;
        std::size_t front_bytes = request_bytes(pending.front());
        for (auto& w : workers) {
            if (!can_take(*w, front_bytes) || (idle_only && !w->inflight.empty())) continue;
            ++capable;
            if (!target || w->inflight.size() < target->inflight.size()) target = w.get();
        }
        if (!target) return;
        // An even share of what is pending, so that one worker does not take it all.
        std::size_t share = (pending.size() + capable - 1) / capable;
        bool idle = target->inflight.empty();
        std::size_t room = idle ? std::max<std::size_t>(target->depth(), 1) : target->depth() - target->inflight.size();
        if (settings.max_tasks_per_child != 0)
            room = std::min<std::size_t>(room, settings.max_tasks_per_child - target->assigned);
        std::size_t n = std::min(share, room);
        std::size_t budget = idle ? SIZE_MAX : max_inflight_bytes - target->inflight_bytes;
        std::size_t used = 0;
        RequestBatch batch;
        std::vector<Task> sent;
        batch.reserve(n);
        while (sent.size() < n && !pending.empty()) {
            std::size_t bytes = request_bytes(pending.front());
            if (bytes > budget - used) break;
            Task task = std::move(pending.front());
            pending.pop_front();
            bool run = false;
            try {
                run = task.future->set_running_or_notify_cancel();
            } catch (...) {
                run = false;
            }
            if (!run) {
                release(task);
                continue;
            }
            task.bytes = bytes;
            used += bytes;
            batch.push_back(TaskRequest{task.id, std::move(task.call)});
            // What it runs stays for `nogil ps` (the move left the object's path empty: a function
            // of a library would be named as the executable's).
            task.call.target = batch.back().call.target;
            sent.push_back(std::move(task));
        }
        if (sent.empty()) continue;
        serial::Payload payload = serial::dumps(batch);
        try {
            send_request(*target, payload);
        } catch (...) {
            // The worker is gone (a worker retired by max_tasks_per_child is never sent more)
            // or scribbled on its ring: the manager breaks the pool, failing these tasks with
            // the rest. Keep them in its pipeline so they are not lost.
            target->garbage = true;
            notify();
        }
        for (auto& task : sent) {
            target->inflight_bytes += task.bytes;
            ++target->assigned;
            target->inflight.push_back(std::move(task));
        }
    }
}

void ProcessPoolCore::Impl::send_request(Worker& w, const serial::Payload& payload) {
    if (!payload.fds.empty() || !w.requests.try_write(payload.bytes)) {
        if (!w.requests.try_write_marker()) throw std::runtime_error("request ring full");
        wake_worker(w);
        send_frame(w.conn.fileno(), FrameKind::request, payload.bytes, payload.fds);
    }
    wake_worker(w);
}


ProcessPoolCore::ProcessPoolCore(ProcessPoolSettings settings) : impl_(std::make_shared<Impl>()) {
    impl_->settings = std::move(settings);
    int ends[2];
    check_os(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), "pipe2");
    impl_->wake.reset(ends[0]);
    impl_->wake_write.reset(ends[1]);
    impl_->manager = std::thread([impl = impl_] { impl->run(); });
    if (!register_for_exit(impl_)) {  // made while the program exits
        std::lock_guard lock(impl_->mutex);
        impl_->shutdown = impl_->closed_at_exit = true;
    }
    impl_->record.kind = ExecutorRecord::process_pool;
    impl_->record.max_workers = impl_->settings.max_workers;
    impl_->record.pool = impl_.get();
    register_executor(impl_->record);
}

ProcessPoolCore::~ProcessPoolCore() {
    shutdown(true, false);
    unregister_executor(impl_->record);
    // Destroyed from a done callback, on the manager thread itself: that thread holds its own
    // reference to the state and finishes with it.
    if (impl_->manager.joinable()) impl_->manager.detach();
}

int ProcessPoolCore::max_workers() const noexcept { return impl_->settings.max_workers; }

bool ProcessPoolCore::help(const std::weak_ptr<Impl>& pool, const FutureStateBase& future,
                           std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    std::shared_ptr<Impl> impl = pool.lock();
    return impl && impl->help(future, deadline);
}

void ProcessPoolCore::submit(FutureStateBase* future, DeliverFn deliver, EncodedCall call) {
    Impl& s = *impl_;
    bool wake_manager = false;
    {
        std::unique_lock lock(s.mutex);
        if (!s.started && s.broken.empty() && !s.shutdown && !exiting()) {
            // The first submit starts the workers and waits for them (Python starts a fork
            // pool's processes in its first submit too): a fork() then happens while this
            // thread is parked, not allocating, so the child cannot inherit a lock it held.
            s.started = true;
            lock.unlock();
            s.notify();
            lock.lock();
            s.launched_cv.wait(lock, [&] { return s.launched; });
        }
        bool refused_at_exit = s.closed_at_exit || (!s.shutdown && exiting());
        if (!s.broken.empty() || s.shutdown || refused_at_exit) {
            std::string broken = s.broken;
            lock.unlock();
            future->release();
            if (!broken.empty()) throw BrokenProcessPool(broken);
            if (refused_at_exit) throw std::runtime_error(kSubmitAfterExit);
            throw std::runtime_error("cannot schedule new futures after shutdown");
        }
        s.pending.push_back(Impl::Task{s.next_id++, future, deliver, std::move(call), 0});
        s.dispatch_locked(true);
        if (!s.pending.empty()) {
            // Someone must come back for it: the manager wakes on every response anyway, so it
            // is told only when no response is due or workers are missing.
            bool any_inflight = std::any_of(s.workers.begin(), s.workers.end(),
                                            [](auto& w) { return !w->inflight.empty(); });
            wake_manager = !any_inflight || static_cast<int>(s.workers.size()) < s.settings.max_workers;
        }
    }
    if (wake_manager) s.notify();
}

void ProcessPoolCore::shutdown(bool wait, bool cancel_futures) { impl_->shutdown_pool(wait, cancel_futures); }

void ProcessPoolCore::signal_workers(int signal) {
    shutdown(false, true);
    std::lock_guard lock(impl_->mutex);
    for (auto& w : impl_->workers) {
        if (w->process.is_alive()) signal == SIGKILL ? w->process.kill() : w->process.terminate();
    }
}

std::vector<int> ProcessPoolCore::worker_pids() const {
    std::vector<int> pids;
    std::lock_guard lock(impl_->mutex);
    for (auto& w : impl_->workers)
        if (auto pid = w->process.pid()) pids.push_back(*pid);
    return pids;
}

}  // namespace nogil::concurrent::futures::detail
