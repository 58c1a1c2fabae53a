// What the two server examples (echo_server, http_server) share: their main() (a self-check with
// no arguments, else serve until SIGINT or SIGTERM).
#pragma once

#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

/// Prints where `server` listens, writes its first port to `port_file` (if given: written whole,
/// then renamed, so a reader never sees half a number), serves until SIGINT or SIGTERM, then
/// closes the server and its clients.
inline nogil::asyncio::Coroutine<> serve_until_signal(nogil::asyncio::Server server, std::string port_file,
                                                      std::string what) {
    namespace asyncio = nogil::asyncio;
    for (const auto& a : server.sockets()) std::printf("serving %s on %s port %d\n", what.c_str(), a.host.c_str(), a.port);
    std::fflush(stdout);
    if (!port_file.empty()) {
        std::ofstream(port_file + ".tmp") << server.sockets().at(0).port << "\n";
        std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    }
    auto forever = [](asyncio::Server s) -> asyncio::Coroutine<> { co_await s.serve_forever(); };
    auto serving = asyncio::create_task(forever(server));
    for (int sig : {SIGINT, SIGTERM}) asyncio::get_running_loop().add_signal_handler(sig, [serving] { serving.cancel(); });
    try {
        co_await serving;
    } catch (const asyncio::CancelledError&) {
    }
    server.close_clients();
    co_await server.wait_closed();
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
