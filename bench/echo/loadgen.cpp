// Echo load generator (single thread, epoll): N connections, each sending one fixed-size
// message and waiting for its whole echo before sending the next, for a fixed duration.
// Prints messages/s, p50/p99 round-trip latency and, with --server-pid, the server's CPU time
// per message (utime + stime from /proc/PID/stat, which is what getrusage reports there).
//
//   loadgen HOST PORT [--conns N] [--size BYTES] [--duration S] [--warmup S] [--server-pid P]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

struct Conn {
    int fd = -1;
    std::size_t received = 0;
    Clock::time_point sent_at;
};

double server_cpu_seconds(int pid) {
    if (pid <= 0) return 0;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) stime = std::stoul(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: loadgen HOST PORT [--conns N] [--size B] [--duration S] [--warmup S] [--server-pid P]\n");
        return 2;
    }
    const char* host = argv[1];
    const int port = std::atoi(argv[2]);
    int conns = 1, pid = 0;
    std::size_t size = 64;
    double duration = 3.0, warmup = 0.5;
    for (int i = 3; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--conns") conns = std::atoi(argv[i + 1]);
        else if (a == "--size") size = std::strtoul(argv[i + 1], nullptr, 10);
        else if (a == "--duration") duration = std::atof(argv[i + 1]);
        else if (a == "--warmup") warmup = std::atof(argv[i + 1]);
        else if (a == "--server-pid") pid = std::atoi(argv[i + 1]);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("inet_pton");

    const int ep = epoll_create1(0);
    std::vector<Conn> cs(static_cast<std::size_t>(conns));
    const std::string message(size, 'm');
    std::vector<char> buf(1 << 16);
    for (std::size_t i = 0; i < cs.size(); ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cs[i].fd = fd;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    std::vector<std::uint32_t> samples;
    samples.reserve(4'000'000);
    auto send_one = [&](Conn& c) {
        c.received = 0;
        c.sent_at = Clock::now();
        if (write(c.fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) die("write");
    };
    for (auto& c : cs) send_one(c);

    const auto start = Clock::now();
    const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
    const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    bool measuring = false;
    double cpu_start = 0;
    std::uint64_t messages = 0;
    epoll_event events[256];
    for (;;) {
        const int n = epoll_wait(ep, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        const auto now = Clock::now();
        if (!measuring && now >= measure_from) {
            measuring = true;
            cpu_start = server_cpu_seconds(pid);
        }
        if (now >= end) break;
        for (int i = 0; i < n; ++i) {
            Conn& c = cs[events[i].data.u64];
            const ssize_t got = read(c.fd, buf.data(), buf.size());
            if (got <= 0) die("read (server closed?)");
            c.received += static_cast<std::size_t>(got);
            if (c.received < size) continue;
            const auto t = Clock::now();
            if (measuring) {
                ++messages;
                samples.push_back(static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - c.sent_at).count()));
            }
            send_one(c);
        }
    }
    const double cpu = server_cpu_seconds(pid) - cpu_start;
    std::sort(samples.begin(), samples.end());
    auto pct = [&](double p) { return samples.empty() ? 0.0 : samples[std::size_t(p * double(samples.size() - 1))] / 1000.0; };
    std::printf("conns=%d size=%zu msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f server_cpu_us_per_msg=%s\n", conns, size,
                double(messages) / duration, pct(0.50), pct(0.99),
                pid > 0 && messages ? std::to_string(cpu * 1e6 / double(messages)).substr(0, 5).c_str() : "n/a");
    for (auto& c : cs) close(c.fd);
    return 0;
}
