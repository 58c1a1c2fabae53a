#pragma once
// Python's multiprocessing: work in separate processes, each with its own memory.
// See docs/multiprocessing.md for start methods and what may cross the process boundary.

#include <nogil/errors.hpp>
#include <nogil/multiprocessing/connection.hpp>
#include <nogil/multiprocessing/context.hpp>
#include <nogil/multiprocessing/async_result.hpp>
#include <nogil/multiprocessing/exceptions.hpp>
#include <nogil/multiprocessing/managers.hpp>
#include <nogil/multiprocessing/pool.hpp>
#include <nogil/multiprocessing/process.hpp>
#include <nogil/multiprocessing/queues.hpp>
#include <nogil/multiprocessing/shared_memory.hpp>
#include <nogil/multiprocessing/sharedctypes.hpp>
#include <nogil/multiprocessing/synchronize.hpp>
