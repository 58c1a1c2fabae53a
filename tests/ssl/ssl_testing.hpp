#pragma once
// Helpers shared by the TLS tests: certificates made once per test program (make_certs.sh, the
// openssl command), contexts built from them, and a TLS echo server.
#include <nogil/asyncio.hpp>
#include <nogil/ssl.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace nogil_test {

namespace ssl = nogil::ssl;
namespace asyncio = nogil::asyncio;

/// The folder holding the certificates (made on first use, removed at exit).
inline const std::string& certs_dir() {
    struct Dir {
        std::string path;
        Dir() {
            char tmpl[] = "/tmp/nogil-ssl-XXXXXX";
            if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
            path = tmpl;
            // Appended piece by piece: g++ 12 at -O1 (the tsan build) warns falsely
            // (-Warray-bounds) about a chain of operator+ on temporaries here.
            std::string cmd = "sh ";
            cmd += NOGIL_MAKE_CERTS;
            cmd += ' ';
            cmd += path;
            if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make_certs.sh failed");
        }
        ~Dir() {
            std::string cmd = "rm -rf ";
            cmd += path;
            std::system(cmd.c_str());
        }
    };
    static const Dir dir;
    return dir.path;
}

inline std::string cert(const std::string& name) { return certs_dir() + "/" + name; }

/// A server context with `name`.pem / `name`.key.
inline ssl::SSLContext server_context(const std::string& name = "server") {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_SERVER);
    ctx.load_cert_chain(cert(name + ".pem"), cert(name + ".key"));
    return ctx;
}

/// A client context trusting the test CA (hostname checking on).
inline ssl::SSLContext client_context() {
    return ssl::create_default_context(ssl::Purpose::SERVER_AUTH, cert("ca.pem"));
}

/// A plain server that never answers: each connection reads until its client is gone, then is
/// closed and counted in `gone` (so that fd counts are taken after the server side closed too).
inline asyncio::Coroutine<> silent(asyncio::StreamReader reader, asyncio::StreamWriter writer,
                                   asyncio::Queue<int>* gone) {
    co_await reader.read();
    writer.close();
    co_await writer.wait_closed();
    gone->put_nowait(1);
}
inline asyncio::Coroutine<asyncio::Server> start_silent(asyncio::Queue<int>* gone) {
    auto handler = [gone](asyncio::StreamReader r, asyncio::StreamWriter w) { return silent(r, w, gone); };
    co_return co_await asyncio::start_server(handler, "127.0.0.1", 0);
}

}  // namespace nogil_test
