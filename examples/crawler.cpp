// The seed's "fetch many URLs", on asyncio streams: N workers in a TaskGroup share one list of
// URLs (at most N connections at a time), each fetch under a timeout.
//
//   crawler                                        self-check: crawls 100 pages of an in-process
//                                                  HTTP server (one of them too slow), exits 0
//   crawler [--concurrency N] [--timeout S]        fetches http:// and https://host:port/path
//           [--cafile F] URL...                    URLs and prints a summary; https is verified
//                                                  against the system CAs, or the CAs in F
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>
#if NOGIL_EXAMPLES_TLS
#include <nogil/ssl.hpp>
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = nogil::asyncio;
using namespace std::chrono_literals;

struct Url {
    std::string host;
    int port = 80;
    std::string path = "/";
    bool https = false;
};

Url parse_url(const std::string& url) {
    Url u;
    u.https = url.rfind("https://", 0) == 0;
    if (!u.https && url.rfind("http://", 0) != 0) throw std::invalid_argument("only http:// and https:// URLs: " + url);
    if (u.https) u.port = 443;
    std::string rest = url.substr(u.https ? 8 : 7);
    const auto slash = rest.find('/');
    if (slash != std::string::npos) {
        u.path = rest.substr(slash);
        rest.resize(slash);
    }
    const auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
        u.port = std::stoi(rest.substr(colon + 1));
        rest.resize(colon);
    }
    if (rest.size() > 2 && rest.front() == '[' && rest.back() == ']') rest = rest.substr(1, rest.size() - 2);
    u.host = rest;
    return u;
}

/// GET with HTTP/1.0 (the server closes after the response); returns the body's size.
/// `tls`: what https URLs use (a context, or `true` for the default one).
asyncio::Coroutine<std::size_t> fetch(std::string url, asyncio::SSLOption tls) {
    const Url u = parse_url(url);
    const asyncio::ConnectionOptions options{.ssl = u.https ? tls : asyncio::SSLOption()};
    auto [reader, writer] = co_await asyncio::open_connection(u.host, u.port, options);
    writer.write("GET " + u.path + " HTTP/1.0\r\nHost: " + u.host + "\r\n\r\n");
    co_await writer.drain();
    std::string response = co_await reader.read();
    writer.close();
    co_await writer.wait_closed();
    if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) throw std::runtime_error("not an HTTP response");
    const int status = std::atoi(response.c_str() + 9);
    if (status != 200) throw std::runtime_error("HTTP status " + std::to_string(status));
    const auto body = response.find("\r\n\r\n");
    co_return body == std::string::npos ? 0 : response.size() - body - 4;
}

struct Crawl {
    std::vector<std::string> urls;
    std::size_t next = 0;  // the next URL a worker takes (one loop thread: no lock needed)
    std::size_t fetched = 0, timed_out = 0, failed = 0, bytes = 0;
    double timeout = 5.0;
    asyncio::SSLOption tls = true;  // https: the system's CAs unless --cafile
};

asyncio::Coroutine<> worker(Crawl* crawl) {
    while (crawl->next < crawl->urls.size()) {
        const std::string url = crawl->urls[crawl->next++];
        try {
            crawl->bytes += co_await asyncio::wait_for(fetch(url, crawl->tls), crawl->timeout);
            ++crawl->fetched;
        } catch (const asyncio::TimeoutError&) {
            ++crawl->timed_out;
        } catch (const std::exception& e) {
            std::printf("%s: %s\n", url.c_str(), e.what());
            ++crawl->failed;
        }
    }
}

asyncio::Coroutine<> crawl_all(Crawl* crawl, int concurrency) {
    auto body = [crawl, concurrency](asyncio::TaskGroup& tg) -> asyncio::Coroutine<> {
        for (int i = 0; i < concurrency; ++i) tg.create_task(worker(crawl));
        co_return;
    };
    co_await asyncio::TaskGroup::run(body);
    std::printf("fetched %zu of %zu URLs, %zu bytes\ntimed out: %zu\nfailed: %zu\n", crawl->fetched,
                crawl->urls.size(), crawl->bytes, crawl->timed_out, crawl->failed);
}

// ------------------------------------------------------------------------------ self-check

/// A tiny HTTP/1.0 server: /page/N answers N bytes; /slow answers after 10 s.
asyncio::Coroutine<> tiny_http(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    std::string head = co_await reader.readuntil("\r\n\r\n");
    const auto end = head.find(' ', 4);
    const std::string path = head.substr(4, end - 4);
    if (path == "/slow") co_await asyncio::sleep(10s);
    const std::size_t n = path.rfind("/page/", 0) == 0 ? std::strtoul(path.c_str() + 6, nullptr, 10) : 0;
    writer.write("HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n" + std::string(n, 'p'));
    co_await writer.drain();
    writer.close();
}

asyncio::Coroutine<int> self_check() {
    auto server = co_await asyncio::start_server(tiny_http, "127.0.0.1", 0);
    const std::string base = "http://127.0.0.1:" + std::to_string(server.sockets()[0].port);
    Crawl crawl;
    crawl.timeout = 0.5;
    std::size_t expected_bytes = 0;
    for (int i = 0; i < 100; ++i) {
        crawl.urls.push_back(base + "/page/" + std::to_string(i * 37));
        expected_bytes += static_cast<std::size_t>(i) * 37;
    }
    crawl.urls.push_back(base + "/slow");
    co_await crawl_all(&crawl, 10);
    server.close();
    server.abort_clients();  // the slow handler's client already gave up
    co_await server.wait_closed();
    const bool ok = crawl.fetched == 100 && crawl.timed_out == 1 && crawl.failed == 0 && crawl.bytes == expected_bytes;
    co_return ok ? 0 : 1;
}

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return asyncio::run(self_check()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    Crawl crawl;
    int concurrency = 10;
#if NOGIL_EXAMPLES_TLS
    std::optional<nogil::ssl::SSLContext> tls;  // lives as long as the crawl
#endif
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--cafile" && i + 1 < args.size()) {
#if NOGIL_EXAMPLES_TLS
            tls = nogil::ssl::create_default_context(nogil::ssl::Purpose::SERVER_AUTH, args[++i]);
            crawl.tls = *tls;
#else
            std::fprintf(stderr, "crawler: built without nogil::ssl (OpenSSL 3)\n");
            return EXIT_FAILURE;
#endif
        } else if (args[i] == "--concurrency" && i + 1 < args.size())
            concurrency = std::stoi(args[++i]);
        else if (args[i] == "--timeout" && i + 1 < args.size())
            crawl.timeout = std::stod(args[++i]);
        else
            crawl.urls.push_back(args[i]);
    }
    if (concurrency < 1) {
        std::fprintf(stderr, "crawler: --concurrency must be at least 1\n");
        return EXIT_FAILURE;
    }
    asyncio::run(crawl_all(&crawl, concurrency));
    return crawl.failed == 0 && crawl.timed_out == 0 ? EXIT_SUCCESS : 2;
}
