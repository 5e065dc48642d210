// Lints the real exposition with the real promtool: names, help, types,
// suffixes and the text format itself, as Prometheus will read them.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exporter/collector.h"
#include "exporter/http_server.h"
#include "exporter/process_metrics.h"
#include "test_snapshots.h"

namespace portpath::exporter {
namespace {

std::string FindPromtool() {
  if (const char* env = std::getenv("PROMTOOL"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / "promtool";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

struct RunResult {
  int exit_code = -1;
  std::string output;
};

RunResult CheckMetrics(const std::string& promtool, const std::filesystem::path& file) {
  std::string command = "'" + promtool + "' check metrics < '" + file.string() + "' 2>&1";
  RunResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  for (std::size_t n; (n = fread(buf.data(), 1, buf.size(), pipe)) > 0;)
    r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(PromtoolTest, RichExpositionPassesCheckMetrics) {
  const std::string promtool = FindPromtool();
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool not found in PATH (install the 'prometheus' package or set "
                    "PROMTOOL=/path/to/promtool); exposition lint not run";
  }
  // Default detail, then everything (hop_metrics: all), as /metrics writes them.
  for (Detail detail : {Detail::kDefault, Detail::kFull}) {
    Snapshot rich = test_data::RichSnapshot();
    rich.rate_limit = 1000;
    for (std::size_t i = 0; i < rich.targets.size(); ++i) rich.targets[i].detail = detail;
    // Label values that need escaping.
    rich.targets[1].labels["team"] = "web \"edge\" \\ team";
    rich.targets[1].last->blocked_hop->asn = 64500;
    rich.targets[1].last->blocked_hop->as_org = "Example \"Transit\", Inc.";
    auto snapshot = std::make_shared<const Snapshot>(rich);
    MetricsEndpoint endpoint([snapshot] { return snapshot; },
                             {std::make_shared<ProcessCollector>("0.1.0", "abc1234")});
    const std::string text = endpoint.Text();

    const auto file = std::filesystem::temp_directory_path() /
                      ("portpath-promtool-" + std::to_string(getpid()) + ".prom");
    {
      std::ofstream out(file);
      out << text;
    }
    RunResult r = CheckMetrics(promtool, file);
    std::filesystem::remove(file);
    EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << text;
    EXPECT_EQ(r.output, "") << "promtool lint findings:\n" << r.output;
  }
}

}  // namespace
}  // namespace portpath::exporter
