#include "config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace portpath::config {
namespace {

using namespace std::chrono_literals;

std::string AllMessages(const ParseResult& result) {
  std::string out;
  for (const ConfigError& e : result.errors) out += std::string(e.what()) + "\n";
  return out;
}

// Asserts that `yaml` is rejected with exactly one error, at `line`:`column`, saying `message`.
void ExpectError(const std::string& yaml, int line, int column, const std::string& message) {
  SCOPED_TRACE("config:\n" + yaml);
  ParseResult result = TryParseConfig(yaml, "test.yaml");
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u) << AllMessages(result);
  const ConfigError& e = result.errors.front();
  EXPECT_EQ(e.what(),
            "test.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": " + message);
  EXPECT_EQ(e.file(), "test.yaml");
  EXPECT_EQ(e.line(), line);
  EXPECT_EQ(e.column(), column);
  EXPECT_EQ(e.message(), message);
}

constexpr char kOneTarget[] = "targets:\n  - {host: example.com, port: 443}\n";

// --- valid files -------------------------------------------------------------------------------

TEST(ConfigTest, MinimalFileGetsBuiltInDefaults) {
  Config config = ParseConfig("targets:\n  - host: example.com\n    port: 443\n", "min.yaml");
  EXPECT_EQ(config.file, "min.yaml");
  EXPECT_EQ(config.defaults, ProbeSettings{});
  EXPECT_EQ(config.defaults.interval, 30s);
  EXPECT_EQ(config.defaults.timeout, 1s);
  EXPECT_EQ(config.defaults.jitter, 3s);  // 10% of 30s
  EXPECT_EQ(config.defaults.max_hops, 30);
  EXPECT_EQ(config.defaults.first_hop, 1);
  EXPECT_EQ(config.defaults.probes_per_hop, 3);
  EXPECT_EQ(config.defaults.gap_limit, 5);
  EXPECT_EQ(config.defaults.full_round_every, 4);
  EXPECT_EQ(config.defaults.flows, 1);
  EXPECT_EQ(config.defaults.family, Family::kAny);
  EXPECT_EQ(config.rate, 1000);
  EXPECT_EQ(config.source, std::nullopt);
  EXPECT_EQ(config.interface, std::nullopt);
  EXPECT_EQ(config.asn_db, std::nullopt);
  EXPECT_FALSE(config.reverse_dns);
  ASSERT_EQ(config.targets.size(), 1u);
  const Target& t = config.targets[0];
  EXPECT_EQ(t.host, "example.com");
  EXPECT_EQ(t.ports, std::vector<uint16_t>{443});
  EXPECT_TRUE(t.labels.empty());
  EXPECT_EQ(t.settings, ProbeSettings{});
  EXPECT_EQ(t.position, (Position{2, 5}));
}

TEST(ConfigTest, FullFileMergesTargetOverridesOverDefaults) {
  const std::string yaml = R"(# every key
defaults:
  interval: 1m
  timeout: 500ms
  max_hops: 20
  first_hop: 2
  probes_per_hop: 2
  gap_limit: 4
  jitter: 20%
  family: ipv4
  flows: 4
  full_round_every: 1
rate: 250.5
source: 192.0.2.10
interface: eth0
asn_db: /var/lib/portpath/asn.mmdb
reverse_dns: true
targets:
  - host: db.example.com
    ports: [5432, 22]
    labels: {team: storage, tier: "1"}
    interval: 10s
    timeout: 2s
  - host: 2001:db8::1
    port: 443
    jitter: 3s
    family: any
    max_hops: 64
)";
  Config config = ParseConfig(yaml, "full.yaml");

  ProbeSettings defaults;
  defaults.interval = 60s;
  defaults.timeout = 500ms;
  defaults.jitter = 12s;  // 20% of 1m
  defaults.max_hops = 20;
  defaults.first_hop = 2;
  defaults.probes_per_hop = 2;
  defaults.gap_limit = 4;
  defaults.family = Family::kIpv4;
  defaults.flows = 4;
  defaults.full_round_every = 1;
  EXPECT_EQ(config.defaults, defaults);
  EXPECT_EQ(config.rate, 250.5);
  EXPECT_EQ(config.source, "192.0.2.10");
  EXPECT_EQ(config.interface, "eth0");
  EXPECT_EQ(config.asn_db, "/var/lib/portpath/asn.mmdb");
  EXPECT_TRUE(config.reverse_dns);
  ASSERT_EQ(config.targets.size(), 2u);

