#include "app/serve_command.h"

#include <iostream>
#include <string>

#include "app/cli.h"
#include "app/trace_command.h"
#include "config/extra_labels.h"
#include "config/scalars.h"
#include "config/shard.h"

namespace portpath::app {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDescription =
    "portpath serve: traces the configured targets periodically and exposes the results as\n"
    "Prometheus metrics. The config is reloaded on SIGHUP, on POST /-/reload, and when the file\n"
    "changes on disk (a Kubernetes ConfigMap update included); a bad file keeps the last good\n"
    "configuration running.";

constexpr const char* kFooter =
    "endpoints: /metrics, /probe?target=HOST:PORT, /-/healthy, /-/ready, POST /-/reload, /\n"
    "exit status: 2 invalid configuration or usage, 3 cannot probe or cannot listen.";

// A value that must not be empty: `--user ""` is a mistake, not "stay root".
CLI::Option* AddText(CLI::App& app, const std::string& names, std::string& out,
                     const std::string& what, const std::string& help) {
  return cli::AddValue(
      app, names, what,
      [&out](const std::string& v) {
        out = v;
        return !v.empty();
      },
      help);
}

}  // namespace

std::optional<int> ParseServeOptions(const std::vector<std::string>& args,
                                     exporter::ServeOptions& options, std::ostream& out,
                                     std::ostream& err) {
  CLI::App app(kDescription, "portpath serve");
  cli::Format(app);
  app.footer(kFooter);

  AddText(app, "--config,--config.file", options.config_file, "a file name",
          "targets and probe settings (YAML, see config/example.yaml); required")
      ->type_name("FILE");
  AddText(app, "--web.listen-address", options.listen_address, "HOST:PORT, [V6]:PORT or :PORT",
          "HOST:PORT, [V6]:PORT or :PORT to listen on (default :9750)")
      ->type_name("ADDR");
  AddText(app, "--web.config.file", options.web_config_file, "a file name",
          "TLS and basic auth for every endpoint (Prometheus exporter-toolkit "
          "format); default: plain HTTP, no auth")
      ->type_name("FILE");
  AddText(app, "--user", options.run_as_user, "a user name or uid",
          "switch to USER (name or uid) once sockets and capture are open")
      ->type_name("USER");
  cli::AddValue(
      app, "--shard", "I/N with 0 <= I < N (e.g. 0/3)",
      [&options](const std::string& v) {
        options.shard = config::ParseShard(v);
        return options.shard.has_value();
      },
      "trace only shard I (0-based) of N: target ports split by a stable hash, so N "
      "replicas with the same config share it with no overlap and no gap")
      ->type_name("I/N");
  cli::AddValue(
      app, "--labels",
      "NAME=VALUE[,NAME=VALUE...] (label names [a-zA-Z_][a-zA-Z0-9_]*, not reserved, values "
      "not empty)",
      [&options](const std::string& v) {
        std::string error;
        auto labels = config::ParseExtraLabels(v, error);
        if (labels) options.extra_labels = std::move(*labels);
        return labels.has_value();
      },
      "labels added to every target's series, e.g. node=$(NODE_NAME),pod=$(POD_NAME) from "
      "Kubernetes' downward API")
      ->type_name("LABELS");
  // As long as anyone may ask for: clamped far beyond any real wait.
  cli::AddDuration(app, "--web.ready-after", options.ready_after, 0s, 876'000h,
                   "/-/ready after the first full round, or after DUR anyway (default 2m)");
  cli::AddValue(
      app, "--log.level", "trace, debug, info, warn or error",
      [&options](const std::string& v) {
        options.log_level = v;
        return v == "trace" || v == "debug" || v == "info" || v == "warn" || v == "error";
      },
      "trace, debug, info, warn, error (default info)")
      ->type_name("LEVEL");

  if (auto code = cli::Parse(app, args, "serve", out, err)) return code;
  if (options.config_file.empty()) {
    err << "portpath serve: --config FILE is required (see portpath serve --help)\n";
    return kExitUsage;
  }
  return std::nullopt;
}

int RunServeCommand(int argc, char** argv, const char* version) {
  exporter::ServeOptions options;
  options.version = version;
  if (auto code = ParseServeOptions(std::vector<std::string>(argv, argv + argc), options, std::cout,
                                    std::cerr))
    return *code;
  return exporter::RunServe(options);
}

}  // namespace portpath::app
