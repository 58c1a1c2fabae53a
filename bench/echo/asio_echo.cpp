// The C++ peer: a Boost.Asio 1.81 echo server on its io_uring backend (BOOST_ASIO_HAS_IO_URING
// with epoll disabled, so sockets go through io_uring), single thread, completion handlers:
// async_read_some then async_write of what came, per connection. Debian libboost1.81-dev.
//
//   asio_echo PORT [--port-file F]
#define BOOST_ASIO_HAS_IO_URING 1
#define BOOST_ASIO_DISABLE_EPOLL 1
#include <boost/asio.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

using boost::asio::ip::tcp;

namespace {
class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(tcp::socket s) : socket_(std::move(s)) {}
    void read() {
        socket_.async_read_some(boost::asio::buffer(buf_), [self = shared_from_this()](auto ec, std::size_t n) {
            if (!ec) self->write(n);
        });
    }

private:
    void write(std::size_t n) {
        boost::asio::async_write(socket_, boost::asio::buffer(buf_, n), [self = shared_from_this()](auto ec, std::size_t) {
            if (!ec) self->read();
        });
    }
    tcp::socket socket_;
    char buf_[65536];
};

void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](auto ec, tcp::socket s) {
        if (!ec) {
            s.set_option(tcp::no_delay(true));
            std::make_shared<Session>(std::move(s))->read();
        }
        accept(acceptor);
    });
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    boost::asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                             static_cast<unsigned short>(std::atoi(argv[1]))));
    if (argc >= 4 && std::string(argv[2]) == "--port-file") {
        std::ofstream(std::string(argv[3]) + ".tmp") << acceptor.local_endpoint().port() << "\n";
        std::rename((std::string(argv[3]) + ".tmp").c_str(), argv[3]);
    }
    accept(acceptor);
    io.run();
}
