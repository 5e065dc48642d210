#pragma once
/// `portpath serve --config FILE`: the Prometheus exporter sidecar.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "exporter/serve.h"

namespace portpath::app {

/// Parses the arguments after `portpath serve` into `options`. Returns nullopt
/// when the exporter should run, else the exit code: 0 after --help (printed to
/// `out`), 2 after a bad command line (the reason printed to `err`).
std::optional<int> ParseServeOptions(const std::vector<std::string>& args,
                                     exporter::ServeOptions& options, std::ostream& out,
                                     std::ostream& err);

int RunServeCommand(int argc, char** argv, const char* version);

}  // namespace portpath::app
