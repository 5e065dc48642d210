#include "app/trace_command.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/result_output.h"
#include "app/target_spec.h"
#include "probe/asn/annotate.h"
#include "probe/diagnosis.h"
#include "probe/engine.h"
#include "probe/measurement.h"
#include "probe/io/errors.h"
#include "probe/io/pcap_source.h"
#include "probe/io/raw_sender.h"
#include "probe/io/reverse_dns.h"
#include "probe/io/system.h"

namespace portpath::app {
namespace {

struct TraceOptions {
  probe::TraceSettings settings;
  double rate = 1000;
  bool json = false;
  bool numeric = false;
  bool ping = true;
  int flows = 1;
  FamilyPreference family = FamilyPreference::kAny;
  std::optional<std::string> source;
  std::optional<std::string> interface;
  std::optional<std::uint16_t> port;
  std::vector<std::string> targets_files;
  std::optional<std::string> asn_db;
  std::vector<std::string> targets;
};

constexpr const char* kUsage = R"(usage: portpath trace [options] HOST:PORT...

Traces the TCP path to each HOST:PORT with SYN probes of increasing TTL (all TTLs
in parallel, many targets at once) and says where the port stops getting through.

options:
  --json                  one JSON object per target and line
  --targets-file FILE     read HOST:PORT targets from FILE, one per line ('#' comments)
  -p, --port PORT         port for targets given without one
  -m, --max-hops N        highest TTL to probe (default 30)
  -f, --first-hop N       lowest TTL to probe (default 1)
  -q, --probes-per-hop N  probes per TTL (default 3)
  -w, --timeout DUR       wait for each reply, e.g. 1s, 500ms (default 1s)
      --gap-limit N       silent hops after the last answer re-probed before concluding (default 5)
      --retries N         re-probe rounds of that silent stretch (default 3)
  -r, --rate PPS          global probe rate limit in packets per second (default 1000)
  -4, -6                  use only IPv4 / IPv6 addresses of host names
  -s, --source ADDR       source address of the probes
  -i, --interface IF      send and capture on interface IF
      --asn-db FILE       IP-to-ASN database (ip-location-db CSV files, a directory of
                          them, or a MaxMind DB) to name each hop's AS and organisation
      --flows N           trace N flows (source ports) per target, to find the paths of
                          per-flow load balancing (ECMP) and a block on one of them (1-16)
      --no-ping           skip the ping of the destination (the ping comparison); the echo
                          controls that confirm a blocked hop still go out
  -n                      numeric output: do not look up hop names (reverse DNS, which
                          otherwise runs in parallel and waits at most 2 s) (hop names are not looked up yet; accepted for
                          compatibility with traceroute)
  -h, --help              this text

exit status: 0 every port open, 1 some port not open, 2 bad usage or targets,
3 cannot probe (missing CAP_NET_RAW, capture failure).
)";

bool NeedValue(int i, int argc, const std::string& flag) {
  if (i + 1 < argc) return true;
  std::cerr << "portpath trace: " << flag << " needs a value\n";
  return false;
}

std::optional<int> IntArg(const std::string& flag, const std::string& value, int lo, int hi) {
  try {
    std::size_t used = 0;
    int v = std::stoi(value, &used);
    if (used == value.size() && v >= lo && v <= hi) return v;
  } catch (...) {
  }
  std::cerr << "portpath trace: " << flag << " expects a whole number from " << lo << " to " << hi
            << ", got '" << value << "'\n";
  return std::nullopt;
}

// Returns false (after printing why) on a bad command line.
bool ParseOptions(int argc, char** argv, TraceOptions& o) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (!NeedValue(i, argc, a)) return std::nullopt;
      return std::string(argv[++i]);
    };
    auto int_value = [&](int lo, int hi) -> std::optional<int> {
      auto v = value();
      if (!v) return std::nullopt;
      return IntArg(a, *v, lo, hi);
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-n") {
      o.numeric = true;
    } else if (a == "--flows") {
      auto v = int_value(1, 16);
      if (!v) return false;
      o.flows = *v;
    } else if (a == "--no-ping") {
      o.ping = false;
    } else if (a == "-4") {
      o.family = FamilyPreference::kIpv4;
    } else if (a == "-6") {
      o.family = FamilyPreference::kIpv6;
    } else if (a == "-m" || a == "--max-hops") {
      auto v = int_value(1, 255);
      if (!v) return false;
      o.settings.max_hops = *v;
    } else if (a == "-f" || a == "--first-hop") {
      auto v = int_value(1, 255);
      if (!v) return false;
      o.settings.first_hop = *v;
    } else if (a == "-q" || a == "--probes-per-hop") {
      auto v = int_value(1, 10);
      if (!v) return false;
      o.settings.probes_per_hop = *v;
    } else if (a == "--gap-limit") {
      auto v = int_value(1, 255);
      if (!v) return false;
      o.settings.gap_limit = *v;
    } else if (a == "--retries") {
      auto v = int_value(0, 10);
      if (!v) return false;
      o.settings.max_retries = *v;
    } else if (a == "-p" || a == "--port") {
      auto v = int_value(1, 65535);
      if (!v) return false;
      o.port = static_cast<std::uint16_t>(*v);
    } else if (a == "-w" || a == "--timeout") {
      auto v = value();
      if (!v) return false;
      auto seconds = ParseSeconds(*v);
      if (!seconds || *seconds < 0.01 || *seconds > 60) {
        std::cerr << "portpath trace: --timeout expects a duration from 10ms to 60s, e.g. 1s or "
                     "500ms, got '" << *v << "'\n";
        return false;
      }
      o.settings.timeout = std::chrono::duration_cast<probe::Duration>(std::chrono::duration<double>(*seconds));
    } else if (a == "-r" || a == "--rate") {
      auto v = value();
      if (!v) return false;
      char* end = nullptr;
      double rate = std::strtod(v->c_str(), &end);
      if (end == v->c_str() || *end != '\0' || rate < 1 || rate > 1e6) {
        std::cerr << "portpath trace: --rate expects packets per second from 1 to 1000000, got '"
                  << *v << "'\n";
        return false;
      }
      o.rate = rate;
    } else if (a == "-s" || a == "--source") {
      auto v = value();
      if (!v) return false;
      if (!packet::IpAddress::Parse(*v)) {
        std::cerr << "portpath trace: --source expects an IP address, got '" << *v << "'\n";
        return false;
      }
      o.source = *v;
    } else if (a == "-i" || a == "--interface") {
      auto v = value();
      if (!v) return false;
      o.interface = *v;
    } else if (a == "--asn-db") {
      auto v = value();
      if (!v) return false;
      o.asn_db = *v;
    } else if (a == "--targets-file") {
      auto v = value();
      if (!v) return false;
      o.targets_files.push_back(*v);
    } else if (!a.empty() && a[0] == '-' && a.size() > 1) {
      std::cerr << "portpath trace: unknown option '" << a << "' (see portpath trace --help)\n";
      return false;
    } else {
      o.targets.push_back(a);
    }
  }
  if (o.settings.first_hop > o.settings.max_hops) {
    std::cerr << "portpath trace: --first-hop (" << o.settings.first_hop
              << ") is greater than --max-hops (" << o.settings.max_hops << ")\n";
    return false;
  }
  return true;
}

}  // namespace

