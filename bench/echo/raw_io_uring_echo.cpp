// The io_uring limit: a hand-written single-thread echo server on liburing, using everything
// that makes io_uring cheap - multishot accept, multishot receive into a provided buffer ring,
// the echo sent straight from the received buffer (given back when the send completes),
// IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, a registered ring fd, and one io_uring_enter per
// loop turn for all submissions and the wait. What nogil's io_uring backend is measured against.
//
//   raw_io_uring_echo PORT [--port-file F]
#include "raw_listen.hpp"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace {
constexpr unsigned buffers = 1024;  // power of two
constexpr unsigned buffer_size = 4096;
constexpr std::uint64_t accept_tag = 1ull << 63;
constexpr std::uint64_t send_tag = 1ull << 62;  // | bid << 32 | fd
io_uring ring;
io_uring_buf_ring* br;
char* bufs;

io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (!s) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}
void recv_on(int fd) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    io_uring_sqe_set_data64(s, static_cast<std::uint32_t>(fd));
}
void give_back(unsigned bid) {
    io_uring_buf_ring_add(br, bufs + std::size_t(bid) * buffer_size, buffer_size, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(buffers), 0);
    io_uring_buf_ring_advance(br, 1);
}
}  // namespace

int main(int argc, char** argv) {
    const int lfd = listen_loopback(argc, argv, 0);
    int one = 1;

    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
    if (int r = io_uring_queue_init_params(1024, &ring, &p); r < 0) {
        std::fprintf(stderr, "io_uring_queue_init: %s\n", std::strerror(-r));
        return 1;
    }
    io_uring_register_ring_fd(&ring);
    br = static_cast<io_uring_buf_ring*>(
        mmap(nullptr, buffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0));
    bufs = static_cast<char*>(
        mmap(nullptr, std::size_t(buffers) * buffer_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0));
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(br);
    reg.ring_entries = buffers;
    reg.bgid = 0;
    if (int r = io_uring_register_buf_ring(&ring, &reg, 0); r != 0) {
        std::fprintf(stderr, "io_uring_register_buf_ring: %s\n", std::strerror(-r));
        return 1;
    }
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < buffers; ++i)
        io_uring_buf_ring_add(br, bufs + std::size_t(i) * buffer_size, buffer_size, static_cast<unsigned short>(i),
                              io_uring_buf_ring_mask(buffers), static_cast<int>(i));
    io_uring_buf_ring_advance(br, buffers);

    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, 0);
    io_uring_sqe_set_data64(s, accept_tag);
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        io_uring_cqe* cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            const std::uint64_t data = io_uring_cqe_get_data64(cqe);
            const int res = cqe->res;
            if (data & accept_tag) {
                if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    recv_on(res);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    io_uring_sqe* a = sqe();
                    io_uring_prep_multishot_accept(a, lfd, nullptr, nullptr, 0);
                    io_uring_sqe_set_data64(a, accept_tag);
                }
                continue;
            }
            if (data & send_tag) {  // the echo went out (echo sizes fit the socket buffer at once)
                give_back(static_cast<unsigned>((data >> 32) & 0xffff));
                continue;
            }
            const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
            if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
                const unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                io_uring_sqe* w = sqe();
                io_uring_prep_send(w, fd, bufs + std::size_t(bid) * buffer_size, static_cast<std::size_t>(res), MSG_NOSIGNAL);
                io_uring_sqe_set_data64(w, send_tag | (std::uint64_t(bid) << 32) | static_cast<std::uint32_t>(fd));
            }
            if (!(cqe->flags & IORING_CQE_F_MORE)) {
                if (res == -ENOBUFS || res > 0)
                    recv_on(fd);  // out of buffers, or ended by the kernel: receive again
                else
                    close(fd);  // EOF or error
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