  const Target& db = config.targets[0];
  EXPECT_EQ(db.host, "db.example.com");
  EXPECT_EQ(db.ports, (std::vector<uint16_t>{5432, 22}));  // file order is kept
  EXPECT_EQ(db.labels, (std::map<std::string, std::string>{{"team", "storage"}, {"tier", "1"}}));
  ProbeSettings db_settings = defaults;
  db_settings.interval = 10s;
  db_settings.timeout = 2s;
  db_settings.jitter = 2s;  // the 20% from defaults, of this target's own interval
  EXPECT_EQ(db.settings, db_settings);
  EXPECT_EQ(db.position, (Position{19, 5}));

  const Target& web = config.targets[1];
  EXPECT_EQ(web.host, "2001:db8::1");
  EXPECT_EQ(web.ports, std::vector<uint16_t>{443});
  ProbeSettings web_settings = defaults;
  web_settings.jitter = 3s;
  web_settings.family = Family::kAny;
  web_settings.max_hops = 64;
  EXPECT_EQ(web.settings, web_settings);
  EXPECT_EQ(web.position, (Position{24, 5}));
}

TEST(ConfigTest, AcceptsEveryDurationSpelling) {
  Config config = ParseConfig(R"(defaults:
  interval: 90
  timeout: 1.5s
targets:
  - {host: a.example, port: 1, interval: 1m30s}
  - {host: b.example, port: 1, interval: 1h}
  - {host: c.example, port: 1, interval: 24h, timeout: 10ms}
)",
                              "d.yaml");
  EXPECT_EQ(config.defaults.interval, 90s);
  EXPECT_EQ(config.defaults.timeout, 1500ms);
  EXPECT_EQ(config.targets[0].settings.interval, 90s);
  EXPECT_EQ(config.targets[1].settings.interval, 1h);
  EXPECT_EQ(config.targets[2].settings.interval, 24h);
  EXPECT_EQ(config.targets[2].settings.timeout, 10ms);
  EXPECT_EQ(config.targets[2].settings.jitter, 144min);  // 10% of 24h
}

TEST(ConfigTest, DurationJitterIsKeptAsWritten) {
  Config config = ParseConfig(R"(defaults:
  jitter: 2s
targets:
  - {host: a.example, port: 1, interval: 5s}
  - {host: b.example, port: 1, jitter: 0}
  - {host: c.example, port: 1, jitter: 50%, interval: 3s}
)",
                              "j.yaml");
  EXPECT_EQ(config.defaults.jitter, 2s);
  EXPECT_EQ(config.targets[0].settings.jitter, 2s);
  EXPECT_EQ(config.targets[1].settings.jitter, 0s);
  EXPECT_EQ(config.targets[2].settings.jitter, 1500ms);
}

TEST(ConfigTest, SameHostOnOtherPortsAndSamePortOnOtherHostsAreFine) {
  Config config = ParseConfig(R"(targets:
  - {host: db.example.com, port: 5432}
  - {host: db.example.com, port: 22}
  - {host: db2.example.com, port: 5432}
  - {host: 192.0.2.1, ports: [1, 2, 65535]}
)",
                              "t.yaml");
  EXPECT_EQ(config.targets.size(), 4u);
  EXPECT_EQ(config.targets[3].ports, (std::vector<uint16_t>{1, 2, 65535}));
}

TEST(ConfigTest, EmptyDefaultsAndLabelsSectionsAreAllowed) {
  Config config =
      ParseConfig("defaults:\ntargets:\n  - {host: a.example, port: 1, labels: }\n", "e.yaml");
  EXPECT_EQ(config.defaults, ProbeSettings{});
  EXPECT_TRUE(config.targets[0].labels.empty());
}

