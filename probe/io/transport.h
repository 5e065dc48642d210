#pragma once
/// Opens the probe transport both front ends (trace and serve) run on: raw
/// sockets and libpcap when the process may (CAP_NET_RAW), and otherwise, when
/// the kernel refuses the raw socket or the capture with EPERM, the unprivileged
/// connect() transport (Kubernetes' restricted Pod Security Standard). Not
/// thread-safe (call it at start-up).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "probe/engine.h"
#include "probe/seams.h"

namespace portpath::io {

struct TransportOptions {
  /// Send and capture on this interface only (SO_BINDTODEVICE, pcap device).
  std::optional<std::string> interface;
  /// Raw mode: the engine's source ports (EngineOptions::source_port_base and
  /// span), for the capture filter.
  std::uint16_t port_low = 0;
  std::uint16_t port_high = 0;
  /// Raw mode: seeds the probe-id key; 0 picks a random one.
  std::uint64_t seed = 0;
  enum class Choice { kAuto, kRaw, kConnect };
  /// kAuto: raw, falling back to connect when raw is refused for want of the
  /// capability. kRaw: no fallback (MissingCapability as before). kConnect:
  /// connect mode even with the capability. PORTPATH_PROBE_MODE=auto|raw|connect
  /// in the environment overrides kAuto.
  Choice choice = Choice::kAuto;
};

/// The options for an engine with these options (its source ports, its seed),
/// on `interface`; choice kAuto.
TransportOptions TransportOptionsFor(const probe::EngineOptions& engine,
                                     const std::optional<std::string>& interface);

struct OpenedTransport {
  std::unique_ptr<probe::ProbeTransport> transport;
  /// One or two sentences for a person (stderr, the log) when the transport is
  /// not the raw one: why, what connect mode can and cannot see, and how to get
  /// raw mode. Empty in raw mode.
  std::string notice;
};

/// Throws MissingCapability (choice kRaw only) or IoError (anything else that
/// stops probing, a bad PORTPATH_PROBE_MODE included).
OpenedTransport OpenProbeTransport(const TransportOptions& options, probe::TimeSource& clock);

}  // namespace portpath::io
