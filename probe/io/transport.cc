#include "probe/io/transport.h"

#include <cstdlib>
#include <random>

#include "probe/io/connect_transport.h"
#include "probe/io/errors.h"
#include "probe/io/pcap_source.h"
#include "probe/io/raw_sender.h"
#include "probe/packet_transport.h"

namespace portpath::io {
namespace {

/// The raw sockets, opened before the PacketTransport that uses them (a base
/// class is built before the next one).
struct RawSockets {
  RawSockets(const TransportOptions& o)
      : sender(o.interface), source(o.interface, o.port_low, o.port_high) {}
  RawSender sender;
  PcapSource source;
};

class RawTransport : private RawSockets, public probe::PacketTransport {
 public:
  RawTransport(const TransportOptions& o, std::uint32_t key)
      : RawSockets(o), probe::PacketTransport(sender, source, key) {}
};

TransportOptions::Choice Chosen(const TransportOptions& options) {
  if (options.choice != TransportOptions::Choice::kAuto) return options.choice;
  const char* env = std::getenv("PORTPATH_PROBE_MODE");
  std::string value = env ? env : "";
  if (value.empty() || value == "auto") return TransportOptions::Choice::kAuto;
  if (value == "raw") return TransportOptions::Choice::kRaw;
  if (value == "connect") return TransportOptions::Choice::kConnect;
  throw IoError("PORTPATH_PROBE_MODE must be auto, raw or connect, not '" + value + "'");
}

std::string ConnectNotice(const ConnectTransport& t, const std::string& why) {
  std::string notice = why +
                       ": probing in connect mode: TCP connect() with a TTL per probe and "
                       "the kernel's error queue (IP_RECVERR) instead of raw SYNs; ";
  if (t.SupportsEcho(false) || t.SupportsEcho(true))
    notice += "ICMP echo through ping sockets.";
  else
    notice += "no ICMP echo probes (" + t.echo_unavailable_reason() +
              "), so a silent drop after a router that also answers others is reported "
              "unconfirmed rather than blamed on it.";
  notice +=
      " Not seen in this mode: MPLS labels, reply TTLs of SYN-ACK/RST (middlebox "
      "detection by TTL), per-flow (ECMP) paths.";
  return notice;
}

}  // namespace

TransportOptions TransportOptionsFor(const probe::EngineOptions& engine,
                                     const std::optional<std::string>& interface) {
  TransportOptions o;
  o.interface = interface;
  o.port_low = engine.source_port_base;
  o.port_high = static_cast<std::uint16_t>(engine.source_port_base + engine.source_port_span - 1);
  o.seed = engine.seed;
  return o;
}

OpenedTransport OpenProbeTransport(const TransportOptions& options, probe::TimeSource& clock) {
  TransportOptions::Choice choice = Chosen(options);
  OpenedTransport out;
  std::string why, raw_help;
  if (choice != TransportOptions::Choice::kConnect) {
    std::uint64_t seed = options.seed != 0 ? options.seed : std::random_device{}();
    try {
      out.transport = std::make_unique<RawTransport>(
          options, static_cast<std::uint32_t>(std::mt19937_64(seed)()));
      return out;
    } catch (const MissingCapability& e) {
      if (choice == TransportOptions::Choice::kRaw) throw;
      why = "raw sockets refused (no " + e.capability() + ")";
      raw_help = std::string(" For raw mode: ") + e.what();
    }
  } else {
    why = "connect mode requested";
  }
  auto connect = std::make_unique<ConnectTransport>(options.interface, clock);
  out.notice = ConnectNotice(*connect, why) + raw_help;
  out.transport = std::move(connect);
  return out;
}

}  // namespace portpath::io
