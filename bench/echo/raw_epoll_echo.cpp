// The ceiling: a hand-written single-thread epoll echo server (level-triggered, one read per
// readiness report, write straight back). What asyncio streams are measured against.
//
//   raw_epoll_echo PORT [--port-file F]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include "raw_listen.hpp"
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
    const int lfd = listen_loopback(argc, argv, SOCK_NONBLOCK);
    int one = 1;
    const int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char buf[1 << 16];
    epoll_event events[256];
    for (;;) {
        const int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            const ssize_t got = read(fd, buf, sizeof buf);
            if (got <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                close(fd);
                continue;
            }
            ssize_t off = 0;
            while (off < got) {  // echo sizes here always fit the socket buffer at once
                const ssize_t w = send(fd, buf + off, static_cast<size_t>(got - off), MSG_NOSIGNAL);
                if (w <= 0) break;
                off += w;
            }
        }
    }
}
