#pragma once
// --chart FILE.svg: the speedups, throughputs, memory and costs as horizontal bar charts, nogil
// and Python in two colours, in one self-contained SVG a browser shows.

#include "report.hpp"

#include <string>

namespace nogil_tool {

/// The SVG document for the report.
std::string make_chart(const Report& report);

}  // namespace nogil_tool
