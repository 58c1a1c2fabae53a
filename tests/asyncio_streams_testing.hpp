#pragma once
// Helpers shared by the asyncio streams tests.

#include <cstddef>
#include <dirent.h>

namespace nogil_test {

/// Number of open fds of this process (entries of /proc/self/fd, counting the directory's own).
inline std::size_t open_fd_count() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

}  // namespace nogil_test
