#pragma once
// All of nogil: every module's umbrella header.

#include <nogil/asyncio.hpp>
#include <nogil/concurrent/futures.hpp>
#include <nogil/contextvars.hpp>
#include <nogil/errors.hpp>
#include <nogil/multiprocessing.hpp>
#include <nogil/queue.hpp>
#include <nogil/threading.hpp>
