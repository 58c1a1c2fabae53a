// Reading the process pool's response rings: by the manager, or by a thread waiting in result()
// (see process_pool_impl.hpp for the map, and the header's "Reading the rings").
#include "concurrent/futures/detail/process_pool_impl.hpp"

namespace nogil::concurrent::futures::detail {

ProcessPoolCore::Impl::Stream ProcessPoolCore::Impl::drain(Worker& w, bool check_socket, bool stop_at_marker, std::vector<Answer>& answers) {
    for (;;) {
        Frame message;
        ResponseBatch batch;
        try {
            if (stop_at_marker) {
                // Only a record seen at the head is taken: a marker published meanwhile stays.
                RingReader::Next head = w.responses.peek();
                if (head == RingReader::Next::marker) return Stream::marker;
                if (head == RingReader::Next::empty) return Stream::open;
            }
            RingReader::Next next = w.responses.try_read(message.bytes);
            if (next == RingReader::Next::empty) {
                if (!check_socket || !w.conn.poll()) return Stream::open;
                if (w.responses.ready()) continue;  // a marker came meanwhile
                return recv_frame(w.conn.fileno()) ? Stream::garbage : Stream::ended;
            }
            if (next == RingReader::Next::record && !socket_quiet(w)) return Stream::garbage;
            if (next == RingReader::Next::marker) {
                std::optional<Frame> frame = recv_frame(w.conn.fileno());
                if (!frame) return Stream::ended;
                if (frame->kind != FrameKind::response) return Stream::garbage;
                message = std::move(*frame);
            }
            std::vector<UniqueFd> none;
            std::tie(batch) = serial::loads<ResponseBatch>(message.bytes, none);
        } catch (...) {
            return Stream::garbage;
        }
        if (batch.items.empty() || (!message.fds.empty() && batch.items.size() != 1)) return Stream::garbage;
        std::lock_guard lock(mutex);
        for (auto& item : batch.items) {
            if (w.inflight.empty() || w.inflight.front().id != item.id) return Stream::garbage;
            answers.push_back(Answer{std::move(w.inflight.front()), std::move(item), {}});
            w.inflight.pop_front();
            w.inflight_bytes -= answers.back().task.bytes;
        }
        answers.back().fds = std::move(message.fds);  // at most one item when there are any
        double per = static_cast<double>(batch.busy_ns) / static_cast<double>(batch.items.size());
        w.ns_per_task = w.ns_per_task <= 0 ? per : 0.75 * w.ns_per_task + 0.25 * per;
        dispatch_locked();  // refill the pipelines before the futures wake anyone
    }
}

void ProcessPoolCore::Impl::restore_for_manager() noexcept {
    if (!manager_asleep) return;
    bool waiting = false;
    for (auto& w : workers) {
        w->responses.announce_sleep();
        waiting = waiting || w->has_response();
    }
    if (waiting) notify();
}

bool ProcessPoolCore::Impl::keep_callbacks_on_the_manager(std::vector<Answer>& answers) {
    std::vector<Answer> theirs;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        if (answers[i].task.future->has_callbacks()) {
            theirs.push_back(std::move(answers[i]));
        } else {
            if (kept != i) answers[kept] = std::move(answers[i]);
            ++kept;
        }
    }
    if (theirs.empty()) return false;
    answers.erase(answers.begin() + static_cast<std::ptrdiff_t>(kept), answers.end());
    std::lock_guard lock(mutex);
    handed_over.insert(handed_over.end(), std::make_move_iterator(theirs.begin()), std::make_move_iterator(theirs.end()));
    return true;
}

bool ProcessPoolCore::Impl::help(const FutureStateBase& future, std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    using Clock = std::chrono::steady_clock;
    if (managing_pool == this) return false;
    std::unique_lock read_lock(reading, std::try_to_lock);
    if (!read_lock) return false;  // another thread reads them (and completes this future too)
    const auto give_up = Clock::now() + help_limit;
    auto something_to_do = [&] {
        return future.done() || (deadline && Clock::now() >= *deadline) ||
               std::any_of(workers.begin(), workers.end(), [](auto& w) { return w->has_response(); });
    };
    auto time_is_up = [&] {
        auto now = Clock::now();
        return now >= give_up || (deadline && now >= *deadline);
    };
    std::vector<Answer> answers;
    withdraw_for_manager();
    while (!future.done() && !time_is_up()) {
        bool hand_over = false;  // to the manager: a marker, or a worker to break the pool for
        for (auto& w : workers) {
            if (!w->has_response()) continue;
            Stream stream = drain(*w, false, true, answers);
            if (stream == Stream::open) continue;
            hand_over = true;
            if (stream != Stream::marker) {
                std::lock_guard lock(mutex);
                w->garbage = true;  // the manager breaks the pool
            }
            break;
        }
        if (!answers.empty() || hand_over) {
            // Under `reading`: break_pool, which takes it too, then finds them handed over.
            hand_over = keep_callbacks_on_the_manager(answers) || hand_over;
            restore_for_manager();
            read_lock.unlock();
            if (hand_over) notify();
            deliver(answers);
            if (hand_over || future.done() || !read_lock.try_lock()) return true;
            withdraw_for_manager();
            continue;
        }
        if (!helper_spinner.spin(something_to_do)) break;
    }
    restore_for_manager();
    return true;
}

}  // namespace nogil::concurrent::futures::detail
