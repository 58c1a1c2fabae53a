#include <nogil/asyncio/wait.hpp>

namespace nogil::asyncio::detail {

asyncio::Coroutine<> cancel_and_wait(Ref<FutureBase> fut) {
    using L = Link<ReleaseWaiter, &ReleaseWaiter::release_waiter>;
    auto waiter = Ref<ReleaseWaiter>::adopt(new ReleaseWaiter(fut->loop()));
    L::add(*fut, *waiter);
    std::exception_ptr error;
    try {
        fut->cancel({});
        // Not `co_await fut`: that would cancel fut again if we are cancelled, and keep us waiting.
        co_await asyncio::Future<>::from_state(waiter);
    } catch (...) {
        error = std::current_exception();
    }
    L::remove(*fut, *waiter);
    if (error) std::rethrow_exception(error);
}

}  // namespace nogil::asyncio::detail
