// Child processes with asyncio: three workers run concurrently, then a shell-free pipeline
// `seq 1 12 | sort -rn | head -n 5` whose stages are connected by OS pipes, the last stage's
// output read by the loop. Prints every line with the name of the child that wrote it.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/subprocess.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace sp = nogil::asyncio::subprocess;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// One worker: a shell loop that prints three lines; returns its lines.
asyncio::Coroutine<std::vector<std::string>> worker(int n) {
    std::string script = "for i in 1 2 3; do echo \"worker " + std::to_string(n) + " says $i\"; done";
    auto proc = co_await asyncio::create_subprocess_shell(script, {.stdout = sp::PIPE});
    auto [out, err] = co_await proc.communicate();
    if (co_await proc.wait() != 0) throw std::runtime_error("worker failed");
    co_return lines_of(out);
}

/// seq 1 12 | sort -rn | head -n 5, connected with pipes we create and hand to the children.
asyncio::Coroutine<std::vector<std::string>> pipeline() {
    int a[2], b[2];
    if (::pipe2(a, O_CLOEXEC) != 0 || ::pipe2(b, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    auto seq = co_await asyncio::create_subprocess_exec("seq", "1", "12", sp::Options{.stdout = a[1]});
    auto sort = co_await asyncio::create_subprocess_exec("sort", "-rn", sp::Options{.stdin = a[0], .stdout = b[1]});
    auto head = co_await asyncio::create_subprocess_exec("head", "-n", "5", sp::Options{.stdin = b[0], .stdout = sp::PIPE});
    for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);  // the children hold their ends now
    auto [out, err] = co_await head.communicate();
    // head exits after 5 lines; sort may then die of SIGPIPE (-13), which is expected.
    co_await seq.wait();
    co_await sort.wait();
    co_return lines_of(out);
}

asyncio::Coroutine<int> main_() {
    auto [w1, w2, w3] = co_await asyncio::gather(worker(1), worker(2), worker(3));
    for (const auto* lines : {&w1, &w2, &w3})
        for (const auto& line : *lines) std::printf("%s\n", line.c_str());

    auto top = co_await pipeline();
    for (const auto& line : top) std::printf("pipeline: %s\n", line.c_str());

    const bool ok = w1.size() == 3 && w2.size() == 3 && w3.size() == 3 &&
                    top == std::vector<std::string>{"12", "11", "10", "9", "8"};
    co_return ok ? 0 : 1;
}

}  // namespace

int main() { return asyncio::run(main_()); }
