#pragma once
// All of nogil: every module's umbrella header.

#include <nogil/concurrent/futures.hpp>
#include <nogil/errors.hpp>
