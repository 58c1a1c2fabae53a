#include <nogil/multiprocessing/detail/fd.hpp>
#include <nogil/errors.hpp>

#include <cerrno>
#include <poll.h>
#include <unistd.h>
#include <vector>

namespace nogil::multiprocessing::detail {

long check_os(long rc, const char* what) {
    if (rc == -1) throw OSError(errno, what);
    return rc;
}

int wait_any_readable(const int* fds, int count, Deadline deadline) {
    std::vector<pollfd> pfds(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) pfds[static_cast<std::size_t>(i)] = pollfd{fds[i], POLLIN, 0};
    for (;;) {
        int timeout_ms = -1;
        if (deadline) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
            timeout_ms = left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
        }
        int rc = ::poll(pfds.data(), static_cast<nfds_t>(count), timeout_ms);
        if (rc > 0) {
            for (int i = 0; i < count; ++i)
                if (pfds[static_cast<std::size_t>(i)].revents != 0) return i;
        }
        if (rc == 0 && timeout_ms == 0) return -1;
        if (rc == -1 && errno != EINTR) throw OSError(errno, "poll");
        // rc == 0 with time left: poll rounds; loop re-computes the remaining time.
    }
}

bool wait_readable(int fd, Deadline deadline) { return wait_any_readable(&fd, 1, deadline) == 0; }

}  // namespace nogil::multiprocessing::detail
