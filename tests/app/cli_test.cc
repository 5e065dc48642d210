// The command lines of `portpath trace` and `portpath serve` as CLI11 parses
// them: both `--opt=value` and `--opt value`, the config's own value checks,
// exit codes instead of std::exit, and help text that says what the options do.
#include <gtest/gtest.h>

#include <sstream>

#include "app/serve_command.h"
#include "app/trace_command.h"

namespace portpath::app {
namespace {

using namespace std::chrono_literals;

template <class Options>
struct Parsed {
  std::optional<int> code;
  Options options;
  std::string out, err;
};

template <class Options, class ParseFn>
Parsed<Options> ParseWith(ParseFn parse, const std::vector<std::string>& args) {
  Parsed<Options> p;
  std::ostringstream out, err;
  p.code = parse(args, p.options, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

Parsed<TraceOptions> Trace(const std::vector<std::string>& args) {
  return ParseWith<TraceOptions>(ParseTraceOptions, args);
}

Parsed<exporter::ServeOptions> Serve(const std::vector<std::string>& args) {
  return ParseWith<exporter::ServeOptions>(ParseServeOptions, args);
}

TEST(TraceOptionsTest, AcceptsBothValueSpellings) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--max-hops=12", "--timeout=500ms", "--rate=2000", "--port=443", "--flows=4",
            "--source=192.0.2.1", "--first-hop=2", "--probes-per-hop=1", "--gap-limit=3",
            "--retries=0", "--interface=eth0", "--targets-file=t.txt", "--asn-db=asn.csv",
            "example.com"},
           {"-m",
            "12",
            "-w",
            "500ms",
            "-r",
            "2000",
            "-p",
            "443",
            "--flows",
            "4",
            "-s",
            "192.0.2.1",
            "-f",
            "2",
            "-q",
            "1",
            "--gap-limit",
            "3",
            "--retries",
            "0",
            "-i",
            "eth0",
            "--targets-file",
            "t.txt",
            "--asn-db",
            "asn.csv",
            "example.com"}}) {
    auto p = Trace(args);
    ASSERT_EQ(p.code, std::nullopt) << p.err;
    const TraceOptions& o = p.options;
    EXPECT_EQ(o.settings.max_hops, 12);
    EXPECT_EQ(o.settings.first_hop, 2);
    EXPECT_EQ(o.settings.probes_per_hop, 1);
    EXPECT_EQ(o.settings.gap_limit, 3);
    EXPECT_EQ(o.settings.max_retries, 0);
    EXPECT_EQ(o.settings.timeout, 500ms);
    EXPECT_EQ(o.rate, 2000);
    EXPECT_EQ(o.port, 443);
    EXPECT_EQ(o.flows, 4);
    EXPECT_EQ(o.source, packet::IpAddress::Parse("192.0.2.1"));
    EXPECT_EQ(o.interface, "eth0");
    EXPECT_EQ(o.targets_files, std::vector<std::string>{"t.txt"});
    EXPECT_EQ(o.asn_db, "asn.csv");
    EXPECT_EQ(o.targets, std::vector<std::string>{"example.com"});
  }
}

TEST(TraceOptionsTest, DefaultsAndFlags) {
  auto p = Trace({"a.example:1", "-n", "--json", "--no-ping", "-6", "b.example:2"});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_TRUE(p.options.numeric);
  EXPECT_TRUE(p.options.json);
  EXPECT_FALSE(p.options.ping);
  EXPECT_EQ(p.options.family, FamilyPreference::kIpv6);
  EXPECT_EQ(p.options.targets, (std::vector<std::string>{"a.example:1", "b.example:2"}));
  auto d = Trace({"a.example:1"});
  EXPECT_EQ(d.options.settings.max_hops, 30);
  EXPECT_EQ(d.options.settings.timeout, 1s);
  EXPECT_EQ(d.options.rate, 1000);
  EXPECT_EQ(d.options.flows, 1);
  EXPECT_TRUE(d.options.ping);
  EXPECT_FALSE(d.options.numeric);
}

TEST(TraceOptionsTest, RepeatedOptionsLastWinsAndFilesAccumulate) {
  auto p = Trace({"-m", "5", "-m", "7", "--targets-file", "a", "--targets-file=b", "x.example:1"});
  ASSERT_EQ(p.code, std::nullopt) << p.err;
  EXPECT_EQ(p.options.settings.max_hops, 7);
  EXPECT_EQ(p.options.targets_files, (std::vector<std::string>{"a", "b"}));
}

