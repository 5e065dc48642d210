// The portpath configuration file: YAML in, plain structs out.
//
// `portpath serve --config FILE` reads one YAML document describing global settings, probe
// defaults and a list of targets (see config/example.yaml and config/README-config.md). This
// module turns it into the structs below and rejects anything it does not understand, with
// errors of the form `FILE:LINE:COLUMN: MESSAGE` that point at the offending node.
//
// The module is pure: it does no name resolution, opens no sockets and logs nothing. Host names
// are checked for syntax only; resolving them is the probe layer's job.
//
// Thread-safety: all functions are reentrant and may be called concurrently. The structs are
// plain values with no shared state; a loaded Config can be shared read-only between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace portpath::config {

/// Which address family to use when a target is a host name that resolves to both.
/// Has no effect on targets given as IP literals.
enum class Family {
  kAny,   ///< Use whatever the resolver returns first.
  kIpv4,  ///< Use only A records.
  kIpv6,  ///< Use only AAAA records.
};

/// The spelling of a Family in the config file: "any", "ipv4" or "ipv6".
std::string_view ToString(Family family);

/// Which targets export per-hop series (portpath_hop_info, portpath_hop_rtt_seconds,
/// portpath_hop_responded, portpath_hop_loss_ratio) and the other detail series in
/// `portpath serve`'s /metrics. /probe?target= always returns the full detail.
enum class HopMetrics {
  kNone,     ///< Only the default series (about 10 per target port).
  kBlocked,  ///< Full detail while the port is blocked (filtered, prohibited, ...).
  kAll,      ///< Full detail always.
};

/// The spelling of a HopMetrics in the config file: "none", "blocked" or "all".
std::string_view ToString(HopMetrics hop_metrics);

/// A place in the config file. Both fields are 1-based; 0 means "no position" (for example, an
/// error about the file as a whole).
struct Position {
  int line = 0;
  int column = 0;

  bool operator==(const Position&) const = default;
};

