#include "app/serve_command.h"

#include <iostream>
#include <string>

#include "app/target_spec.h"
#include "app/trace_command.h"
#include "exporter/serve.h"

namespace portpath::app {
namespace {

constexpr const char* kUsage = R"(usage: portpath serve --config FILE [options]

Traces the configured targets periodically and exposes the results as Prometheus
metrics. The config is reloaded on SIGHUP, on POST /-/reload, and when the file
changes on disk (a Kubernetes ConfigMap update included); a bad file keeps the
last good configuration running.

options:
  --config FILE                 targets and probe settings (YAML; see config/example.yaml)
  --web.listen-address ADDR     HOST:PORT, [V6]:PORT or :PORT to listen on (default :9750)
  --web.ready-after DUR         /-/ready turns ready after the first full round, or after
                                this long anyway (default 2m)
  --log.level LEVEL             trace, debug, info, warn, error (default info)
  -h, --help                    this text

endpoints: /metrics, /probe?target=HOST:PORT, /-/healthy, /-/ready, POST /-/reload, /
exit status: 2 invalid configuration or usage, 3 cannot probe or cannot listen.
)";

}  // namespace

int RunServeCommand(int argc, char** argv, const char* version) {
  exporter::ServeOptions options;
  options.version = version;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {  // --flag=value
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a != "-h" && a != "--help") {
      if (i + 1 >= argc) {
        std::cerr << "portpath serve: " << a << " needs a value (see --help)\n";
        return kExitUsage;
      }
      value = argv[++i];
    }
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--config" || a == "--config.file") {
      options.config_file = value;
    } else if (a == "--web.listen-address") {
      options.listen_address = value;
    } else if (a == "--log.level") {
      if (value != "trace" && value != "debug" && value != "info" && value != "warn" &&
          value != "error") {
        std::cerr << "portpath serve: --log.level expects trace, debug, info, warn or error, got '"
                  << value << "'\n";
        return kExitUsage;
      }
      options.log_level = value;
    } else if (a == "--web.ready-after") {
      auto seconds = ParseSeconds(value);
      if (!seconds) {
        std::cerr << "portpath serve: --web.ready-after expects a duration like 30s or 2m, got '"
                  << value << "'\n";
        return kExitUsage;
      }
      options.ready_after = std::chrono::milliseconds(static_cast<long long>(*seconds * 1000));
    } else {
      std::cerr << "portpath serve: unknown option '" << a << "' (see portpath serve --help)\n";
      return kExitUsage;
    }
  }
  if (options.config_file.empty()) {
    std::cerr << "portpath serve: --config FILE is required (see portpath serve --help)\n";
    return kExitUsage;
  }
  return exporter::RunServe(options);
}

}  // namespace portpath::app
