#pragma once
// What the hand-written echo servers share: a listening socket on 127.0.0.1 and the port file
// run.sh waits for. Header-only: each server is one program built by run.sh.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

/// Listens on 127.0.0.1:PORT (argv[1]; 0 picks one) with `flags` (e.g. SOCK_NONBLOCK); writes
/// the port to F for `--port-file F`. Exits on failure.
inline int listen_loopback(int argc, char** argv, int flags) {
    if (argc < 2) std::exit(2);
    const int lfd = socket(AF_INET, SOCK_STREAM | flags, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(lfd, 1024) < 0) {
        std::perror("bind/listen");
        std::exit(1);
    }
    socklen_t len = sizeof addr;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
    if (argc >= 4 && std::string(argv[2]) == "--port-file") {
        std::ofstream(std::string(argv[3]) + ".tmp") << ntohs(addr.sin_port) << "\n";
        std::rename((std::string(argv[3]) + ".tmp").c_str(), argv[3]);
    }
    return lfd;
}
