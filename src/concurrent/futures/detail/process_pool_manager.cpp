// The process pool's manager thread: starts, retires and stops workers, breaks the pool, waits
// for work (see process_pool_impl.hpp for the map).
#include "concurrent/futures/detail/process_pool_impl.hpp"

namespace nogil::concurrent::futures::detail {

void ProcessPoolCore::Impl::start_worker() {
    auto [ours, theirs] = multiprocessing::Pipe();
    ProcessPoolChannel channel = ProcessPoolChannel::create(wake_write.get());
    multiprocessing::Process p(
        &process_pool_worker_main, theirs, channel, settings.max_tasks_per_child, settings.initializer,
        multiprocessing::ProcessOptions{.name = "ProcessPoolExecutor-worker-" + std::to_string(++worker_counter),
                                        .daemon = true,
                                        .start_method = settings.start_method});
    p.start();
    theirs.close();
    const int pid = p.pid().value_or(0);
    auto w = std::make_unique<Worker>(Worker{std::move(p), std::move(ours), channel, channel.request_writer(),
                                             channel.response_reader(), false, {}, 0, 0, 0,
                                             pid, &channel.running_word()});
    std::lock_guard read_lock(reading);
    std::lock_guard lock(mutex);
    workers.push_back(std::move(w));
}

void ProcessPoolCore::Impl::break_pool(const std::string& why) {
    std::vector<std::unique_ptr<Worker>> all;
    std::deque<Task> queued;
    std::vector<Answer> answered;
    {
        std::lock_guard read_lock(reading);
        std::lock_guard lock(mutex);
        broken = why;
        all.swap(workers);
        queued.swap(pending);
        answered.swap(handed_over);
    }
    for (auto& w : all) w->process.kill();
    // Each future gets an exception object of its own: one shared object would be thrown
    // by several threads at once, and a catcher that changes it would change it for all.
    auto error = [] { return std::make_exception_ptr(BrokenProcessPool(broken_future_message)); };
    for (auto& w : all) {
        w->conn.close();
        w->process.join();
        for (auto& task : w->inflight) fail(task, error());
    }
    for (auto& task : queued) fail(task, error());
    // Computed before the breakage: their results stand. Last, so that a callback of theirs
    // that waits for another future of the pool finds it failed already.
    deliver(answered);
}

bool ProcessPoolCore::Impl::retire(std::size_t i, bool healthy) {
    if (!healthy) return false;  // break_pool kills it
    Worker& w = *workers[i];
    w.process.join(std::chrono::seconds(5));
    if (!w.process.exitcode()) {  // it broke the protocol but lives on
        w.process.kill();
        w.process.join();
    }
    // Its last answers may have reached the ring after the manager last read it (between
    // that read and the look at whether it lives): read them before judging its end.
    std::vector<Answer> last;
    Stream stream = Stream::open;
    {
        std::lock_guard read_lock(reading);
        stream = drain(w, false, false, last);
    }
    deliver(last);
    if (stream != Stream::open) return false;
    bool expected = false;
    {
        std::lock_guard lock(mutex);  // a helping waiter may have read its last answers meanwhile
        expected = w.process.exitcode() == 0 && settings.max_tasks_per_child != 0 &&
                   w.assigned >= settings.max_tasks_per_child && w.inflight.empty();
    }
    if (!expected) return false;
    std::lock_guard read_lock(reading);
    std::lock_guard lock(mutex);
    workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
}

void ProcessPoolCore::Impl::tell_launched() {
    {
        std::lock_guard lock(mutex);
        launched = true;
    }
    launched_cv.notify_all();
}

void ProcessPoolCore::Impl::stop_workers() {
    std::vector<std::unique_ptr<Worker>> all;
    {
        std::lock_guard read_lock(reading);
        std::lock_guard lock(mutex);
        all.swap(workers);
    }
    for (auto& w : all) {
        try {
            RequestBatch stop(1);
            std::lock_guard lock(mutex);  // send_request's rule (no other writer is left)
            send_request(*w, serial::dumps(stop));
        } catch (...) {
            // Already gone: the join below collects it.
        }
        w->conn.close();
    }
    for (auto& w : all) w->process.join();
}

void ProcessPoolCore::Impl::run_loop() {
    std::vector<Answer> answers;
    for (;;) {
        bool need_workers = false;
        {
            std::lock_guard lock(mutex);
            if (!broken.empty()) return;
            bool idle = pending.empty() && handed_over.empty() &&
                        std::all_of(workers.begin(), workers.end(), [](auto& w) { return w->inflight.empty(); });
            if (shutdown && idle) break;
            need_workers = started && !(shutdown && pending.empty()) &&
                           static_cast<int>(workers.size()) < settings.max_workers;
        }
        if (need_workers) {
            try {
                while (static_cast<int>(workers.size()) < settings.max_workers) start_worker();
            } catch (const std::exception& e) {
                break_pool(std::string("cannot start a worker process: ") + e.what());
                tell_launched();
                return;
            }
            tell_launched();
        }
        bool garbage = false;
        {
            std::lock_guard lock(mutex);
            dispatch_locked();
            for (auto& w : workers) {
                garbage = garbage || w->garbage;
            }
        }
        if (garbage) {  // a request could not be sent to a worker
            break_pool(broken_pool_message);
            return;
        }
        int ready = wait();
        if (ready == 0) {
            char bytes[256];
            while (::read(wake.get(), bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes)) {
            }
        }
        // Every ring first (cheap), then the socket of the worker poll() pointed at.
        std::optional<std::size_t> ended;
        Stream stream = Stream::open;
        {
            std::lock_guard read_lock(reading);
            for (std::size_t i = 0; i < workers.size() && !ended; ++i) {
                stream = drain(*workers[i], false, false, answers);
                if (stream != Stream::open) ended = i;
            }
            if (!ended && ready > 0) {
                std::size_t i = static_cast<std::size_t>(ready - 1) / 2;
                stream = drain(*workers[i], true, false, answers);
                if (stream != Stream::open || !workers[i]->process.is_alive()) ended = i;
            }
        }
        {
            std::lock_guard lock(mutex);
            std::move(handed_over.begin(), handed_over.end(), std::back_inserter(answers));
            handed_over.clear();
        }
        deliver(answers);
        if (!ended) continue;
        if (!retire(*ended, stream != Stream::garbage)) {
            break_pool(broken_pool_message);
            return;
        }
    }
    stop_workers();
}

int ProcessPoolCore::Impl::wait() {
    std::vector<int> fds{wake.get()};
    {
        std::lock_guard read_lock(reading);
        bool any_response = false;
        for (auto& w : workers) {
            w->responses.announce_sleep();
            any_response = any_response || w->has_response();
        }
        if (any_response) {
            for (auto& w : workers) w->responses.withdraw_sleep();
            return -1;
        }
        manager_asleep = true;
        for (auto& w : workers) {
            fds.push_back(w->conn.fileno());
            fds.push_back(w->process.sentinel());
        }
    }
    int ready =
        wait_any_readable(fds.data(), static_cast<int>(fds.size()), std::chrono::steady_clock::now() + manager_recheck);
    std::lock_guard read_lock(reading);
    manager_asleep = false;
    for (auto& w : workers) w->responses.withdraw_sleep();
    return ready;
}

}  // namespace nogil::concurrent::futures::detail
