#pragma once
/// The /probe endpoint of `portpath serve` (the blackbox_exporter pattern):
/// traces one target of the configuration now and answers with its metrics.
///
/// Only targets of the current configuration are ever traced: /probe is not a
/// way to make the exporter send packets anywhere a caller likes. The check is
/// made here (400 at once), again by ProberService::ProbeNow under its lock,
/// and once more when the loop starts the trace (a reload may have removed the
/// target meanwhile).
///
/// Thread-safe: called on the HTTP worker threads, several at once.

#include <atomic>
#include <chrono>
#include <string>
#include <utility>

#include "exporter/prober_service.h"

namespace portpath::exporter {

class ProbeEndpoint {
 public:
  /// At most `max_in_flight` traces at once (each holds an HTTP worker until it
  /// ends); a trace not done after `timeout` is a 504.
  explicit ProbeEndpoint(ProberService& service, int max_in_flight = 2,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60))
      : service_(service), max_in_flight_(max_in_flight), timeout_(timeout) {}

  /// The status and body for /probe?target=`target` (exposition text on 200).
  std::pair<int, std::string> operator()(const std::string& target);

 private:
  ProberService& service_;
  const int max_in_flight_;
  const std::chrono::milliseconds timeout_;
  std::atomic<int> in_flight_{0};
};

}  // namespace portpath::exporter
