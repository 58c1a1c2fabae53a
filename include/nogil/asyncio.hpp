#pragma once
// Python's asyncio: coroutines and tasks on a per-thread event loop, with asyncio's
// cancellation (docs/asyncio-cancellation.md) and machinery notes (docs/asyncio-internals.md).

#include <nogil/asyncio/barrier.hpp>
#include <nogil/asyncio/coroutine.hpp>
#include <nogil/asyncio/datagram.hpp>
#include <nogil/asyncio/event_loop.hpp>
#include <nogil/asyncio/future.hpp>
#include <nogil/asyncio/gather.hpp>
#include <nogil/asyncio/graph.hpp>
#include <nogil/asyncio/locks.hpp>
#include <nogil/asyncio/queues.hpp>
#include <nogil/asyncio/runners.hpp>
#include <nogil/asyncio/shield.hpp>
#include <nogil/asyncio/sleep.hpp>
#include <nogil/asyncio/streams.hpp>
#include <nogil/asyncio/subprocess.hpp>
#include <nogil/asyncio/task.hpp>
#include <nogil/asyncio/task_group.hpp>
#include <nogil/asyncio/threads.hpp>
#include <nogil/asyncio/timeouts.hpp>
#include <nogil/asyncio/wait.hpp>
#include <nogil/errors.hpp>
