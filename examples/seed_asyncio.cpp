// The seed's asyncio example, as the README shows it (the lines between the "README seed-asyncio"
// markers are the README's block; tests/readme/check_readme.py keeps the two equal). main()
// starts two local HTTP/1.0 servers for it to fetch from.
// README seed-asyncio {
#include <nogil/asyncio.hpp>
namespace asyncio = nogil::asyncio;

asyncio::Coroutine<std::string> fetch(std::string host, int port) {
    auto [reader, writer] = co_await asyncio::open_connection(host, port);
    writer.write("GET / HTTP/1.0\r\n\r\n");
    co_await writer.drain();
    std::string body = co_await reader.read();
    writer.close();
    co_await writer.wait_closed();
    co_return body;
}

asyncio::Coroutine<std::size_t> fetch_both(int port_a, int port_b) {
    auto [a, b] = co_await asyncio::gather(fetch("127.0.0.1", port_a), fetch("127.0.0.1", port_b));
    co_return a.size() + b.size();
}
// README seed-asyncio }

#include <cstdio>
#include <string>

namespace {
const std::string response = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";

asyncio::Coroutine<> serve(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    std::string request_line = co_await reader.readline();
    writer.write(response);
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

asyncio::Coroutine<int> main_() {
    auto a = co_await asyncio::start_server(serve, "127.0.0.1", 0);
    auto b = co_await asyncio::start_server(serve, "127.0.0.1", 0);
    std::size_t bytes = co_await fetch_both(a.sockets()[0].port, b.sockets()[0].port);
    a.close();
    b.close();
    co_await a.wait_closed();
    co_await b.wait_closed();
    std::printf("fetched %zu bytes from two servers at once\n", bytes);
    co_return bytes == 2 * response.size() ? 0 : 1;
}
}  // namespace

int main() { return asyncio::run(main_()); }
