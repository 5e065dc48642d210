#pragma once
/// `portpath trace [options] HOST:PORT...`: the one-shot command.

namespace portpath::app {

/// Exit codes shared by the commands.
enum ExitCode : int {
  kExitAllOpen = 0,       // every target's port is open
  kExitNotOpen = 1,       // at least one target is not open (or could not be traced)
  kExitUsage = 2,         // bad command line or targets
  kExitCannotProbe = 3,   // missing capability or capture failure
};

int RunTraceCommand(int argc, char** argv);
void PrintTraceUsage();

}  // namespace portpath::app