TEST(ConfigTest, LoadsAFixtureFile) {
  const std::string path = PORTPATH_CONFIG_FIXTURES "/valid.yaml";
  Config config = LoadConfigFile(path);
  EXPECT_EQ(config.file, path);
  EXPECT_EQ(config.rate, 50);
  EXPECT_EQ(config.defaults.interval, 1min);
  ASSERT_EQ(config.targets.size(), 2u);
  EXPECT_EQ(config.targets[0].settings.interval, 1min);
  EXPECT_EQ(config.targets[0].settings.jitter, 5s);
  EXPECT_EQ(config.targets[1].host, "192.0.2.1");
  EXPECT_EQ(config.targets[1].settings.interval, 2min);
  EXPECT_EQ(config.targets[1].settings.jitter, 5s);
  EXPECT_EQ(config.targets[1].position, (Position{9, 5}));
}

TEST(ConfigTest, TheDocumentedExampleLoads) {
  ParseResult result = TryLoadConfigFile(PORTPATH_CONFIG_EXAMPLE);
  ASSERT_TRUE(result.ok()) << AllMessages(result);
  const Config& config = *result.config;
  EXPECT_EQ(config.defaults, ProbeSettings{});
  ASSERT_EQ(config.targets.size(), 3u);
  EXPECT_EQ(config.targets[1].host, "2001:db8::443");
  EXPECT_EQ(config.targets[2].settings.jitter, 1s);
}

// --- errors about the file as a whole ------------------------------------------------------------

TEST(ConfigTest, ReportsAFileThatCannotBeRead) {
  const std::string path = PORTPATH_CONFIG_FIXTURES "/no-such-file.yaml";
  try {
    LoadConfigFile(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.what(), path + ": cannot read: No such file or directory");
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(e.column(), 0);
    EXPECT_EQ(e.message(), "cannot read: No such file or directory");
  }
}

TEST(ConfigTest, ReportsADirectoryGivenAsTheFile) {
  ParseResult result = TryLoadConfigFile(PORTPATH_CONFIG_FIXTURES);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].what(),
            std::string(PORTPATH_CONFIG_FIXTURES) + ": cannot read: Is a directory");
}

TEST(ConfigTest, ReportsYamlSyntaxErrorsAtTheParserMark) {
  // The positions are yaml-cpp's: where it noticed the problem, which is not always where the
  // mistake is (the unclosed '[' below is reported where the next line starts).
  ExpectError("rate: 5: 6\n", 1, 8, "invalid YAML: illegal map value");
  ExpectError("targets:\n  - host: a.example\n   port: 1\n", 3, 4,
              "invalid YAML: end of sequence not found");
  ExpectError("targets: [{host: a.example, port: 1}\nrate: 5\n", 2, 1,
              "invalid YAML: end of sequence flow not found");
}

TEST(ConfigTest, RejectsAnEmptyDocument) {
  ExpectError("", 1, 1, "expected a mapping at the top level, got an empty document");
  ExpectError("# only a comment\n", 1, 1,
              "expected a mapping at the top level, got an empty document");
}

TEST(ConfigTest, RejectsATopLevelThatIsNotAMapping) {
  ExpectError("- host: a.example\n  port: 1\n", 1, 1,
              "expected a mapping at the top level, got a list");
  ExpectError("hello\n", 1, 1, "expected a mapping at the top level, got 'hello'");
}

TEST(ConfigTest, RejectsASecondDocument) {
  ExpectError(std::string(kOneTarget) + "---\nrate: 5\n", 4, 1,
              "expected a single YAML document, found another one; remove the '---' separator");
}

// yaml-cpp 0.7.0's LoadAll allocates without bound on these (fuzzer finding): they must be
// plain errors, at start-up and on reload alike (both go through TryParseConfig).
TEST(ConfigTest, RejectsAStrayCommaInsteadOfRunningOutOfMemory) {
  ExpectError(",", 1, 1, "invalid YAML: unexpected character (a stray ',' or flow indicator?)");
  ExpectError(",\n", 1, 1, "invalid YAML: unexpected character (a stray ',' or flow indicator?)");
  ParseResult after_target = TryParseConfig(std::string(kOneTarget) + ",\n", "test.yaml");
  EXPECT_FALSE(after_target.ok());
  ParseResult before_target = TryParseConfig(",\n" + std::string(kOneTarget), "test.yaml");
  EXPECT_FALSE(before_target.ok());
}

