#pragma once
// Helpers shared by the asyncio streams tests.

#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <cstddef>
#include <dirent.h>
#include <string>

namespace nogil_test {

/// A server handler echoing each line until EOF, then closing.
inline nogil::asyncio::Coroutine<> echo_lines(nogil::asyncio::StreamReader reader, nogil::asyncio::StreamWriter writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
}

/// Connects, sends `line`, returns the answer's first line, closes (TLS too, with `options.ssl`).
inline nogil::asyncio::Coroutine<std::string> ask(std::string host, int port, std::string line,
                                                  nogil::asyncio::ConnectionOptions options = {}) {
    auto [reader, writer] = co_await nogil::asyncio::open_connection(host, port, options);
    writer.write(line);
    co_await writer.drain();
    std::string answer = co_await reader.readline();
    writer.close();
    co_await writer.wait_closed();
    co_return answer;
}

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
