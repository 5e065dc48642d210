#pragma once
/// Turns a trace result into the one-line conclusion a person would write after
/// reading a traceroute. Pure and thread-safe.

#include <string>

#include "probe/trace_result.h"

namespace portpath::probe {

std::string Verdict(const TraceResult& result);

}  // namespace portpath::probe