// A few kilobytes of aliases used to expand into a million errors (17 s and 274 MB for
// 5 KB; the 16 MiB limit allows far worse), holding a reload meanwhile.
TEST(ConfigTest, AliasesCannotExpandIntoUnboundedWorkOrErrors) {
  // 1,000 aliases of a target whose 1,000 ports are all the same: 7 KB of text, a million
  // entries and errors once expanded.
  std::string ports;
  for (int i = 0; i < 1000; ++i) ports += i ? ",1" : "1";
  std::string yaml = "targets: [&a {host: 192.0.2.1, ports: [" + ports + "]}";
  for (int i = 0; i < 1000; ++i) yaml += ", *a";
  yaml += "]\n";
  ParseResult many = TryParseConfig(yaml, "test.yaml");
  ASSERT_FALSE(many.ok());
  EXPECT_LE(many.errors.size(), 1002u);
  EXPECT_EQ(many.errors.front().message(), "ports: port 1 is listed twice");
  EXPECT_NE(AllMessages(many).find("entries through aliases (*name)"), std::string::npos);

  // Aliases of a list of aliases: 440 KB of text, 10^9 entries once expanded.
  std::string list;
  for (int i = 1; i <= 10000; ++i) list += (i > 1 ? "," : "") + std::to_string(i);
  std::string nested = "targets: [&t {host: 192.0.2.1, ports: [" + list + "]}";
  for (int i = 0; i < 100000; ++i) nested += ", *t";
  nested += "]\n";
  ParseResult expanded = TryParseConfig(nested, "test.yaml");
  ASSERT_FALSE(expanded.ok());
  EXPECT_NE(AllMessages(expanded).find("entries through aliases (*name)"), std::string::npos);
  EXPECT_LE(expanded.errors.size(), 1002u);

  // Aliases within what the text holds are fine: 50 targets sharing one list of 100 ports.
  std::string shared = "targets:\n  - {host: 192.0.2.1, ports: &p [" + list.substr(0, 291) + "]}\n";
  for (int i = 2; i <= 50; ++i)
    shared += "  - {host: 192.0.2." + std::to_string(i) + ", ports: *p}\n";
  ParseResult ok = TryParseConfig(shared, "test.yaml");
  ASSERT_TRUE(ok.ok()) << AllMessages(ok);
  EXPECT_EQ(ok.config->targets.size(), 50u);
  EXPECT_EQ(ok.config->targets.back().ports.size(), 100u);
}

TEST(ConfigTest, ShowsTheFirstThousandErrorsAndCountsTheRest) {
  std::string yaml = "targets:\n";
  for (int i = 0; i < 1500; ++i) yaml += "  - {host: 192.0.2.1, port: x}\n";
  ParseResult result = TryParseConfig(yaml, "test.yaml");
  ASSERT_EQ(result.errors.size(), 1001u);
  EXPECT_EQ(result.errors[999].line(), 1001);
  EXPECT_EQ(result.errors.back().line(), 0);
  EXPECT_EQ(result.errors.back().message(), "500 more errors not shown");
}

TEST(ConfigTest, RefusesAFifoWithoutBlocking) {
  // open() on a FIFO with no writer would wait forever (and hold a reload with it).
  char dir[] = "/tmp/portpath-config-fifo-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/config.yaml";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  ParseResult result = TryLoadConfigFile(path);
  unlink(path.c_str());
  rmdir(dir);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].what(),
            path + ": cannot read: not a regular file (a FIFO, socket or device)");
}

TEST(ConfigTest, ShowsControlBytesInValuesEscaped) {
  ParseResult result = TryParseConfig("rate: \"\\e[2J\"\n" + std::string(kOneTarget), "test.yaml");
  ASSERT_FALSE(result.ok());
  std::string message = result.errors.front().what();
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
  EXPECT_NE(message.find("\\x1b[2J"), std::string::npos) << message;
}

