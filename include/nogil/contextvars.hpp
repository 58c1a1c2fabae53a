#pragma once
// Python's contextvars: ContextVar<T>, Token<T>, Context, copy_context().
//
// Python's rules, which asyncio follows: a task runs in the context it captured when it was
// created (a copy of its creator's, or TaskOptions::context), a loop callback in a copy of the
// context that scheduled it, asyncio::to_thread's function in a copy of the caller's; each
// thread starts with an empty context. So a value set once (a request id) reaches every task
// and thread call made after it, and a change made inside one task is seen by no other.

#include <nogil/contextvars/context.hpp>
#include <nogil/contextvars/context_var.hpp>
