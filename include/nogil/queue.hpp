#pragma once
// Python's queue module: Queue, LifoQueue, PriorityQueue, SimpleQueue and the Empty, Full and
// ShutDown exceptions, in namespace nogil::queue.

#include <nogil/errors.hpp>
#include <nogil/queue/lifo_queue.hpp>
#include <nogil/queue/priority_queue.hpp>
#include <nogil/queue/queue.hpp>
#include <nogil/queue/simple_queue.hpp>