TEST(ConfigTest, RequiresTargets) {
  ExpectError("rate: 5\n", 1, 1, "missing required key 'targets'");
  ExpectError("targets: []\n", 1, 10, "targets: must list at least one target");
  ExpectError("targets:\n", 1, 1, "targets: must list at least one target");
  ExpectError("targets: example.com\n", 1, 10,
              "targets: expected a list of targets, got 'example.com'");
  ExpectError("targets:\n  - example.com\n", 2, 5,
              "targets: each target must be a mapping with 'host' and 'ports', got 'example.com'");
}

// --- keys --------------------------------------------------------------------------------------

TEST(ConfigTest, SuggestsTheClosestKnownKeyForAnUnknownKey) {
  ExpectError(std::string("defaults:\n  timout: 2s\n") + kOneTarget, 2, 3,
              "unknown key 'timout' (did you mean 'timeout'?)");
  ExpectError("targets:\n  - host: a.example\n    port: 1\n    intreval: 5s\n", 4, 5,
              "unknown key 'intreval' (did you mean 'interval'?)");
  ExpectError(std::string("rates: 5\n") + kOneTarget, 1, 1,
              "unknown key 'rates' (did you mean 'rate'?)");
}

TEST(ConfigTest, ReportsAnUnknownKeyWithoutASuggestionWhenNothingIsClose) {
  ExpectError(std::string("colour: red\n") + kOneTarget, 1, 1, "unknown key 'colour'");
  ExpectError(std::string("defaults:\n  ttl: 5\n") + kOneTarget, 2, 3, "unknown key 'ttl'");
}

TEST(ConfigTest, SaysWhereAMisplacedKeyBelongs) {
  ExpectError(std::string("interval: 10s\n") + kOneTarget, 1, 1,
              "key 'interval' is not allowed at the top level; put it under 'defaults' or in a "
              "target");
  ExpectError(std::string("host: a.example\n") + kOneTarget, 1, 1,
              "key 'host' is not allowed at the top level; it belongs in a target under "
              "'targets'");
  ExpectError(std::string("defaults:\n  labels: {team: a}\n") + kOneTarget, 2, 3,
              "key 'labels' is not allowed under 'defaults'; it belongs in a target");
  ExpectError(std::string("defaults:\n  rate: 5\n") + kOneTarget, 2, 3,
              "key 'rate' is not allowed under 'defaults'; it belongs at the top level");
  ExpectError("targets:\n  - host: a.example\n    port: 1\n    source: 192.0.2.1\n", 4, 5,
              "key 'source' is not allowed in a target; it belongs at the top level");
}

TEST(ConfigTest, RejectsDuplicateKeys) {
  ExpectError(std::string("defaults:\n  timeout: 1s\n  timeout: 2s\n") + kOneTarget, 3, 3,
              "duplicate key 'timeout' (first at line 2)");
}

// --- values under defaults -----------------------------------------------------------------------

