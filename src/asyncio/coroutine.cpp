#include <nogil/asyncio/coroutine.hpp>

#include <nogil/asyncio/event_loop.hpp>

#include <iostream>

namespace nogil::asyncio::detail {

void report_never_awaited(const char* name) noexcept {
    try {
        std::string message = std::string("coroutine '") + name + "' was never awaited";
        if (running_loop) {
            if (running_loop->debug) running_loop->call_exception_handler({message, nullptr, {}});
        } else if (debug_from_environment()) {
            std::cerr << "asyncio: " << message << '\n';
        }
    } catch (...) {
    }
}

}  // namespace nogil::asyncio::detail
