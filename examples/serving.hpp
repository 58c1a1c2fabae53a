// What the two server examples (echo_server, http_server) share: their main() (a self-check with
// no arguments, else serve until SIGINT or SIGTERM).
#pragma once

#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

/// The value of option `name` in `args` as a number of seconds (finite, >= 0), or `fallback`.
/// std::invalid_argument for anything else.
inline double seconds_option(const std::vector<std::string>& args, const std::string& name, double fallback) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] != name) continue;
        char* end = nullptr;
        const double v = std::strtod(args[i + 1].c_str(), &end);
        if (end == args[i + 1].c_str() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 86400)
            throw std::invalid_argument(name + " takes seconds from 0 to 86400, got '" + args[i + 1] + "'");
        return v;
    }
    return fallback;
}

/// The value of option `name` in `args`, if given.
inline std::optional<std::string> string_option(const std::vector<std::string>& args, const std::string& name) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == name) return args[i + 1];
    return std::nullopt;
}

/// Prints where `server` listens, writes its first port to `port_file` (if given: written whole,
/// then renamed, so a reader never sees half a number), serves until SIGINT or SIGTERM, then
/// shuts down: stops accepting, closes the clients gracefully (queued bytes still go out), and
/// after `grace` seconds aborts those still open (a client that does not read its response
/// cannot hold the shutdown). Returns within `grace` (plus a loop turn) of the signal.
inline nogil::asyncio::Coroutine<> serve_until_signal(nogil::asyncio::Server server, std::string port_file,
                                                      std::string what, double grace = 5) {
    namespace asyncio = nogil::asyncio;
    for (const auto& a : server.sockets())
        std::printf("serving %s on %s port %d\n", what.c_str(), a.host.c_str(), a.port);
    std::fflush(stdout);
    if (!port_file.empty()) {
        std::ofstream(port_file + ".tmp") << server.sockets().at(0).port << "\n";
        std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    }
    auto forever = [](asyncio::Server s) -> asyncio::Coroutine<> { co_await s.serve_forever(); };
    auto serving = asyncio::create_task(forever(server));
    for (int sig : {SIGINT, SIGTERM})
        asyncio::get_running_loop().add_signal_handler(sig, [serving] { serving.cancel(); });
    try {
        co_await serving;
    } catch (const asyncio::CancelledError&) {
    }
    server.close();
    server.close_clients();
    bool graceful = true;
    try {
        co_await asyncio::timeout(grace, server.wait_closed());
    } catch (const nogil::TimeoutError&) {
        graceful = false;
    }
    if (!graceful) {
        std::printf("grace period over: aborting the clients still open\n");
        server.abort_clients();
        co_await server.wait_closed();
    }
    std::printf("closed\n");
}

/// A server example's main(). With no arguments: runs `self_check()` (a coroutine returning its
/// number of failures) and exits 0 when it found none. Otherwise: runs `serve(args, port_file)`
/// (a coroutine; args are the command line without the program name, port_file the value of
/// `--port-file` or "") and exits 1 after printing "<program>: <what>" if it throws.
template <class SelfCheck, class Serve>
int server_main(int argc, char** argv, const char* program, SelfCheck self_check, Serve serve) {
    namespace asyncio = nogil::asyncio;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return asyncio::run(self_check()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    std::string port_file;
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--port-file") port_file = args[i + 1];
    try {
        asyncio::run(serve(args, port_file));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
