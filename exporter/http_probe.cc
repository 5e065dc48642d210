#include "exporter/http_probe.h"

#include "exporter/collector.h"

namespace portpath::exporter {

std::pair<int, std::string> ProbeEndpoint::operator()(const std::string& target) {
  if (!service_.IsConfigured(target)) {
    return {400, "target '" + target +
                     "' is not in the configuration; /probe traces configured targets only "
                     "(write it as in the target label, e.g. host:443 or [2001:db8::1]:443)\n"};
  }
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    return {429, std::to_string(max_in_flight_) +
                     " /probe traces are already running; try again when one has finished\n"};
  }
  auto result = service_.ProbeNow(target, timeout_);
  in_flight_.fetch_sub(1);
  if (auto* error = std::get_if<ProbeNowError>(&result)) {
    switch (*error) {
      case ProbeNowError::kNotConfigured:  // removed by a reload meanwhile
        return {400, "target '" + target + "' is no longer in the configuration\n"};
      case ProbeNowError::kTimedOut:
        return {504, "the trace did not finish in time\n"};
      case ProbeNowError::kStopped:
        return {503, "the exporter is stopping\n"};
    }
  }
  return {200, RenderTargetsText({std::get<TargetSnapshot>(result)})};
}

}  // namespace portpath::exporter
