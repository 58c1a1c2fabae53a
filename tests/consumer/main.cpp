// Built against the installed nogil with find_package(nogil CONFIG REQUIRED).
#include <nogil/nogil.hpp>

#include <cstdio>

int main() {
    try {
        throw nogil::TimeoutError("x");
    } catch (const nogil::TimeoutError&) {
        std::puts("consumer ok");
    }
}
