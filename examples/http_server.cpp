// A small HTTP/1.1 server with keep-alive on asyncio streams.
//
//   http_server                                   self-check: serves on 127.0.0.1, sends
//                                                 keep-alive and malformed requests, exits 0
//   http_server --serve HOST PORT [--port-file F] serves until SIGINT/SIGTERM (PORT 0: free
//                                                 port, written to F once listening)
//
// Routes: GET /            "Hello, nogil!\n"
//         GET /bytes/N     N bytes of 'x' (N <= 10 MB)
//         GET /delay/MS    "slept MS ms\n" after MS milliseconds (MS <= 10000)
//         POST /echo       the request body
// One task per connection; requests on a connection are answered in order. The header block
// is read with readuntil("\r\n\r\n") under the stream limit (a longer one gets 431), an idle
// connection is closed after 10 s, a malformed request gets 400 and the connection is closed.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include "serving.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

struct Request {
    std::string method, target, version;
    std::size_t content_length = 0;
    bool keep_alive = true;
};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<std::size_t> to_size(std::string_view s) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

/// Parses "METHOD target HTTP/1.x\r\n" + headers + "\r\n"; nullopt if malformed.
std::optional<Request> parse(std::string_view head) {
    Request r;
    const auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
    r.method = line.substr(0, sp1);
    r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    r.version = line.substr(sp2 + 1);
    if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0") return std::nullopt;
    if (r.target.empty() || r.target[0] != '/') return std::nullopt;
    r.keep_alive = r.version == "HTTP/1.1";
    std::string_view rest = head.substr(line_end + 2);
    while (!rest.empty()) {
        const auto end = rest.find("\r\n");
        std::string_view h = rest.substr(0, end);
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 2);
        if (h.empty()) break;
        const auto colon = h.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        const std::string name = lower(trim(h.substr(0, colon)));
        const std::string value = lower(trim(h.substr(colon + 1)));
        if (name == "content-length") {
            auto n = to_size(value);
            if (!n || *n > (10u << 20)) return std::nullopt;
            r.content_length = *n;
        } else if (name == "connection") {
            if (value == "close") r.keep_alive = false;
            if (value == "keep-alive") r.keep_alive = true;
        } else if (name == "transfer-encoding") {
            return std::nullopt;  // chunked request bodies are not supported by this example
        }
    }
    return r;
}

std::string response(int status, std::string_view reason, std::string_view body, bool keep_alive) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (!keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    out += body;
    return out;
}

asyncio::Coroutine<std::string> route(Request req, std::string body) {
    if (req.method == "GET" && req.target == "/") co_return response(200, "OK", "Hello, nogil!\n", req.keep_alive);
    if (req.method == "POST" && req.target == "/echo") co_return response(200, "OK", body, req.keep_alive);
    if (req.method == "GET" && req.target.starts_with("/bytes/")) {
        auto n = to_size(std::string_view(req.target).substr(7));
        if (n && *n <= (10u << 20)) co_return response(200, "OK", std::string(*n, 'x'), req.keep_alive);
    }
    if (req.method == "GET" && req.target.starts_with("/delay/")) {
        auto ms = to_size(std::string_view(req.target).substr(7));
        if (ms && *ms <= 10000) {
            co_await asyncio::sleep(std::chrono::milliseconds(*ms));
            co_return response(200, "OK", "slept " + std::to_string(*ms) + " ms\n", req.keep_alive);
        }
    }
    co_return response(404, "Not Found", "not found\n", req.keep_alive);
}

asyncio::Coroutine<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            std::string head;
            try {
                head = co_await asyncio::wait_for(reader.readuntil("\r\n\r\n"), 10s);
            } catch (const asyncio::IncompleteReadError&) {
                break;  // the client closed the connection between requests
            } catch (const asyncio::LimitOverrunError&) {
                writer.write(response(431, "Request Header Fields Too Large", "headers too large\n", false));
                break;
            }
            auto req = parse(head);
            if (!req) {
                writer.write(response(400, "Bad Request", "bad request\n", false));
                break;
            }
            std::string body;
            if (req->content_length) body = co_await reader.readexactly(static_cast<std::ptrdiff_t>(req->content_length));
            writer.write(co_await route(*req, std::move(body)));
            co_await writer.drain();
            if (!req->keep_alive) break;
        }
        writer.close();
        co_await writer.wait_closed();
    } catch (const nogil::TimeoutError&) {
        writer.abort();  // idle keep-alive connection
    } catch (const asyncio::IncompleteReadError&) {
        writer.abort();  // the body was cut short
    } catch (const nogil::ConnectionError&) {
    }
}

// ------------------------------------------------------------------------------ self-check

/// Reads one response (status line, headers, Content-Length body); returns "status body".
asyncio::Coroutine<std::string> read_response(asyncio::StreamReader reader) {
    std::string head = co_await reader.readuntil("\r\n\r\n");
    std::size_t length = 0;
    const auto at = lower(head).find("content-length:");
    if (at != std::string::npos) length = std::strtoul(head.c_str() + at + 15, nullptr, 10);
    std::string body = co_await reader.readexactly(static_cast<std::ptrdiff_t>(length));
    co_return head.substr(9, 3) + " " + body;
}

asyncio::Coroutine<int> self_check() {
    auto server = co_await asyncio::start_server(handle, "127.0.0.1", 0);
    const int port = server.sockets()[0].port;
    int failures = 0;
    auto shown = [](std::string s) {  // one line per check: newlines as \n
        for (std::size_t at; (at = s.find('\n')) != std::string::npos;) s.replace(at, 1, "\\n");
        return s;
    };
    auto expect = [&failures, &shown](const std::string& got, const std::string& want) {
        std::printf("%-24s %s\n", shown(want).c_str(), got == want ? "ok" : ("FAILED, got: " + shown(got)).c_str());
        failures += got != want;
    };
    {
        // Three requests on one keep-alive connection, the last one pipelined with a POST.
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
        writer.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        expect(co_await read_response(reader), "200 Hello, nogil!\n");
        writer.write("GET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nping");
        expect(co_await read_response(reader), "200 xxxxx");
        expect(co_await read_response(reader), "200 ping");
        writer.write("GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n");
        expect(co_await read_response(reader), "404 not found\n");
        expect(co_await reader.read(), "");  // Connection: close honoured
    }
    {
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
        writer.write("NONSENSE\r\n\r\n");
        expect(co_await read_response(reader), "400 bad request\n");
        expect(co_await reader.read(), "");
    }
    server.close();
    co_await server.wait_closed();
    co_return failures;
}

int main(int argc, char** argv) {
    auto serve = [](std::vector<std::string> args, std::string port_file) -> asyncio::Coroutine<> {
        if (args[0] != "--serve" || args.size() < 3)
            throw std::invalid_argument("usage: http_server [--serve HOST PORT [--port-file F]]");
        co_await serve_until_signal(co_await asyncio::start_server(handle, args[1], std::stoi(args[2]), {.backlog = 1024}),
                                    port_file, "HTTP");
    };
    return server_main(argc, argv, "http_server", self_check, serve);
}
