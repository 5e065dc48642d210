// libFuzzer harness: the config loader on arbitrary YAML text (TryParseConfig, the function
// LoadConfigFile and every reload end in), checking the contract config.h states: errors or a
// config, never an exception; errors ordered by position; a config that holds every documented
// range and rule.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "config/config.h"
#include "config/scalars.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace portpath::config;
using std::chrono::milliseconds;

void CheckSettings(const ProbeSettings& s) {
  FUZZ_CHECK(s.interval >= milliseconds(1'000) && s.interval <= milliseconds(86'400'000));
  FUZZ_CHECK(s.timeout >= milliseconds(10) && s.timeout <= milliseconds(60'000));
  FUZZ_CHECK(s.jitter >= milliseconds(0) && s.jitter < s.interval);
  FUZZ_CHECK(s.max_hops >= 1 && s.max_hops <= 255);
  FUZZ_CHECK(s.first_hop >= 1 && s.first_hop <= s.max_hops);
  FUZZ_CHECK(s.probes_per_hop >= 1 && s.probes_per_hop <= 10);
  FUZZ_CHECK(s.gap_limit >= 1 && s.gap_limit <= 255);
  FUZZ_CHECK(s.flows >= 1 && s.flows <= 16);
  FUZZ_CHECK(s.full_round_every >= 1 && s.full_round_every <= 64);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ParseResult result = TryParseConfig(text, "fuzz.yaml");
  FUZZ_CHECK(result.ok() == result.errors.empty());
  // Ordered by position, but for a last, positionless count of the errors past the first 1,000.
  std::size_t ordered = result.errors.size();
  if (ordered > 0 && result.errors.back().line() == 0) {
    FUZZ_CHECK(ordered > 1000);
    FUZZ_CHECK(result.errors.back().message().ends_with(" more errors not shown"));
    --ordered;
  }
  for (std::size_t i = 1; i < ordered; ++i) {
    const ConfigError& a = result.errors[i - 1];
    const ConfigError& b = result.errors[i];
    FUZZ_CHECK(a.line() > 0);
    FUZZ_CHECK(a.line() < b.line() || (a.line() == b.line() && a.column() <= b.column()));
  }
  if (!result.ok()) return 0;

  const Config& config = *result.config;
  CheckSettings(config.defaults);
  FUZZ_CHECK(config.rate >= 1 && config.rate <= 1'000'000);
  if (config.source) FUZZ_CHECK(IsIpLiteral(*config.source));
  FUZZ_CHECK(!config.targets.empty());
  std::set<std::pair<std::string, std::uint16_t>> seen;
  for (const Target& target : config.targets) {
    FUZZ_CHECK(CheckHost(target.host).kind.has_value());
    FUZZ_CHECK(!target.ports.empty());
    for (std::uint16_t port : target.ports) {
      FUZZ_CHECK(port != 0);
      // No two targets share a host (by identity) and a port.
      FUZZ_CHECK(seen.emplace(HostIdentity(target.host), port).second);
    }
    for (const auto& [name, value] : target.labels) {
      FUZZ_CHECK(!name.empty() && !value.empty());
      FUZZ_CHECK(name.rfind("__", 0) != 0);
      FUZZ_CHECK(std::find(std::begin(kReservedLabels), std::end(kReservedLabels), name) ==
                 std::end(kReservedLabels));
    }
    CheckSettings(target.settings);
  }
  return 0;
}
