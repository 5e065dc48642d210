#include "app/trace_command.h"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/result_output.h"
#include "app/target_spec.h"
#include "app/terminal_text.h"
#include "config/host_checks.h"
#include "config/scalars.h"
#include "probe/asn/annotate.h"
#include "probe/diagnosis.h"
#include "probe/engine.h"
#include "probe/io/errors.h"
#include "probe/io/privileges.h"
#include "probe/io/reverse_dns.h"
#include "probe/io/system.h"
#include "probe/io/transport.h"
#include "probe/measurement.h"

namespace portpath::app {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDescription =
    "portpath trace: traces the TCP path to each HOST:PORT with SYN probes of increasing TTL\n"
    "(many targets at once) and says where the port stops getting through.";

constexpr const char* kFooter =
    "Targets: host:port, 192.0.2.1:443, [2001:db8::1]:443; host names follow RFC 1123.\n"
    "exit status: 0 every port open, 1 some port not open (or not traceable), 2 bad usage or\n"
    "targets, 3 cannot probe (capture failure, or no CAP_NET_RAW with PORTPATH_PROBE_MODE=raw;\n"
    "by default portpath falls back to connect() probes without it).";

}  // namespace

std::optional<int> ParseTraceOptions(const std::vector<std::string>& args, TraceOptions& o,
                                     std::ostream& out, std::ostream& err) {
  CLI::App app(kDescription, "portpath trace");
  cli::Format(app);
  app.footer(kFooter);
  std::chrono::milliseconds timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(o.settings.timeout);

  app.add_flag("--json", o.json, "one JSON object per target and line");
  app.add_option("--targets-file", o.targets_files,
                 "read targets from FILE, one per line, '#' comments (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false)  // one file per --targets-file; what follows is a target
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cli::AddValue(
      app, "-p,--port", "a port number from 1 to 65535",
      [&o](const std::string& v) { return (o.port = config::ParsePort(v)).has_value(); },
      "port for targets given without one")
      ->type_name("PORT");
  cli::AddInt(app, "-m,--max-hops", o.settings.max_hops, 1, 255,
              "highest TTL to probe, 1-255 (default 30)");
  cli::AddInt(app, "-f,--first-hop", o.settings.first_hop, 1, 255,
              "lowest TTL to probe, up to --max-hops (default 1)");
  cli::AddInt(app, "-q,--probes-per-hop", o.settings.probes_per_hop, 1, 10,
              "probes per TTL, 1-10 (default 3)");
  cli::AddDuration(app, "-w,--timeout", timeout, 10ms, 60s,
                   "wait for each reply, 10ms-60s, e.g. 500ms, 2s (default 1s)");
  cli::AddInt(app, "--gap-limit", o.settings.gap_limit, 1, 255,
              "silent TTLs past the last answer re-probed before 'filtered' (default 5)");
  cli::AddInt(app, "--retries", o.settings.max_retries, 0, 10,
              "unanswered re-probe rounds of that stretch in a row, 0-10 (default 3)");
  cli::AddValue(
      app, "-r,--rate", "packets per second from 1 to 1000000",
      [&o](const std::string& v) {
        auto rate = config::ParseNumber(v);
        if (!rate || *rate < 1 || *rate > 1e6) return false;
        o.rate = *rate;
        return true;
      },
      "probes per second across all targets, 1-1000000 (default 1000)")
      ->type_name("PPS");
  auto* v4 = app.add_flag_callback(
      "-4", [&o] { o.family = FamilyPreference::kIpv4; }, "use only IPv4 addresses of host names");
  auto* v6 = app.add_flag_callback(
      "-6", [&o] { o.family = FamilyPreference::kIpv6; }, "use only IPv6 addresses of host names");
  v4->excludes(v6);
  cli::AddValue(
      app, "-s,--source", "an IPv4 or IPv6 address",
      [&o](const std::string& v) {
        // The config's check (config `source:`); that the address is this
        // host's is checked before anything is sent.
        if (!config::IsIpLiteral(v)) return false;
        o.source = packet::IpAddress::Parse(v);
        return true;
      },
      "source address, one of this host's (default: the kernel's choice)")
      ->type_name("ADDR");
  app.add_option("-i,--interface", o.interface, "send and capture on interface IF (default: any)")
      ->type_name("IF");
  app.add_option("--asn-db", o.asn_db,
                 "IP-to-ASN data naming each hop's AS: ip-location-db CSV files (comma-"
                 "separated, or their directory) or a MaxMind DB")
      ->type_name("FILE");
  cli::AddInt(app, "--flows", o.flows, 1, 16,
              "trace N flows (source ports) per target: the paths of ECMP load "
              "balancing and a block on one of them, 1-16 (default 1)");
  app.add_flag_callback(
      "--no-ping", [&o] { o.ping = false; },
      "skip the ping of the destination and its comparison (the echo "
      "controls that confirm a blocked hop still go out)");
  app.add_flag("-n", o.numeric,
               "numeric output: do not look up hop names (otherwise reverse DNS, in "
               "parallel, cached, at most 2 s)");
  app.add_option("targets", o.targets, "targets to trace")
      ->type_name("HOST:PORT")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

  if (auto code = cli::Parse(app, args, "trace", out, err)) return code;
  o.settings.timeout = std::chrono::duration_cast<probe::Duration>(timeout);
  if (o.settings.first_hop > o.settings.max_hops) {
    err << "portpath trace: --first-hop (" << o.settings.first_hop
        << ") is greater than --max-hops (" << o.settings.max_hops << ")\n";
    return kExitUsage;
  }
  return std::nullopt;
}

std::vector<TargetSpec> CollectTargets(const TraceOptions& o, std::vector<std::string>& errors) {
  std::vector<TargetSpec> specs;
  for (const std::string& t : o.targets) {
    std::string error;
    if (auto spec = ParseTarget(t, o.port, error))
      specs.push_back(*spec);
    else
      errors.push_back(error);
  }
  for (const std::string& file : o.targets_files) {
    auto from_file = ReadTargetsFile(file, o.port, errors);
    specs.insert(specs.end(), from_file.begin(), from_file.end());
  }
  return specs;
}

int RunTraceCommand(int argc, char** argv) {
  TraceOptions o;
  if (auto code =
          ParseTraceOptions(std::vector<std::string>(argv, argv + argc), o, std::cout, std::cerr))
    return *code;
  auto complain = [](const std::string& message) {
    std::cerr << "portpath trace: " << TerminalSafe(message) << "\n";
  };
  // Least privilege (probe/io/privileges.h): nothing but CAP_NET_RAW from here
  // on, and nothing at all once the probe transport is open.
  if (std::string error = io::NarrowPrivileges(false); !error.empty()) {
    complain(error);
    return kExitCannotProbe;
  }

  std::vector<std::string> errors;
  std::vector<TargetSpec> specs = CollectTargets(o, errors);
  for (const std::string& e : errors) complain(e);
  if (!errors.empty()) return kExitUsage;
  if (specs.empty()) {
    complain("no targets; give HOST:PORT or --targets-file (see --help)");
    return kExitUsage;
  }
  // Before any socket opens: a SYN from an address this host does not own is a
  // spoofed packet, and its answers go elsewhere (the trace would read "filtered").
  if (o.source) {
    if (std::string problem = config::CheckLocalSource(o.source->ToString()); !problem.empty()) {
      complain("--source: " + problem);
      return kExitUsage;
    }
  }
  if (o.interface) {
    if (std::string problem = config::CheckInterface(*o.interface); !problem.empty()) {
      complain("--interface: " + problem);
      return kExitUsage;
    }
  }

  std::unique_ptr<asn::AsnDatabase> asn_db;

  probe::EngineOptions engine_options;
  engine_options.rate = o.rate;
  std::vector<std::optional<probe::TraceResult>> results(specs.size());
  probe::MeasurementRounds rounds;
  try {
    io::SystemClock clock;
    // Raw sockets, or connect() probes where they are refused (no CAP_NET_RAW).
    io::OpenedTransport transport =
        io::OpenProbeTransport(io::TransportOptionsFor(engine_options, o.interface), clock);
    if (!transport.notice.empty()) complain(transport.notice);
    if (std::string error = io::DropPrivileges(""); !error.empty()) {
      complain(error);
      return kExitCannotProbe;
    }
    // The ASN data, names and everything after are handled without privilege.
    if (o.asn_db) {
      try {
        asn_db = asn::OpenAsnDatabase(*o.asn_db);
      } catch (const std::exception& e) {
        complain(std::string("--asn-db: ") + e.what());
        return kExitUsage;
      }
    }
    probe::Engine engine(engine_options, *transport.transport, clock);
    // Connect mode has no fixed source port per trace, hence no flows to tell apart.
    int flows = engine.probe_mode() == probe::ProbeMode::kRaw ? o.flows : 1;

    for (std::size_t i = 0; i < specs.size(); ++i) {
      const TargetSpec& spec = specs[i];
      std::string error;
      auto address = Resolve(spec.host, o.family, error);
      if (!address) {
        results[i] = probe::MakeErrorResult(spec.text, spec.host, spec.port, error);
        continue;
      }
      probe::TraceJob job;
      job.target = spec.text;
      job.host = spec.host;
      job.destination = *address;
      job.port = spec.port;
      job.settings = o.settings;
      job.settings.ping = o.ping;
      if (o.source) {
        if (o.source->family() != address->family()) {
          results[i] = probe::MakeErrorResult(
              spec.text, spec.host, spec.port,
              "--source " + o.source->ToString() + " is not of the target's address family");
          results[i]->address = address;
          continue;
        }
        job.source = *o.source;
      } else {
        auto lookup = io::SourceAddressFor(*address, o.interface);
        if (!lookup.address) {
          results[i] = probe::MakeErrorResult(
              spec.text, spec.host, spec.port,
              "no route from this host to " + address->ToString() + ": " + lookup.error);
          results[i]->address = address;
          continue;
        }
        job.source = *lookup.address;
      }
      // Past the engine's slots (thousands of targets times --flows), rounds
      // wait for slots to free up instead of failing.
      rounds.Queue(job, i, flows);
    }
    rounds.RunUntilDone(engine, [&](probe::CompletedRound done) {
      results[done.round_id] = std::move(done.result);
    });
    for (std::size_t i = 0; i < specs.size(); ++i)
      if (!results[i])  // never expected: a result with the target named, not a blank line
        results[i] = probe::MakeErrorResult(specs[i].text, specs[i].host, specs[i].port,
                                            "the trace ended without a result");
    for (auto& r : results) r->probe_mode = engine.probe_mode();
    if (asn_db)
      for (auto& r : results) asn::AnnotateRound(*r, *asn_db);
    if (!o.numeric) {
      // Like traceroute: names for every hop, looked up in parallel, cached,
      // and never waited for longer than the resolver's timeout.
      std::vector<packet::IpAddress> addresses;
      for (auto& r : results)
        for (const probe::Hop& h : r->hops)
          if (h.address) addresses.push_back(*h.address);
      io::ReverseDns rdns;
      auto names = rdns.Resolve(addresses);
      std::size_t k = 0;
      for (auto& r : results)
        for (probe::Hop& h : r->hops)
          if (h.address && names[k++]) h.name = *names[k - 1];
    }
  } catch (const io::MissingCapability& e) {
    complain(e.what());
    return kExitCannotProbe;
  } catch (const io::IoError& e) {
    complain(e.what());
    return kExitCannotProbe;
  }

  bool all_open = true;
  for (const auto& r : results) {
    all_open &= r->outcome == probe::Outcome::kOpen;
    if (o.json) std::cout << ResultToJson(*r) << "\n";
    // Hop names come from whoever runs the reverse zone: nothing of them may
    // drive the terminal.
    else
      std::cout << TerminalSafe(ResultToText(*r, o.settings)) << (results.size() > 1 ? "\n" : "");
  }
  std::cout.flush();
  return all_open ? kExitAllOpen : kExitNotOpen;
}

}  // namespace portpath::app
