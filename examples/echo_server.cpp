// A TCP / unix-socket echo server on asyncio streams (Python's classic streams example).
//
//   echo_server                                   self-check: serves on 127.0.0.1, ::1 and a unix
//                                                 socket, talks to itself, exits 0
//   echo_server --serve HOST PORT [--port-file F] serves until SIGINT/SIGTERM; PORT 0 picks a
//                                                 free port, written to F once listening
//   echo_server --serve-unix PATH                 the same on a unix socket
//
// Each connection is its own task: read what arrived, write it back, drain (so a client that
// never reads only costs the write buffer's high-water mark), until EOF.
#include <nogil/asyncio.hpp>
#include <nogil/asyncio/streams.hpp>

#include "serving.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace asyncio = nogil::asyncio;

asyncio::Coroutine<> echo(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(64 * 1024);
            if (data.empty()) break;  // the client closed its side
            writer.write(data);
            co_await writer.drain();
        }
        writer.close();
        co_await writer.wait_closed();
    } catch (const nogil::ConnectionError&) {
        // The client reset or vanished: its connection is already closed.
    }
}

asyncio::Coroutine<std::string> round_trip(asyncio::StreamPair streams, std::string message) {
    auto& [reader, writer] = streams;
    writer.write(message);
    writer.write_eof();  // the echo ends at our EOF
    std::string answer = co_await reader.read();
    writer.close();
    co_await writer.wait_closed();
    co_return answer;
}

asyncio::Coroutine<int> self_check() {
    const std::string path = "/tmp/nogil_echo_server_" + std::to_string(::getpid()) + ".sock";
    auto v4 = co_await asyncio::start_server(echo, "127.0.0.1", 0);
    auto v6 = co_await asyncio::start_server(echo, "::1", 0);
    auto unix_server = co_await asyncio::start_unix_server(echo, path);
    const std::string big(1 << 20, 'e');  // larger than the socket buffers: flow control at work
    std::vector<asyncio::Coroutine<std::string>> trips;
    trips.push_back(round_trip(co_await asyncio::open_connection("127.0.0.1", v4.sockets()[0].port), "hello v4"));
    trips.push_back(round_trip(co_await asyncio::open_connection("::1", v6.sockets()[0].port), "hello v6"));
    trips.push_back(round_trip(co_await asyncio::open_unix_connection(path), "hello unix"));
    trips.push_back(round_trip(co_await asyncio::open_connection("localhost", v4.sockets()[0].port), big));
    auto answers = co_await asyncio::gather(std::move(trips));
    int failures = 0;
    const char* expected[] = {"hello v4", "hello v6", "hello unix"};
    for (int i = 0; i < 3; ++i) {
        std::printf("%-10s -> %s\n", expected[i], answers[i].c_str());
        failures += answers[i] != expected[i];
    }
    std::printf("1 MiB echoed: %s\n", answers[3] == big ? "intact" : "CORRUPT");
    failures += answers[3] != big;
    for (auto* s : {&v4, &v6, &unix_server}) {
        s->close();
        co_await s->wait_closed();
    }
    co_return failures;
}

int main(int argc, char** argv) {
    auto serve = [](std::vector<std::string> args, std::string port_file) -> asyncio::Coroutine<> {
        if (args[0] == "--serve" && args.size() >= 3)
            co_await serve_until_signal(co_await asyncio::start_server(echo, args[1], std::stoi(args[2])), port_file, "echo");
        else if (args[0] == "--serve-unix" && args.size() >= 2)
            co_await serve_until_signal(co_await asyncio::start_unix_server(echo, args[1]), port_file, "echo");
        else
            throw std::invalid_argument("usage: echo_server [--serve HOST PORT [--port-file F] | --serve-unix PATH]");
    };
    return server_main(argc, argv, "echo_server", self_check, serve);
}