TEST(ConfigTest, RejectsBadSettingValues) {
  struct Case {
    std::string line;  // one line under `defaults:`
    int column;
    std::string message;
  };
  const Case cases[] = {
      {"interval: abc", 13, "interval: expected a duration like 30s or 500ms, got 'abc'"},
      {"interval: [1s]", 13, "interval: expected a duration like 30s or 500ms, got a list"},
      {"interval:", 3, "interval: expected a duration like 30s or 500ms, got nothing"},
      {"interval: -5s", 13, "interval: expected a duration like 30s or 500ms, got '-5s'"},
      {"interval: 48h", 13, "interval: must be between 1s and 24h, got 48h"},
      {"interval: 500ms", 13, "interval: must be between 1s and 24h, got 500ms"},
      {"interval: 0", 13, "interval: must be between 1s and 24h, got 0"},
      {"timeout: 5ms", 12, "timeout: must be between 10ms and 1m, got 5ms"},
      {"timeout: 2m", 12, "timeout: must be between 10ms and 1m, got 2m"},
      {"timeout: 0.5ms", 12, "timeout: expected a duration like 30s or 500ms, got '0.5ms'"},
      {"max_hops: many", 13, "max_hops: expected an integer, got 'many'"},
      {"max_hops: 3.5", 13, "max_hops: expected an integer, got '3.5'"},
      {"max_hops: 300", 13, "max_hops: must be between 1 and 255, got 300"},
      {"max_hops: 0", 13, "max_hops: must be between 1 and 255, got 0"},
      {"first_hop: 0", 14, "first_hop: must be between 1 and 255, got 0"},
      {"probes_per_hop: 11", 19, "probes_per_hop: must be between 1 and 10, got 11"},
      {"gap_limit: -1", 14, "gap_limit: must be between 1 and 255, got -1"},
      {"flows: 17", 10, "flows: must be between 1 and 16, got 17"},
      {"full_round_every: 0", 21, "full_round_every: must be between 1 and 64, got 0"},
      {"full_round_every: 65", 21, "full_round_every: must be between 1 and 64, got 65"},
      {"jitter: 60%", 11, "jitter: must be between 0% and 50%, got 60%"},
      {"jitter: lots", 11,
       "jitter: expected a percentage like 10% or a duration like 500ms, got 'lots'"},
      {"jitter: 30s", 11, "jitter: must be less than the interval (30s), got 30s"},
      {"family: v4", 11, "family: expected one of any, ipv4, ipv6, got 'v4'"},
      {"family: IPv4", 11, "family: expected one of any, ipv4, ipv6, got 'IPv4'"},
      {"hop_metrics: yes", 16, "hop_metrics: expected one of none, blocked, all, got 'yes'"},
  };
  for (const Case& c : cases) {
    ExpectError("defaults:\n  " + c.line + "\n" + kOneTarget, 2, c.column, c.message);
  }
}

TEST(ConfigTest, RejectsBadGlobalValues) {
  struct Case {
    std::string line;  // one top-level line
    int column;
    std::string message;
  };
  const Case cases[] = {
      {"rate: 0", 7, "rate: must be between 1 and 1000000, got 0"},
      {"rate: 2000000", 7, "rate: must be between 1 and 1000000, got 2000000"},
      {"rate: fast", 7, "rate: expected a number of packets per second, got 'fast'"},
      {"source: eth0", 9, "source: expected an IPv4 or IPv6 address, got 'eth0'"},
      {"source: [192.0.2.1]", 9, "source: expected an IPv4 or IPv6 address, got a list"},
      {"interface: a-very-long-interface0", 12,
       "interface: 'a-very-long-interface0' is longer than 15 characters, the Linux limit"},
      {"interface: eth0/1", 12,
       "interface: 'eth0/1' is not a valid interface name (it contains '/', ':' or a space)"},
      {"interface:", 1, "interface: expected an interface name like eth0, got nothing"},
      {"asn_db: ''", 9, "asn_db: expected a file path, got ''"},
      {"reverse_dns: yes", 14, "reverse_dns: expected true or false, got 'yes'"},
      {"defaults: 5", 11, "defaults: expected a mapping of settings, got '5'"},
  };
  for (const Case& c : cases) {
    ExpectError(c.line + "\n" + kOneTarget, 1, c.column, c.message);
  }
}

// --- settings that constrain each other ----------------------------------------------------------

TEST(ConfigTest, RejectsFirstHopBeyondMaxHopsInDefaults) {
  ExpectError(std::string("defaults:\n  max_hops: 5\n  first_hop: 10\n") + kOneTarget, 3, 14,
              "first_hop: must not exceed max_hops (5), got 10");
}

TEST(ConfigTest, BlamesTheTargetOverrideThatConflictsWithDefaults) {
  ExpectError(R"(defaults:
  first_hop: 10
targets:
  - host: a.example
    port: 1
    max_hops: 8
)",
              6, 15, "max_hops: must be at least first_hop (10), got 8");
  ExpectError(R"(defaults:
  jitter: 5s
targets:
  - host: a.example
    port: 1
    interval: 2s
)",
              6, 15, "interval: must be greater than the jitter (5s), got 2s");
}

