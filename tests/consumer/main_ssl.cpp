// Built against the installed nogil with find_package(nogil CONFIG REQUIRED COMPONENTS ssl).
#include <nogil/ssl.hpp>

#include <cstdio>

int main() {
    nogil::ssl::SSLContext ctx = nogil::ssl::create_default_context();
    if (ctx.check_hostname() && ctx.verify_mode() == nogil::ssl::CERT_REQUIRED) std::puts("consumer ssl ok");
}