void PrintTraceUsage() { std::cout << kUsage; }

int RunTraceCommand(int argc, char** argv) {
  TraceOptions o;
  if (!ParseOptions(argc, argv, o)) return kExitUsage;

  std::vector<TargetSpec> specs;
  std::vector<std::string> errors;
  for (const std::string& t : o.targets) {
    std::string error;
    if (auto spec = ParseTarget(t, o.port, error)) specs.push_back(*spec);
    else errors.push_back(error);
  }
  for (const std::string& file : o.targets_files) {
    auto from_file = ReadTargetsFile(file, o.port, errors);
    specs.insert(specs.end(), from_file.begin(), from_file.end());
  }
  for (const std::string& e : errors) std::cerr << "portpath trace: " << e << "\n";
  if (!errors.empty()) return kExitUsage;
  if (specs.empty()) {
    std::cerr << "portpath trace: no targets; give HOST:PORT or --targets-file (see --help)\n";
    return kExitUsage;
  }

  std::unique_ptr<asn::AsnDatabase> asn_db;
  if (o.asn_db) {
    try {
      asn_db = asn::OpenAsnDatabase(*o.asn_db);
    } catch (const std::exception& e) {
      std::cerr << "portpath trace: --asn-db: " << e.what() << "\n";
      return kExitUsage;
    }
  }

  probe::EngineOptions engine_options;
  engine_options.rate = o.rate;
  std::vector<std::optional<probe::TraceResult>> results(specs.size());
  probe::MeasurementRounds rounds;
  try {
    io::RawSender sender(o.interface);
    io::PcapSource source(o.interface, engine_options.source_port_base,
                          static_cast<std::uint16_t>(engine_options.source_port_base +
                                                     engine_options.source_port_span - 1));
    io::SystemClock clock;
    probe::Engine engine(engine_options, sender, source, clock);
    std::optional<packet::IpAddress> fixed_source;
    if (o.source) fixed_source = packet::IpAddress::Parse(*o.source);

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
      if (fixed_source) {
        if (fixed_source->family() != address->family()) {
          results[i] = probe::MakeErrorResult(spec.text, spec.host, spec.port,
                                              "--source " + *o.source + " is not of the target's address family");
          results[i]->address = address;
          continue;
        }
        job.source = *fixed_source;
      } else {
        auto lookup = io::SourceAddressFor(*address, o.interface);
        if (!lookup.address) {
          results[i] = probe::MakeErrorResult(spec.text, spec.host, spec.port,
                                              "no route from this host to " + address->ToString() +
                                                  ": " + lookup.error);
          results[i]->address = address;
          continue;
        }
        job.source = *lookup.address;
      }
      if (!rounds.Start(engine, job, i, o.flows))
        results[i] = probe::MakeErrorResult(spec.text, spec.host, spec.port,
                                            "too many traces at once for one engine");
    }
    engine.RunUntilIdle();
    for (probe::FinishedTrace& f : engine.TakeFinished())
      if (auto done = rounds.Add(std::move(f))) results[done->round_id] = std::move(done->result);
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
    std::cerr << "portpath trace: " << e.what() << "\n";
    return kExitCannotProbe;
  } catch (const io::IoError& e) {
    std::cerr << "portpath trace: " << e.what() << "\n";
    return kExitCannotProbe;
  }

  bool all_open = true;
  for (const auto& r : results) {
    all_open &= r->outcome == probe::Outcome::kOpen;
    if (o.json) std::cout << ResultToJson(*r) << "\n";
    else std::cout << ResultToText(*r, o.settings) << (results.size() > 1 ? "\n" : "");
  }
  std::cout.flush();
  return all_open ? kExitAllOpen : kExitNotOpen;
}

}  // namespace portpath::app
