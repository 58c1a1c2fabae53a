// libFuzzer target: StreamReader's readline / readuntil / readexactly / read over arbitrary
// byte streams and arbitrary chunkings, fed by hand (feed_data) or through a real socketpair
// (the transport's read path, flow control with a tiny limit).
//
// Input layout: [limit] [flags] [op count] [ops...] [chunk seed] payload...
//   flags bit 0: through a socketpair; bits 1-2: separator ("\n", "\r\n", "ab", "\r\n\r\n").
//   each op byte: low 2 bits pick readline/readuntil/readexactly/read, the rest is the size.
// Invariants checked (a violation aborts, which libFuzzer reports):
//   - readuntil: the result ends with the separator, which occurs nowhere before its end;
//   - readline: at most one '\n', and only at the end;
//   - readexactly(n): exactly n bytes, or IncompleteReadError at EOF with fewer;
//   - LimitOverrunError leaves the buffer untouched;
//   - the bytes returned, in order, plus what is left, equal the input unless readline dropped
//     an over-long line (then the output is the input with whole pieces removed);
//   - the loop finishes: nothing hangs, nothing leaks (ASan).
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace asyncio = nogil::asyncio;

namespace {

struct Plan {
    std::size_t limit;
    bool socketpair;
    std::string separator;
    std::vector<std::uint8_t> ops;
    std::vector<std::string> chunks;
};

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

/// True if `out` can be obtained from `in` by deleting pieces (a subsequence in order).
bool is_subsequence(const std::string& out, const std::string& in) {
    std::size_t j = 0;
    for (char c : in)
        if (j < out.size() && out[j] == c) ++j;
    return j == out.size();
}

asyncio::Coroutine<> feed_by_hand(asyncio::StreamReader reader, std::vector<std::string> chunks) {
    for (const auto& c : chunks) {
        reader.feed_data(c);
        co_await asyncio::sleep(0);
    }
    reader.feed_eof();
}

asyncio::Coroutine<> feed_socket(asyncio::StreamWriter writer, std::vector<std::string> chunks) {
    for (const auto& c : chunks) {
        writer.write(c);
        co_await writer.drain();
        co_await asyncio::sleep(0);
    }
    writer.write_eof();
}

asyncio::Coroutine<> consume(asyncio::StreamReader reader, const Plan* plan, std::string* output, bool* dropped) {
    const std::string& sep = plan->separator;
    for (std::uint8_t op : plan->ops) {
        const std::size_t n = op >> 2;
        const std::size_t before = reader.state()->buffer().size();
        try {
            switch (op & 3) {
                case 0: {
                    std::string line = co_await reader.readline();
                    const auto nl = line.find('\n');
                    check(nl == std::string::npos || nl == line.size() - 1, "readline: one newline, at the end");
                    *output += line;
                    break;
                }
                case 1: {
                    std::string chunk = co_await reader.readuntil(sep);
                    check(chunk.size() >= sep.size() && chunk.compare(chunk.size() - sep.size(), sep.size(), sep) == 0,
                          "readuntil: ends with the separator");
                    check(chunk.find(sep) == chunk.size() - sep.size(), "readuntil: first occurrence");
                    check(chunk.size() - sep.size() <= plan->limit, "readuntil: within the limit");
                    *output += chunk;
                    break;
                }
                case 2: {
                    std::string exact = co_await reader.readexactly(static_cast<std::ptrdiff_t>(n));
                    check(exact.size() == n, "readexactly: exactly n bytes");
                    *output += exact;
                    break;
                }
                default: {
                    std::string some = co_await reader.read(n == 0 ? -1 : static_cast<std::ptrdiff_t>(n));
                    check(n == 0 || some.size() <= n, "read: at most n bytes");
                    *output += some;
                    break;
                }
            }
        } catch (const asyncio::IncompleteReadError& e) {
            check(reader.at_eof(), "IncompleteReadError only at EOF");
            check(!e.expected || e.partial.size() < *e.expected, "IncompleteReadError: fewer than expected");
            *output += e.partial;
        } catch (const asyncio::LimitOverrunError&) {
            check(reader.state()->buffer().size() >= before, "LimitOverrunError keeps the buffer");
            co_return;  // the data stays; the rest of the check reads it below
        } catch (const std::invalid_argument&) {  // readline over the limit: the line is dropped
            *dropped = true;
        }
    }
}

asyncio::Coroutine<> run_plan(const Plan* plan) {
    std::string input;
    for (const auto& c : plan->chunks) input += c;
    std::string output;
    bool dropped = false;
    if (plan->socketpair) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
        auto a = asyncio::connect_fd(sv[0], plan->limit);
        auto b = asyncio::connect_fd(sv[1], plan->limit);
        auto feeder = asyncio::create_task(feed_socket(a.writer, plan->chunks));
        co_await consume(b.reader, plan, &output, &dropped);
        output += co_await b.reader.read();  // drains the rest, lets the feeder finish
        co_await feeder;
    } else {
        asyncio::StreamReader reader(plan->limit);
        auto feeder = asyncio::create_task(feed_by_hand(reader, plan->chunks));
        co_await consume(reader, plan, &output, &dropped);
        output += co_await reader.read();
        co_await feeder;
    }
    if (dropped)
        check(is_subsequence(output, input), "output is the input with pieces removed");
    else
        check(output == input, "every byte delivered once, in order");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    static const char* separators[] = {"\n", "\r\n", "ab", "\r\n\r\n"};
    Plan plan;
    plan.limit = 1 + data[0] % 64;
    plan.socketpair = data[1] & 1;
    plan.separator = separators[(data[1] >> 1) & 3];
    std::size_t pos = 3;
    const std::size_t n_ops = 1 + data[2] % 16;
    for (std::size_t i = 0; i < n_ops && pos < size; ++i) plan.ops.push_back(data[pos++]);
    std::uint32_t seed = pos < size ? data[pos++] : 1;
    while (pos < size) {  // chunk sizes from a small LCG: 1..32 bytes
        seed = seed * 1103515245u + 12345u;
        const std::size_t len = 1 + (seed >> 16) % 32;
        const std::size_t take = len < size - pos ? len : size - pos;
        plan.chunks.emplace_back(reinterpret_cast<const char*>(data + pos), take);
        pos += take;
    }
    asyncio::run(run_plan(&plan));
    return 0;
}