/// How one target is probed. Every field has a built-in default (the initialisers below) that the
/// `defaults:` section overrides, and which each target may override again.
struct ProbeSettings {
  /// Time between the starts of two traces of the same target. 1s..24h.
  std::chrono::milliseconds interval{30'000};
  /// How long to wait for a reply to one probe before counting it lost. 10ms..60s.
  std::chrono::milliseconds timeout{1'000};
  /// Maximum random delay added to each trace start, so that targets sharing an interval do not
  /// fire together. Always less than `interval`; a percentage in the file is resolved against
  /// the target's effective interval (10% of 30s = 3s).
  std::chrono::milliseconds jitter{3'000};
  /// The largest TTL (hop limit) probed. 1..255.
  int max_hops = 30;
  /// The TTL of the first probed hop, to skip hops known to be uninteresting. 1..max_hops.
  int first_hop = 1;
  /// Probes sent to each hop per trace. 1..10.
  int probes_per_hop = 3;
  /// Consecutive silent hops, after the last hop that answered, before the trace concludes that
  /// nothing further will answer. 1..255.
  int gap_limit = 5;
  /// Number of distinct flows (source ports) traced, to expose ECMP paths. 1..16.
  int flows = 1;
  /// Address family preference for host names.
  Family family = Family::kAny;
  /// Per-hop and other detail series in /metrics (serve only; trace ignores it).
  HopMetrics hop_metrics = HopMetrics::kNone;
  /// Serve only: once a verdict is confirmed, one round in this many traces the whole path; the
  /// others re-ask only what the verdict rests on (refresh rounds). 1 = every round is full.
  /// 1..64.
  int full_round_every = 4;

  bool operator==(const ProbeSettings&) const = default;
};

/// One entry of `targets:`: a host and the TCP ports to trace towards it.
struct Target {
  /// The host as written: an IPv4 literal, an IPv6 literal (no brackets) or an RFC 1123 host
  /// name. Names are not resolved here.
  std::string host;
  /// Destination TCP ports, in file order, without duplicates. Never empty.
  std::vector<uint16_t> ports;
  /// Extra Prometheus labels attached to this target's series. Names match
  /// `[a-zA-Z_][a-zA-Z0-9_]*`, never start with `__` and are not reserved (see
  /// kReservedLabels); values are non-empty.
  std::map<std::string, std::string> labels;
  /// The effective settings: built-in defaults, then `defaults:`, then this target's overrides.
  ProbeSettings settings;
  /// Where the target's entry starts in the file, for log messages.
  Position position;

  bool operator==(const Target&) const = default;
};

/// A whole, validated configuration file.
struct Config {
  /// The effective defaults: built-in values overridden by the `defaults:` section. Targets have
  /// already been merged with these; they are kept for display and for targets added later.
  ProbeSettings defaults;
  /// Global probe rate limit over all targets, in packets per second. 1..1000000.
  double rate = 1000;
  /// Source address for probes (an IPv4 or IPv6 literal), if set.
  std::optional<std::string> source;
  /// Network interface to send probes on, if set.
  std::optional<std::string> interface;
  /// Where `source` and `interface` stand in the file, for errors about them that only the host
  /// can tell (config/host_checks.h).
  Position source_position;
  Position interface_position;
  /// Path to an IP-to-ASN database, if set. Not checked for existence here.
  std::optional<std::string> asn_db;
  /// Look up hop names (reverse DNS) and export them as the hop_name label.
  bool reverse_dns = false;
  /// The targets, in file order. Never empty; no two share a host (compared case-insensitively,
  /// IP literals by value) and a port.
  std::vector<Target> targets;
  /// The file name the configuration was read from, as given to the loader.
  std::string file;

  bool operator==(const Config&) const = default;
};

/// Label names that portpath or Prometheus set on portpath's series; user labels may not use them.
inline constexpr std::string_view kReservedLabels[] = {
    "target",        "host",     "port",   "address", "ttl",     "outcome", "hop_address",
    "address_class", "asn",      "as_org", "flow",    "path",    "le",      "quantile",
    "job",           "instance", "reason", "type",    "version", "hop_name"};

/// A problem with the configuration, tied to a place in the file.
///
/// what() is exactly `FILE:LINE:COLUMN: MESSAGE`, or `FILE: MESSAGE` when there is no position
/// (line() == 0), the form editors and CI log parsers recognise.
class ConfigError : public std::runtime_error {
 public:
  /// `line` and `column` are 1-based; pass 0 for both when the error concerns the whole file.
  ConfigError(std::string file, int line, int column, std::string message);

  /// The file name, as given to the loader.
  const std::string& file() const { return file_; }
  /// 1-based line, or 0 when the error has no position.
  int line() const { return line_; }
  /// 1-based column, or 0 when the error has no position.
  int column() const { return column_; }
  /// The message without the location prefix.
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string message_;
};

/// The outcome of checking a configuration without throwing: either a config or the errors
/// found, so that a user fixing a file sees all of its problems at once.
struct ParseResult {
  /// Set if and only if `errors` is empty.
  std::optional<Config> config;
  /// The problems found, ordered by line and then column. A YAML syntax error stops parsing, so
  /// it is always reported alone. Past 1,000 errors the rest are only counted: the list then
  /// ends with one error without a position (line() == 0), `N more errors not shown`.
  std::vector<ConfigError> errors;

  /// True when the configuration is valid.
  bool ok() const { return config.has_value(); }
};

/// Parses and validates `yaml_text`. `file_name` is used only in error messages and
/// Config::file. Never throws ConfigError; other exceptions (std::bad_alloc) propagate.
ParseResult TryParseConfig(std::string_view yaml_text, const std::string& file_name);

/// Reads the file at `path` and parses it as TryParseConfig does. An unreadable file yields a
/// single error without a position: `PATH: cannot read: <strerror>`.
ParseResult TryLoadConfigFile(const std::string& path);

/// Like TryParseConfig, but returns the config or throws the first error (by position).
/// \throws ConfigError
Config ParseConfig(std::string_view yaml_text, const std::string& file_name);

/// Like TryLoadConfigFile, but returns the config or throws the first error (by position).
/// \throws ConfigError
Config LoadConfigFile(const std::string& path);

}  // namespace portpath::config
