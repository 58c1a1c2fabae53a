// A request id that reaches every log line without being passed around: each request's handler
// sets it once; the tasks it starts and the blocking calls it sends to a thread see it, and the
// other requests, running at the same time, never do (Python's contextvars, the same rules).
#include <nogil/asyncio.hpp>
#include <nogil/contextvars.hpp>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
namespace cv = nogil::contextvars;

inline cv::ContextVar<std::string> request_id("request_id", "-");

std::vector<std::string> log_lines;  // appended on the loop's thread only

/// "[<request id>] what" (built by appends: g++ 12 warns falsely on chained operator+).
std::string tagged(const std::string& what) {
    std::string line = "[";
    line += request_id.get();
    line += "] ";
    line += what;
    return line;
}

void log(const std::string& what) { log_lines.push_back(tagged(what)); }

// A blocking call: runs on a worker thread, in a copy of the caller's context.
std::string load_user(int n) { return tagged("user " + std::to_string(n)); }

asyncio::Coroutine<> audit(std::string action) {
    co_await asyncio::sleep(0);
    log("audit " + action);  // a task started by the handler: the same request id
}

asyncio::Coroutine<> handle(int n) {
    request_id.set("req-" + std::to_string(n));
    log("start");
    auto audit_task = asyncio::create_task(audit("read"));
    std::string user = co_await asyncio::to_thread(load_user, n);
    log_lines.push_back(user);
    co_await audit_task;
    log("done");
}

asyncio::Coroutine<int> main_() {
    std::vector<asyncio::Task<>> requests;
    for (int n = 1; n <= 3; ++n) requests.push_back(asyncio::create_task(handle(n)));
    co_await asyncio::gather(requests);
    log("all requests served");  // the main task never set it: "-"

    // Every line but the last names its own request, whatever the interleaving.
    int wrong = 0;
    for (std::size_t i = 0; i + 1 < log_lines.size(); ++i) {
        std::printf("%s\n", log_lines[i].c_str());
        if (log_lines[i].rfind("[req-", 0) != 0) ++wrong;
    }
    std::printf("%s\n", log_lines.back().c_str());
    if (log_lines.back().rfind("[-]", 0) != 0) ++wrong;
    co_return wrong == 0 && log_lines.size() == 3 * 4 + 1 ? 0 : 1;
}

int main() { return asyncio::run(main_()); }
