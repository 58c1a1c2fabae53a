#pragma once
// All of nogil: every module's umbrella header.

#include <nogil/errors.hpp>
