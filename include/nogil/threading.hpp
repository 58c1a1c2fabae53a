#pragma once
// Python's threading module: nogil::threading. Every class has its own header in threading/.

#include <nogil/errors.hpp>  // threading::BrokenBarrierError
#include <nogil/threading/barrier.hpp>
#include <nogil/threading/condition.hpp>
#include <nogil/threading/event.hpp>
#include <nogil/threading/local.hpp>
#include <nogil/threading/lock.hpp>
#include <nogil/threading/rlock.hpp>
#include <nogil/threading/semaphore.hpp>
#include <nogil/threading/thread.hpp>
#include <nogil/threading/timer.hpp>
