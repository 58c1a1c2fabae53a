// What the two server examples (echo_server, http_server) share: serve until SIGINT or SIGTERM.
#pragma once

#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

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
