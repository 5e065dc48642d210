// portpath: where on the path is a TCP port blocked, and whose network is that?
#include <cstring>
#include <iostream>
#include <string>

#include "app/serve_command.h"
#include "app/terminal_text.h"
#include "app/trace_command.h"

namespace {

constexpr const char* kUsage = R"(usage: portpath COMMAND [options]

commands:
  trace HOST:PORT...   trace the TCP path to each target and say where the port is blocked
  serve --config FILE  run the Prometheus exporter over the configured targets
  version              print the version

run 'portpath trace --help' or 'portpath serve --help' for the options of a command.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return portpath::app::kExitUsage;
  }
  std::string command = argv[1];
  if (command == "trace") return portpath::app::RunTraceCommand(argc - 2, argv + 2);
  if (command == "serve")
    return portpath::app::RunServeCommand(argc - 2, argv + 2, PORTPATH_VERSION);
  if (command == "version" || command == "--version") {
    std::cout << "portpath " << PORTPATH_VERSION << "\n";
    return 0;
  }
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "portpath: unknown command '" << portpath::app::TerminalSafe(command) << "'\n"
            << kUsage;
  return portpath::app::kExitUsage;
}
