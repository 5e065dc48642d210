#pragma once
/// `portpath trace [options] HOST:PORT...`: the one-shot command.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "app/target_spec.h"
#include "probe/trace.h"

namespace portpath::app {

/// Exit codes shared by the commands.
enum ExitCode : int {
  kExitAllOpen = 0,      // every target's port is open
  kExitNotOpen = 1,      // at least one target is not open (or could not be traced)
  kExitUsage = 2,        // bad command line or targets
  kExitCannotProbe = 3,  // missing capability or capture failure
};

/// The command line of `portpath trace`, as parsed (targets not yet checked).
struct TraceOptions {
  probe::TraceSettings settings;
  double rate = 1000;
  bool json = false;
  bool numeric = false;
  bool ping = true;
  int flows = 1;
  FamilyPreference family = FamilyPreference::kAny;
  std::optional<packet::IpAddress> source;
  std::optional<std::string> interface;
  std::optional<std::uint16_t> port;
  std::vector<std::string> targets_files;
  std::optional<std::string> asn_db;
  std::vector<std::string> targets;
};

/// Parses the arguments after `portpath trace`. Returns nullopt when the trace
/// should run, else the exit code: 0 after --help (printed to `out`), kExitUsage
/// after a bad command line (the reason printed to `err`).
std::optional<int> ParseTraceOptions(const std::vector<std::string>& args, TraceOptions& options,
                                     std::ostream& out, std::ostream& err);

/// The targets of the command line and of the targets files, each checked as the
/// config checks a target (host and port); every problem goes to `errors`.
std::vector<TargetSpec> CollectTargets(const TraceOptions& options,
                                       std::vector<std::string>& errors);

int RunTraceCommand(int argc, char** argv);

}  // namespace portpath::app
