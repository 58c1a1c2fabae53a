// Seeing inside a running program: the call graph in-process, and states for `nogil ps` /
// `nogil pstree` to read from outside (docs/debugging.md).
//
//   asyncio_call_graph              prints the call graph of a task waiting in a TaskGroup, exits 0
//   asyncio_call_graph --deadlock   two tasks await each other forever (pstree reports the cycle)
//   asyncio_call_graph --blocked    the loop's thread blocks in a synchronous read of stdin, with
//                                   tasks pending (the loop cannot run a thing: ps still reads it)
//   asyncio_call_graph --busy       two loops on two threads create and finish tasks without end
//                                   (a reader inspecting a process that keeps changing)
//   asyncio_call_graph --pool       a thread pool whose two workers are stuck in calls (until stdin
//                                   closes) with four calls queued behind them (ps lists them)
//   asyncio_call_graph --process-pool  a process pool whose worker process is stuck in a call
//                                   (until stdin closes) with four calls queued behind it; prints
//                                   "worker PID" after "ready"
//   asyncio_call_graph --mp-pool    a multiprocessing::Pool whose worker is stuck in a call (until
//                                   stdin closes) with three apply_async calls and a map of two
//                                   chunks queued; prints "worker PID" after "ready"; a line on
//                                   stdin closes the pool (it then prints "closed")
//   asyncio_call_graph --mp-pool-dead  a multiprocessing::Pool whose manager is held up in a
//                                   callback (until stdin closes) after that callback killed the
//                                   pool's one worker and saw it exit; prints "worker PID" after
//                                   "ready"
// The states print "ready" once set up, then run until killed (or, --blocked and the pools,
// until stdin closes).
#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/multiprocessing.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <latch>
#include <string>
#include <thread>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace asyncio = nogil::asyncio;
using asyncio::Coroutine;
using asyncio::Task;

