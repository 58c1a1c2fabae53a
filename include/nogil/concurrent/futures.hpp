#pragma once
// Python's concurrent.futures: Future, Executor, ThreadPoolExecutor, ProcessPoolExecutor, wait, as_completed.

#include <nogil/concurrent/futures/executor.hpp>
#include <nogil/concurrent/futures/future.hpp>
#include <nogil/concurrent/futures/process_pool.hpp>
#include <nogil/concurrent/futures/thread_pool.hpp>
#include <nogil/concurrent/futures/wait.hpp>
#include <nogil/errors.hpp>
