// The child side of every start method: read the request, run it, exit.
#include "multiprocessing/detail/child.hpp"
#include "multiprocessing/detail/current.hpp"
#include <nogil/multiprocessing/detail/frame.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <new>
#include <pthread.h>
#include <iostream>
#include <unistd.h>

namespace nogil::multiprocessing::detail {
// Shared machinery (include/nogil/detail/).
using ::nogil::detail::UniqueFd;
namespace serial = ::nogil::detail::serial;

namespace {
// Set in a child made by fork() without exec: see __lsan_is_turned_off below.
bool forked_child_without_exec = false;
}  // namespace
void mark_forked_child() noexcept { forked_child_without_exec = true; }

namespace {
constexpr int max_reinit = 16;
std::atomic<std::mutex*> reinit_list[max_reinit];
std::atomic<int> reinit_count{0};
void reinit_all_in_child() {
    int n = std::min(reinit_count.load(), max_reinit);
    for (int i = 0; i < n; ++i)
        if (std::mutex* m = reinit_list[i].load()) new (m) std::mutex;  // the copy may be locked: start over
}
}  // namespace

void reinit_after_fork(std::mutex* mutex) {
    static const bool registered = [] { return ::pthread_atfork(nullptr, nullptr, reinit_all_in_child) == 0; }();
    (void)registered;
    int i = reinit_count.fetch_add(1);
    if (i < max_reinit) reinit_list[i].store(mutex);
}
}  // namespace nogil::multiprocessing::detail

// LeakSanitizer asks this at exit. In a child made by a plain fork(), the parent's other threads
// vanished with their stacks, so everything only they referenced looks leaked when a task calls
// std::exit: not a leak of the child's. Ordinary programs and other children are checked as usual.
extern "C" __attribute__((visibility("default"), used)) int __lsan_is_turned_off() {
    return nogil::multiprocessing::detail::forked_child_without_exec ? 1 : 0;
}

namespace nogil::multiprocessing::detail {

CurrentProcess& current_process_record() {
    static CurrentProcess* record = new CurrentProcess;  // never destroyed: read until _exit
    return *record;
}

std::string describe_current_process() {
    const CurrentProcess& me = current_process_record();
    return me.name + " (pid " + std::to_string(::getpid()) + ")";
}

int channel_to_parent() noexcept { return current_process_record().channel; }

serial::Payload run_call(const EncodedCall& call, std::vector<UniqueFd>& fds) {
    auto invoker = resolve_as<std::remove_pointer_t<Invoker>>(call.invoker);
    std::uintptr_t target = resolve_function(call.target);
    return invoker(target, call.args, fds);
}

namespace {
[[noreturn]] void finish(int code) {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(code);
}
}  // namespace

void child_main(int channel_fd) {
    CurrentProcess& me = current_process_record();
    me.channel = channel_fd;
    std::optional<Frame> request;
    BootInfo boot;
    EncodedCall call;
    try {
        request = recv_frame(channel_fd);
        if (!request) finish(1);  // the parent gave up before sending the task
        std::tie(boot, call) = serial::loads<BootInfo, EncodedCall>(request->bytes, request->fds);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nogil::multiprocessing child %d: bad start request: %s\n", ::getpid(), e.what());
        finish(1);
    }
    me.name = boot.name;
    me.identity = boot.identity;
    me.daemon = boot.daemon;
    me.parent_pid = boot.parent_pid;
    int code = 0;
    try {
        request->fds.clear();  // what the call needs was imported into call.fds
        run_call(call, call.fds);
    } catch (...) {
        RemoteException e = capture_current_exception();
        // Python prints the traceback and exits with 1; we print what we know.
        std::fprintf(stderr, "Process %s:\n%s: %s\n", me.name.c_str(), demangle(e.type.c_str()).c_str(),
                     e.message.c_str());
        code = 1;
    }
    finish(code);
}

}  // namespace nogil::multiprocessing::detail