namespace {

void ready() {
    std::printf("ready\n");
    std::fflush(stdout);
}

// -------------------------------------------------------------- the in-process call graph

Coroutine<> fetch(asyncio::Event& go) {
    co_await go.wait();  // the line print_call_graph shows for this task
}

Coroutine<> report(asyncio::Event& go) {
    asyncio::print_call_graph();  // this task's graph, from inside it
    go.set();
    co_return;
}

Coroutine<> crawl() {
    asyncio::Event go;
    auto body = [&go](asyncio::TaskGroup& tg) -> Coroutine<> {
        tg.create_task(fetch(go), "fetch");
        tg.create_task(report(go), "report");
        co_return;
    };
    co_await asyncio::TaskGroup::run(body);
}

// -------------------------------------------------------------- states to inspect from outside

struct Pair {
    Task<> a, b;
    asyncio::Event both_created;
};

Coroutine<> wait_for_other(Pair& p, bool first) {
    co_await p.both_created.wait();
    if (first)
        co_await p.b;  // a awaits b ...
    else
        co_await p.a;  // ... and b awaits a: neither ever finishes
}

Coroutine<> deadlock() {
    Pair p;
    p.a = asyncio::create_task(wait_for_other(p, true), "philosopher A");
    p.b = asyncio::create_task(wait_for_other(p, false), "philosopher B");
    p.both_created.set();
    co_await asyncio::sleep(0);
    co_await asyncio::sleep(0);
    ready();
    co_await p.a;
}

Coroutine<> idle_worker(asyncio::Event& never) { co_await never.wait(); }

Coroutine<> blocked() {
    asyncio::Event never;
    auto w1 = asyncio::create_task(idle_worker(never), "worker 1");
    auto w2 = asyncio::create_task(idle_worker(never), "worker 2");
    co_await asyncio::sleep(0);  // both workers reach their wait
    ready();
    char buf[64];
    while (::read(0, buf, sizeof buf) > 0) {  // a synchronous call on the loop's thread
    }
    w1.cancel();
    w2.cancel();
}

Coroutine<> short_lived(int i) {
    if (i % 2) co_await asyncio::sleep(0);
}

Coroutine<> churn(int n) {
    for (int round = 0; n < 0 || round < n; ++round) {
        std::vector<Coroutine<>> batch;
        for (int i = 0; i < 64; ++i) batch.push_back(short_lived(i));
        co_await asyncio::gather(std::move(batch));
    }
}

void busy() {
    std::thread other([] { asyncio::run(churn(-1)); });
    asyncio::run([]() -> Coroutine<> {
        co_await churn(10);
        ready();
        co_await churn(-1);
    }());
    other.join();
}

// -------------------------------------------------------------- a pool with stuck workers

struct Gate {
    std::latch started{2};
    std::latch open{1};
};

int download(Gate* gate) {  // stands for a call that blocks (a slow server, a lock)
    gate->started.count_down();
    gate->open.wait();
    return 1;
}

int thumbnail(int size) { return size / 2; }

int stuck_pool() {
    namespace cf = nogil::concurrent::futures;
    Gate gate;
    cf::ThreadPoolExecutor pool({.max_workers = 2, .thread_name_prefix = "downloads"});
    std::vector<cf::Future<int>> calls;
    calls.push_back(pool.submit(download, &gate));
    calls.push_back(pool.submit([&gate] { return download(&gate); }));
    gate.started.wait();  // both workers are in their calls: what follows waits in the queue
    for (int size : {64, 128, 256}) calls.push_back(pool.submit(thumbnail, size));
    calls.push_back(pool.submit([] { return 0; }));
    ready();
    char buf[64];
    while (::read(0, buf, sizeof buf) > 0) {
    }
    gate.open.count_down();
    int sum = 0;
    for (auto& c : calls) sum += c.result();
    return sum == 1 + 1 + 32 + 64 + 128 ? 0 : 1;
}

// ------------------------------------------------------ a process pool with a stuck worker

// Runs in the worker process: says it started on `gate`, then blocks until the parent writes
// a byte on it (stands for a long computation).
int render(nogil::multiprocessing::Connection gate) {
    char byte = 's';
    if (::write(gate.fileno(), &byte, 1) != 1) return -1;
    return ::read(gate.fileno(), &byte, 1) == 1 ? 1 : -1;
}

int checksum(int block) { return block % 7; }

int stuck_process_pool() {
    namespace cf = nogil::concurrent::futures;
    namespace mp = nogil::multiprocessing;
    auto [ours, theirs] = mp::Pipe();
    cf::ProcessPoolExecutor pool(1);
    std::vector<cf::Future<int>> calls;
    calls.push_back(pool.submit(render, theirs));
    char byte = 0;
    if (::read(ours.fileno(), &byte, 1) != 1) return 1;  // the worker runs render: what follows queues
    for (int block : {10, 20, 30}) calls.push_back(pool.submit(checksum, block));
    calls.push_back(pool.submit([] { return 0; }));
    ready();
    std::printf("worker %d\n", pool.worker_pids().at(0));
    std::fflush(stdout);
    char buf[64];
    while (::read(0, buf, sizeof buf) > 0) {
    }
    if (::write(ours.fileno(), "g", 1) != 1) return 1;
    int sum = 0;
    for (auto& c : calls) sum += c.result();
    return sum == 1 + 3 + 6 + 2 ? 0 : 1;
}

// ------------------------------------------- a multiprocessing::Pool with a stuck worker

int worker_pid() { return static_cast<int>(::getpid()); }

int stuck_mp_pool() {
    namespace mp = nogil::multiprocessing;
    auto [ours, theirs] = mp::Pipe();
    mp::Pool pool(1);
    const int pid = pool.apply(worker_pid);
    auto rendered = pool.apply_async(render, theirs);
    char byte = 0;
    if (::read(ours.fileno(), &byte, 1) != 1) return 1;  // the worker runs render: what follows queues
    std::vector<mp::AsyncResult<int>> calls;
    for (int block : {10, 20, 30}) calls.push_back(pool.apply_async(checksum, block));
    auto mapped = pool.map_async(checksum, std::vector<int>{1, 2, 3, 4}, 2);  // two chunks
    ready();
    std::printf("worker %d\n", pid);
    std::fflush(stdout);
    char buf[64];
    if (::read(0, buf, sizeof buf) > 0) {  // a line: close the pool (its queued calls still run)
        pool.close();
        std::printf("closed\n");
        std::fflush(stdout);
        while (::read(0, buf, sizeof buf) > 0) {
        }
    }
    if (::write(ours.fileno(), "g", 1) != 1) return 1;
    int sum = rendered.get();
    for (auto& c : calls) sum += c.get();
    for (int v : mapped.get()) sum += v;
    return sum == 1 + 3 + 6 + 2 + 1 + 2 + 3 + 4 ? 0 : 1;
}

int dead_mp_pool_worker() {
    namespace mp = nogil::multiprocessing;
    mp::Pool pool(1);
    std::latch killed{1};
    int pid = 0;
    // The callback runs on the pool's manager thread: while it waits, the manager cannot notice
    // that the worker it killed is gone (a zombie until the manager reaps it).
    auto r = pool.apply_async(worker_pid, mp::Callbacks{.callback = [&](const int& worker) {
        pid = worker;
        // Until it has exited: a pidfd, since a worker started by the fork server (the default
        // start method) is the server's child, not ours (waitid() could not wait for it).
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, worker, 0));
        ::kill(worker, SIGKILL);
        pollfd exited{fd, POLLIN, 0};
        while (fd >= 0 && ::poll(&exited, 1, -1) < 0 && errno == EINTR) {
        }
        if (fd >= 0) ::close(fd);
        killed.count_down();
        char buf[64];
        while (::read(0, buf, sizeof buf) > 0) {
        }
    }});
    killed.wait();
    ready();
    std::printf("worker %d\n", pid);
    std::fflush(stdout);
    return r.get() == pid ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "--deadlock") {
        asyncio::run(deadlock());
    } else if (mode == "--blocked") {
        asyncio::run(blocked());
    } else if (mode == "--busy") {
        busy();
    } else if (mode == "--pool") {
        return stuck_pool();
    } else if (mode == "--process-pool") {
        return stuck_process_pool();
    } else if (mode == "--mp-pool") {
        return stuck_mp_pool();
    } else if (mode == "--mp-pool-dead") {
        return dead_mp_pool_worker();
    } else {
        asyncio::run(crawl());
    }
    return 0;
}
