#pragma once
/// Renders trace results for people (traceroute-like) and for scripts (JSON).

#include <string>

#include "probe/trace.h"
#include "probe/trace_result.h"

namespace portpath::app {

/// One JSON object on one line (no trailing newline).
std::string ResultToJson(const probe::TraceResult& result);

/// traceroute-style hop table, a result line and the verdict.
std::string ResultToText(const probe::TraceResult& result, const probe::TraceSettings& settings);

}  // namespace portpath::app