TEST(TraceOptionsTest, RefusesWhatTheConfigRefuses) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"-m", "256"}, "--max-hops: expects a whole number from 1 to 255, got '256'"},
      {{"--max-hops=0x10"}, "--max-hops: expects a whole number from 1 to 255, got '0x10'"},
      {{"-q", "+3"}, "--probes-per-hop: expects a whole number from 1 to 10, got '+3'"},
      {{"--flows", "17"}, "--flows: expects a whole number from 1 to 16, got '17'"},
      {{"-p", "0"}, "--port: expects a port number from 1 to 65535, got '0'"},
      {{"-p", "65536"}, "--port: expects a port number from 1 to 65535, got '65536'"},
      {{"-w", "5ms"}, "--timeout: expects a duration from 10ms to 1m, e.g. 500ms or 2s, got '5ms'"},
      {{"-w", "0.5ms"}, "--timeout: expects a duration"},
      {{"-r", "inf"}, "--rate: expects packets per second from 1 to 1000000, got 'inf'"},
      {{"-s", "1.2.3.400"}, "--source: expects an IPv4 or IPv6 address, got '1.2.3.400'"},
      {{"-s", "example.com"}, "--source: expects an IPv4 or IPv6 address, got 'example.com'"},
      {{"-s", "fe80::1%eth0"}, "--source: expects an IPv4 or IPv6 address"},
      {{"-4", "-6"}, "excludes"},
      {{"--bogus"}, "--bogus"},
      {{"-m"}, "--max-hops"},
      {{"-f", "10", "-m", "5"}, "--first-hop (10) is greater than --max-hops (5)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.push_back("example.com:80");
    auto p = Trace(args);
    EXPECT_EQ(p.code, kExitUsage) << c.args[0];
    EXPECT_NE(p.err.find(c.message), std::string::npos) << p.err;
    EXPECT_EQ(p.err.rfind("portpath trace: ", 0), 0u) << p.err;
  }
}

TEST(TraceOptionsTest, NeverEchoesControlBytesOfABadValue) {
  auto p = Trace({"-m", "\x1b[2J", "--\x1b]0;pwned\x07", "x.example:1"});
  EXPECT_EQ(p.code, kExitUsage);
  EXPECT_EQ(p.err.find('\x1b'), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("\\x1b[2J"), std::string::npos) << p.err;
}

TEST(TraceOptionsTest, HelpReturnsZeroAndDescribesEveryOption) {
  for (const char* flag : {"-h", "--help"}) {
    auto p = Trace({flag});
    EXPECT_EQ(p.code, 0);
    EXPECT_EQ(p.err, "");
    for (const char* option : {"--json",      "--targets-file",
                               "--port",      "--max-hops",
                               "--first-hop", "--probes-per-hop",
                               "--timeout",   "--gap-limit",
                               "--retries",   "--rate",
                               "-4",          "-6",
                               "--source",    "--interface",
                               "--asn-db",    "--flows",
                               "--no-ping",   "-n",
                               "HOST:PORT",   "exit status"})
      EXPECT_NE(p.out.find(option), std::string::npos) << option;
    // The -n help used to say both that names are looked up and that they are not.
    EXPECT_NE(p.out.find("do not look up hop names"), std::string::npos) << p.out;
    EXPECT_EQ(p.out.find("not looked up yet"), std::string::npos) << p.out;
  }
}

TEST(ServeOptionsTest, AcceptsEveryOptionInBothSpellings) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--config=c.yaml", "--web.listen-address=127.0.0.1:0", "--web.config.file=web.yml",
            "--user=nobody", "--web.ready-after=30s", "--log.level=debug"},
           {"--config.file", "c.yaml", "--web.listen-address", "127.0.0.1:0", "--web.config.file",
            "web.yml", "--user", "nobody", "--web.ready-after", "30s", "--log.level", "debug"}}) {
    auto p = Serve(args);
    ASSERT_EQ(p.code, std::nullopt) << p.err;
    EXPECT_EQ(p.options.config_file, "c.yaml");
    EXPECT_EQ(p.options.listen_address, "127.0.0.1:0");
    EXPECT_EQ(p.options.web_config_file, "web.yml");
    EXPECT_EQ(p.options.run_as_user, "nobody");
    EXPECT_EQ(p.options.ready_after, 30s);
    EXPECT_EQ(p.options.log_level, "debug");
  }
  auto d = Serve({"--config", "c.yaml"});
  ASSERT_EQ(d.code, std::nullopt) << d.err;
  EXPECT_EQ(d.options.listen_address, ":9750");
  EXPECT_EQ(d.options.web_config_file, "");
  EXPECT_EQ(d.options.run_as_user, "");
}

TEST(ServeOptionsTest, RefusesBadUsageWithExitCode2) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{}, "--config FILE is required"},
      {{"--web.listen-address", ":80"}, "--config FILE is required"},
      {{"--config", "c", "--log.level", "loud"}, "--log.level: expects trace, debug, info"},
      {{"--config", "c", "--web.ready-after", "soon"}, "--web.ready-after: expects a duration"},
      {{"--config", "c", "--web.ready-after", "inf"}, "--web.ready-after: expects a duration"},
      {{"--config", "c", "--user="}, "--user"},
      {{"--config", "c", "--user", ""}, "--user: expects a user name or uid"},
      {{"--config", "c", "--web.config.file"}, "--web.config.file"},
      {{"--config", "c", "stray"}, "stray"},
  };
  for (const Case& c : cases) {
    auto p = Serve(c.args);
    EXPECT_EQ(p.code, kExitUsage) << p.err;
    EXPECT_NE(p.err.find(c.message), std::string::npos) << p.err;
  }
  auto help = Serve({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* option : {"--config", "--config.file", "--web.listen-address",
                             "--web.config.file", "--user", "--web.ready-after", "--log.level"})
    EXPECT_NE(help.out.find(option), std::string::npos) << option;
}

}  // namespace
}  // namespace portpath::app