TEST(ConfigTest, ReportsAConflictInDefaultsOnceNotPerTarget) {
  ParseResult result = TryParseConfig(R"(defaults:
  max_hops: 5
  first_hop: 10
targets:
  - {host: a.example, port: 1}
  - {host: b.example, port: 1}
  - {host: c.example, port: 1, max_hops: 12}
)",
                                      "test.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << AllMessages(result);
  EXPECT_EQ(result.errors[0].line(), 3);
}

// --- targets -------------------------------------------------------------------------------------

TEST(ConfigTest, RejectsUnparsableHosts) {
  struct Case {
    std::string host;
    std::string message;
  };
  const Case cases[] = {
      {"db_1.example.com",
       "host: 'db_1.example.com' is not a valid host name or IP address: label 'db_1' contains "
       "'_'"},
      {"'[2001:db8::1]'",
       "host: '[2001:db8::1]' has brackets: write IPv6 addresses without them, as "
       "2001:db8::1"},
      {"'example.com:443'", "host: 'example.com:443' contains a port: list ports under 'ports'"},
      {"1.2.3.999", "host: '1.2.3.999' is not a valid IPv4 address"},
      {"[a.example]", "host: expected a host name or an IP address, got a list"},
  };
  for (const Case& c : cases) {
    ExpectError("targets:\n  - host: " + c.host + "\n    port: 1\n", 2, 11, c.message);
  }
}

TEST(ConfigTest, RequiresHostAndPorts) {
  ExpectError("targets:\n  - port: 443\n", 2, 5, "target is missing required key 'host'");
  ExpectError("targets:\n  - host: a.example\n", 2, 5, "target is missing required key 'ports'");
  ExpectError("targets:\n  - host: a.example\n    port: 443\n    ports: [80]\n", 4, 5,
              "use either 'port' or 'ports' in a target, not both");
}

TEST(ConfigTest, RejectsBadPorts) {
  struct Case {
    std::string line;  // the ports line of a target
    int column;
    std::string message;
  };
  const Case cases[] = {
      {"ports: []", 12, "ports: must list at least one port"},
      {"ports: 443", 12,
       "ports: expected a list like [443], got '443'; use 'port: 443' for a single port"},
      {"ports: {a: 1}", 12, "ports: expected a list like [443], got a mapping"},
      {"ports: [0]", 13, "ports: must be between 1 and 65535, got 0"},
      {"ports: [80, 65536]", 17, "ports: must be between 1 and 65535, got 65536"},
      {"ports: [https]", 13, "ports: expected a port number, got 'https'"},
      {"ports: [22, 443, 22]", 22, "ports: port 22 is listed twice"},
      {"port: 70000", 11, "port: must be between 1 and 65535, got 70000"},
      {"port: [443]", 11,
       "port: expected a single port number, got a list; use 'ports:' for a list"},
  };
  for (const Case& c : cases) {
    ExpectError("targets:\n  - host: a.example\n    " + c.line + "\n", 3, c.column, c.message);
  }
}

TEST(ConfigTest, RejectsDuplicateTargetsCaseInsensitively) {
  ExpectError(R"(targets:
  - host: db.example.com
    ports: [5432, 22]
  - host: DB.Example.com
    ports: [22]
)",
              5, 13, "duplicate target: 'DB.Example.com' port 22 is already defined at line 2");
}

TEST(ConfigTest, RejectsDuplicateTargetsSpelledDifferently) {
  ExpectError(R"(targets:
  - {host: 2001:db8::1, port: 443}
  - {host: 2001:DB8:0::1, port: 443}
)",
              3, 33, "duplicate target: '2001:DB8:0::1' port 443 is already defined at line 2");
}

TEST(ConfigTest, RejectsBadLabels) {
  struct Case {
    std::string labels;  // the value of `labels:`
    int column;
    std::string message;
  };
  const Case cases[] = {
      {"{host: a}", 14, "labels: 'host' is a reserved label name; choose another name"},
      {"{le: a}", 14, "labels: 'le' is a reserved label name; choose another name"},
      {"{1team: a}", 14,
       "labels: invalid label name '1team': use letters, digits and '_', not starting with a "
       "digit"},
      {"{team-name: a}", 14,
       "labels: invalid label name 'team-name': use letters, digits and '_', not starting with a "
       "digit"},
      {"{__x: a}", 14,
       "labels: label names starting with '__' are reserved for Prometheus; got "
       "'__x'"},
      {"{team: [a]}", 20, "labels: value of 'team' must be a string, got a list"},
      {"{team: ''}", 20, "labels: value of 'team' must not be empty"},
      {"{team: a, team: b}", 23, "duplicate key 'team' (first at line 4)"},
      {"[team]", 13,
       "labels: expected a mapping of label names to values, like {team: storage}, got a list"},
  };
  for (const Case& c : cases) {
    ExpectError("targets:\n  - host: a.example\n    port: 1\n    labels: " + c.labels + "\n", 4,
                c.column, c.message);
  }
}

