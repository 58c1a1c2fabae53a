// A small HTTP/1.1 server with keep-alive on asyncio streams.
//
//   http_server                                   self-check: serves on 127.0.0.1, sends
//                                                 keep-alive and malformed requests, exits 0
//   http_server --serve HOST PORT [--port-file F] serves until SIGINT/SIGTERM (PORT 0: free
//               [--request-timeout S]             port, written to F once listening)
//               [--response-timeout S] [--grace S]
//               [--tls-cert FILE --tls-key FILE]  HTTPS (TLS 1.3 unless the client cannot;
//                                                 ALPN http/1.1), the same routes
//
// Routes: GET /            "Hello, nogil!\n"
//         GET /bytes/N     N bytes of 'x' (N <= 10 MB)
//         GET /delay/MS    "slept MS ms\n" after MS milliseconds (MS <= 10000)
//         POST /echo       the request body
// One task per connection; requests on a connection are answered in order. The header block
// is read with readuntil("\r\n\r\n") under the stream limit (a longer one gets 431); a
// malformed request gets 400 and the connection is closed, as does a request with more than
// one Content-Length (RFC 9112 section 6.3: the framing is invalid; differing or not).
//
// Time limits (docs/asyncio-io.md, "Example servers"), so that no client can hold a connection,
// its fd and its buffers forever:
//   - request:  a whole request (header block and body) must arrive within --request-timeout
//               (10 s) of the server starting to wait for it - an idle keep-alive connection,
//               a slowloris header trickle and a body that never comes alike; then the
//               connection is aborted.
//   - response: each response must be taken by the client within --response-timeout (30 s);
//               a client that does not read is aborted (its queued bytes dropped).
//   - shutdown: on SIGINT/SIGTERM the server stops accepting, closes its clients gracefully,
//               waits at most --grace (5 s) for them, then aborts the rest: it exits within the
//               grace period whatever the clients do.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>
#if NOGIL_EXAMPLES_TLS
#include <nogil/ssl.hpp>
#endif

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

struct Request {
    std::string method, target, version;
    std::size_t content_length = 0;
    bool keep_alive = true;
};

/// The server's time limits in seconds (see the top of the file); set once in main().
struct Limits {
    double request = 10;
    double response = 30;
    double grace = 5;
};
Limits limits;

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
    bool seen_length = false;
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
            // Digits only (so no "5, 5" list either) and only once: a second Content-Length,
            // equal or not, makes the framing ambiguous (request smuggling), RFC 9112 6.3.
            auto n = to_size(value);
            if (!n || *n > (10u << 20) || seen_length) return std::nullopt;
            seen_length = true;
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

/// One request read whole: its head and body, or the status of the error response to send
/// before closing (400, 431), or neither when the client closed between requests.
struct Incoming {
    std::optional<Request> request;
    std::string body;
    int error = 0;
};

asyncio::Coroutine<Incoming> read_request(asyncio::StreamReader reader) {
    Incoming in;
    std::string head;
    try {
        head = co_await reader.readuntil("\r\n\r\n");
    } catch (const asyncio::IncompleteReadError&) {
        co_return in;  // the client closed the connection between requests
    } catch (const asyncio::LimitOverrunError&) {
        in.error = 431;
        co_return in;
    }
    in.request = parse(head);
    if (!in.request) {
        in.error = 400;
        co_return in;
    }
    // IncompleteReadError (the body was cut short) goes to the caller.
    if (in.request->content_length)
        in.body = co_await reader.readexactly(static_cast<std::ptrdiff_t>(in.request->content_length));
    co_return in;
}

/// Sends `bytes`; the client must take them within the response limit.
asyncio::Coroutine<> send(asyncio::StreamWriter writer, std::string bytes) {
    writer.write(bytes);
    co_await asyncio::wait_for(writer.drain(), limits.response);
}

asyncio::Coroutine<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            Incoming in = co_await asyncio::timeout(limits.request, read_request(reader));
            if (in.error == 431) co_await send(writer, response(431, "Request Header Fields Too Large", "headers too large\n", false));
            if (in.error == 400) co_await send(writer, response(400, "Bad Request", "bad request\n", false));
            if (!in.request) break;
            const bool keep_alive = in.request->keep_alive;
            co_await send(writer, co_await route(*in.request, std::move(in.body)));
            if (!keep_alive) break;
        }
        writer.close();
        co_await asyncio::wait_for(writer.wait_closed(), limits.response);
    } catch (const nogil::TimeoutError&) {
        writer.abort();  // a request or response over its time limit
    } catch (const asyncio::IncompleteReadError&) {
        writer.abort();  // the body was cut short
    } catch (const nogil::OSError&) {
        // the client reset or broke the connection (ConnectionError), or its TLS (ssl::SSLError)
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
    for (const char* lengths : {"Content-Length: 4\r\nContent-Length: 5", "Content-Length: 4\r\nContent-Length: 4",
                                "Content-Length: 4, 4"}) {
        // Two Content-Length headers, differing or not: 400 and closed (RFC 9112 6.3).
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
        writer.write(std::string("POST /echo HTTP/1.1\r\n") + lengths + "\r\n\r\n");
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
            throw std::invalid_argument(
                "usage: http_server [--serve HOST PORT [--port-file F] [--request-timeout S] [--response-timeout S] "
                "[--grace S]]");
        limits.request = seconds_option(args, "--request-timeout", limits.request);
        limits.response = seconds_option(args, "--response-timeout", limits.response);
        limits.grace = seconds_option(args, "--grace", limits.grace);
        const auto cert = string_option(args, "--tls-cert");
        const auto key = string_option(args, "--tls-key");
        if (cert.has_value() != key.has_value()) throw std::invalid_argument("--tls-cert and --tls-key go together");
        asyncio::SSLOption tls;
#if NOGIL_EXAMPLES_TLS
        std::optional<nogil::ssl::SSLContext> context;  // lives while serving
        if (cert) {
            context.emplace(nogil::ssl::PROTOCOL_TLS_SERVER);
            context->load_cert_chain(*cert, *key);
            context->set_alpn_protocols({"http/1.1"});
            tls = *context;
        }
#else
        if (cert) throw std::invalid_argument("--tls-cert: built without nogil::ssl (OpenSSL 3)");
#endif
        const asyncio::ServerOptions options{.backlog = 1024, .ssl = tls};
        co_await serve_until_signal(co_await asyncio::start_server(handle, args[1], std::stoi(args[2]), options),
                                    port_file, tls ? "HTTPS" : "HTTP", limits.grace);
    };
    return server_main(argc, argv, "http_server", self_check, serve);
}
