#pragma once
// Python's threading._register_atexit: what other modules (concurrent.futures' executors) run at
// program exit before the non-daemon threads are joined.

#include <functional>

namespace nogil::threading::detail {

/// Registers `fn` to run at normal program exit (main returning, or std::exit), on the exiting
/// thread, before threading joins the non-daemon threads; the functions run in reverse order of
/// registration, as Python's do. Throws std::runtime_error("can't register atexit after
/// shutdown") once exit has begun. Thread-safe.
void register_atexit(std::function<void()> fn);

/// Python's threading._shutdown: runs the functions registered above, then joins the non-daemon
/// threads. Runs once, on the exiting thread: threading's own std::atexit hook calls it, and so do
/// nogil's other exit handlers (multiprocessing's) before their own work, since Python's
/// finalization runs threading._shutdown before any atexit callback.
void shutdown();

}  // namespace nogil::threading::detail