// --- several errors ------------------------------------------------------------------------------

TEST(ConfigTest, CollectsEveryErrorInFileOrder) {
  ParseResult result = TryLoadConfigFile(PORTPATH_CONFIG_FIXTURES "/invalid.yaml");
  ASSERT_FALSE(result.ok());
  std::vector<std::string> got;
  for (const ConfigError& e : result.errors) {
    got.push_back(std::to_string(e.line()) + ":" + std::to_string(e.column()) + ": " + e.message());
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "3:3: unknown key 'timout' (did you mean 'timeout'?)",
                     "4:13: max_hops: must be between 1 and 255, got 300",
                     "5:7: rate: expected a number of packets per second, got 'fast'",
                     // One message over two lines: no comma missing.
                     // NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
                     "7:11: host: 'db_1.example.com' is not a valid host name or IP address: "
                     "label 'db_1' contains '_'",
                     "8:19: ports: port 5432 is listed twice",
                 }));
}

TEST(ConfigTest, ThrowsTheFirstErrorByPosition) {
  // rate is checked before the targets, but its error is on a later line.
  const std::string yaml = "targets:\n  - {host: a.example, port: 0}\nrate: 0\n";
  try {
    ParseConfig(yaml, "x.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "x.yaml:2:29: port: must be between 1 and 65535, got 0");
  } catch (...) {
    FAIL() << "expected ConfigError";
  }
  EXPECT_EQ(TryParseConfig(yaml, "x.yaml").errors.size(), 2u);
}

TEST(ConfigTest, ConfigErrorIsARuntimeError) {
  const ConfigError e("f.yaml", 3, 7, "boom");
  const std::runtime_error& base = e;
  EXPECT_STREQ(base.what(), "f.yaml:3:7: boom");
  EXPECT_STREQ(ConfigError("f.yaml", 0, 0, "cannot read: x").what(), "f.yaml: cannot read: x");
}

TEST(ConfigTest, HopMetricsIsASettingOfDefaultsAndOfEachTarget) {
  Config c = ParseConfig(
      "defaults:\n  hop_metrics: blocked\n"
      "targets:\n"
      "  - host: 192.0.2.1\n    port: 443\n"
      "  - host: 192.0.2.2\n    port: 443\n    hop_metrics: all\n"
      "  - host: 192.0.2.3\n    port: 443\n    hop_metrics: none\n",
      "t.yaml");
  EXPECT_EQ(c.defaults.hop_metrics, HopMetrics::kBlocked);
  EXPECT_EQ(c.targets[0].settings.hop_metrics, HopMetrics::kBlocked);
  EXPECT_EQ(c.targets[1].settings.hop_metrics, HopMetrics::kAll);
  EXPECT_EQ(c.targets[2].settings.hop_metrics, HopMetrics::kNone);
  EXPECT_EQ(ParseConfig(kOneTarget, "t.yaml").defaults.hop_metrics, HopMetrics::kNone);
  EXPECT_EQ(ToString(HopMetrics::kNone), "none");
  EXPECT_EQ(ToString(HopMetrics::kBlocked), "blocked");
  EXPECT_EQ(ToString(HopMetrics::kAll), "all");
}

TEST(ConfigTest, FamilySpellings) {
  EXPECT_EQ(ToString(Family::kAny), "any");
  EXPECT_EQ(ToString(Family::kIpv4), "ipv4");
  EXPECT_EQ(ToString(Family::kIpv6), "ipv6");
}

}  // namespace
}  // namespace portpath::config
