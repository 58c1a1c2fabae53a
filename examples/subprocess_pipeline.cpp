// Child processes with asyncio: three workers run concurrently and their output is streamed
// line by line as it arrives (interleaved), then a shell-free pipeline
// `seq 1 12 | sort -rn | head -n 5` whose stages are connected by OS pipes, the last stage
// read line by line by the loop. Prints every line with the name of the child that wrote it.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/subprocess.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace sp = nogil::asyncio::subprocess;

namespace {

/// Reads `reader` line by line until EOF, printing each line as it arrives.
asyncio::Coroutine<std::vector<std::string>> stream_lines(std::string name, asyncio::StreamReader reader) {
    std::vector<std::string> lines;
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;  // EOF
        if (line.back() == '\n') line.pop_back();
        std::printf("[%s] %s\n", name.c_str(), line.c_str());
        lines.push_back(std::move(line));
    }
    co_return lines;
}

/// One worker: a shell loop that prints a line every few milliseconds.
asyncio::Coroutine<std::vector<std::string>> worker(int n) {
    std::string script = "for i in 1 2 3; do echo \"worker " + std::to_string(n) + " says $i\"; sleep 0.01; done";
    auto proc = co_await asyncio::create_subprocess_shell(script, {.stdout = sp::PIPE});
    auto lines = co_await stream_lines("worker " + std::to_string(n), *proc.stdout);
    if (co_await proc.wait() != 0) throw std::runtime_error("worker failed");
    co_return lines;
}

/// seq 1 12 | sort -rn | head -n 5, connected with pipes we create and hand to the children.
asyncio::Coroutine<std::vector<std::string>> pipeline() {
    int a[2], b[2];
    if (::pipe2(a, O_CLOEXEC) != 0 || ::pipe2(b, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    auto seq = co_await asyncio::create_subprocess_exec("seq", "1", "12", sp::Options{.stdout = a[1]});
    auto sort = co_await asyncio::create_subprocess_exec("sort", "-rn", sp::Options{.stdin = a[0], .stdout = b[1]});
    auto head = co_await asyncio::create_subprocess_exec("head", "-n", "5", sp::Options{.stdin = b[0], .stdout = sp::PIPE});
    for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);  // the children hold their ends now
    auto lines = co_await stream_lines("pipeline", *head.stdout);
    co_await head.wait();
    // head exits after 5 lines; sort may then die of SIGPIPE (-13), which is expected.
    co_await seq.wait();
    co_await sort.wait();
    co_return lines;
}

asyncio::Coroutine<int> main_() {
    auto [w1, w2, w3] = co_await asyncio::gather(worker(1), worker(2), worker(3));
    auto top = co_await pipeline();

    const bool ok = w1.size() == 3 && w2.size() == 3 && w3.size() == 3 &&
                    top == std::vector<std::string>{"12", "11", "10", "9", "8"};
    co_return ok ? 0 : 1;
}

}  // namespace

int main() { return asyncio::run(main_()); }
