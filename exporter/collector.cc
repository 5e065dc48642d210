#include "exporter/collector.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "exporter/http_encoding.h"
#include "probe/address_class.h"
#include "probe/diagnosis.h"
#include "probe/packet/reply.h"

namespace portpath::exporter {
namespace {

using probe::Outcome;
using probe::TraceResult;

// --- text primitives ------------------------------------------------------------------------

void AppendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    // Shortest text that reads back as the same double: "1", "0.002", "1700000000.5".
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, end);
  }
}

void AppendInt(std::string& out, long long value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

struct Label {
  std::string_view name;
  std::string_view value;
};

/// One family: its HELP and TYPE lines come before its first series, and not
/// at all when it has none (a family without series is noise for readers).
class Family {
 public:
  Family(ExpositionWriter& out, std::string_view name, std::string_view help, bool counter)
      : out_(out), name_(name), help_(help), counter_(counter) {}

  /// name{labels,extra...} value
  void Line(std::string_view labels, std::initializer_list<Label> extra, double value) {
    std::string& b = out_.buffer();
    if (!started_) {
      started_ = true;
      b += "# HELP ";
      b += name_;
      b += ' ';
      // HELP text escapes only backslash and newline.
      for (char c : help_) {
        if (c == '\\')
          b += "\\\\";
        else if (c == '\n')
          b += "\\n";
        else
          b += c;
      }
      b += "\n# TYPE ";
      b += name_;
      b += counter_ ? " counter\n" : " gauge\n";
    }
    b += name_;
    if (!labels.empty() || extra.size() > 0) {
      b += '{';
      b += labels;
      bool comma = !labels.empty();
      for (const Label& l : extra) {
        if (comma) b += ',';
        comma = true;
        b += l.name;
        b += "=\"";
        AppendEscaped(b, l.value);
        b += '"';
      }
      b += '}';
    }
    b += ' ';
    AppendValue(b, value);
    b += '\n';
    out_.MaybeFlush();
  }
  void Line(std::string_view labels, double value) { Line(labels, {}, value); }

 private:
  ExpositionWriter& out_;
  std::string_view name_;
  std::string_view help_;
  bool counter_;
  bool started_ = false;
};

// --- what a target shows ---------------------------------------------------------------------

bool HasBlockedHop(const TraceResult& r) {
  // A blocked hop is only meaningful for the outcomes that name a place on the
  // path where the probe stopped; open/closed/error never carry one, but guard
  // anyway so an alert on portpath_blocked_hop_ttl cannot fire for an open port.
  return IsBlocked(r.outcome) && r.blocked_hop.has_value();
}

// ReplyType has no ToString in the probe module; the label values are ours.
constexpr const char* kReplyTypeNames[] = {"time_exceeded", "unreachable", "syn_ack", "rst",
                                           "echo_reply"};
static_assert(static_cast<int>(packet::ReplyType::kTimeExceeded) == 0 &&
                  static_cast<int>(packet::ReplyType::kUnreachable) == 1 &&
                  static_cast<int>(packet::ReplyType::kSynAck) == 2 &&
                  static_cast<int>(packet::ReplyType::kRst) == 3 &&
                  static_cast<int>(packet::ReplyType::kEchoReply) == 4,
              "kReplyTypeNames follows packet::ReplyType");

/// A target as one scrape sees it, worked out once and used by every family.
struct View {
  const TargetSnapshot* t = nullptr;
  const TraceResult* r = nullptr;  // null until the first trace
  std::string_view labels;
  bool full = false;
  std::string path_id;           // r's, or computed (hand-built snapshots)
  std::string address;           // r->address as text, empty without one
  std::string blocked_ttl;       // the blocked hop's TTL as text, empty without one
  std::vector<probe::Hop> hops;  // r's hops, unpacked: full detail only
};

/// Every per-target family, in exposition order.
enum class Fam {
  kTargetInfo,
  kSkipped,
  kDestinationReached,
  kPortOpen,
  kOutcome,
  kLastRespondingHopTtl,
  kBlockedHopInfo,
  kBlockedHopTtl,
  kPathInfo,
  kPathChanges,
  kLastPathChange,
  kPaths,
  kPathsBlocked,
  kIcmpReachable,
  kDivergenceHopTtl,
  kHopsToDestination,
  kBlockedHopConfirmed,
  kVerdictStale,
  kVerdictConfirmed,
  kDuration,
  kTimestamp,
  kAddressInfo,
  kHopResponded,
  kHopRtt,
  kHopLoss,
  kHopInfo,
};

struct FamilySpec {
  Fam id;
  const char* name;
  bool counter;
  const char* help;
};

constexpr FamilySpec kTargetFamilies[] = {
    {Fam::kTargetInfo, "portpath_target_info", false,
     "A target in the current configuration (1), whether or not it has been traced yet."},
    {Fam::kSkipped, "portpath_skipped_rounds_total", true,
     "Probe rounds skipped for this target because its previous trace was still running "
     "(present once a round was skipped, or with hop_metrics)."},
    {Fam::kDestinationReached, "portpath_destination_reached", false,
     "1 if the last trace got an answer from the target address itself (SYN-ACK, RST or an "
     "ICMP error sent by the target), else 0."},
    {Fam::kPortOpen, "portpath_port_open", false,
     "1 if the last trace found the TCP port open (SYN-ACK), else 0."},
    {Fam::kOutcome, "portpath_outcome", false,
     "Outcome of the last trace, as the outcome label of a series of value 1 (open: SYN-ACK; "
     "closed: RST; filtered: silence; prohibited: ICMP administratively prohibited; "
     "unreachable: other ICMP unreachable; reset_by_middlebox, answered_by_middlebox: a RST or "
     "SYN-ACK sent from closer than the destination; error: the trace could not run)."},
    {Fam::kLastRespondingHopTtl, "portpath_last_responding_hop_ttl", false,
     "TTL of the farthest hop that answered in the last trace; absent when none answered."},
    {Fam::kBlockedHopInfo, "portpath_blocked_hop_info", false,
     "The hop where the last trace stopped (filtered, prohibited or unreachable), with its "
     "address and address class; absent while the path is not blocked."},
    {Fam::kBlockedHopTtl, "portpath_blocked_hop_ttl", false,
     "TTL of the hop where the last trace stopped; absent while the path is not blocked."},
    {Fam::kPathInfo, "portpath_path_info", false,
     "1, naming the path of the last trace: a hash of the answering hops and where the path "
     "ends."},
    {Fam::kPathChanges, "portpath_path_changes_total", true,
     "Path changes seen between consecutive traces (a hop answering from another address, or "
     "the path ending at another TTL)."},
    {Fam::kLastPathChange, "portpath_path_last_change_timestamp_seconds", false,
     "When the last path change was seen (Unix time); absent before the first."},
    {Fam::kPaths, "portpath_paths", false,
     "Distinct paths found by the flows of the last round (per-flow load balancing); 1 with "
     "one flow."},
    {Fam::kPathsBlocked, "portpath_paths_blocked", false,
     "How many of those paths stop the port (filtered, prohibited, unreachable, middlebox)."},
    {Fam::kIcmpReachable, "portpath_icmp_reachable", false,
     "1 if the destination answered ICMP echo (ping) in the same round, else 0; absent "
     "when no ping trace ran."},
    {Fam::kDivergenceHopTtl, "portpath_divergence_hop_ttl", false,
     "The last hop the TCP and ICMP (ping) paths share before they part ways; absent "
     "when they do not."},
    {Fam::kHopsToDestination, "portpath_hops_to_destination", false,
     "Number of hops to the target in the last trace; absent when the target was not reached."},
    {Fam::kBlockedHopConfirmed, "portpath_blocked_hop_confirmed", false,
     "0 when the port gets no answer but the silence after the last responding hop could not be "
     "told apart from ICMP rate limiting (no blocked hop is named), else 1."},
    {Fam::kVerdictStale, "portpath_verdict_stale", false,
     "1 when the last round could not confirm the verdict and the shown outcome and blocked hop "
     "are the last confirmed ones, else 0."},
    {Fam::kVerdictConfirmed, "portpath_verdict_confirmed_timestamp_seconds", false,
     "When the shown outcome and blocked hop were last confirmed by a round's own evidence."},
    {Fam::kDuration, "portpath_trace_duration_seconds", false,
     "Wall-clock duration of the last trace in seconds."},
    {Fam::kTimestamp, "portpath_last_trace_timestamp_seconds", false,
     "Unix time in seconds at which the last trace of this target finished."},
    {Fam::kAddressInfo, "portpath_target_address_info", false,
     "The address the target's host name resolved to for the last trace."},
    {Fam::kHopResponded, "portpath_hop_responded", false,
     "1 if at least one probe at this TTL was answered, else 0."},
    {Fam::kHopRtt, "portpath_hop_rtt_seconds", false,
     "Mean round-trip time in seconds of the answered probes at this TTL; absent when none "
     "was answered."},
    {Fam::kHopLoss, "portpath_hop_loss_ratio", false,
     "Fraction of the probes sent at this TTL that got no answer (0 to 1)."},
    {Fam::kHopInfo, "portpath_hop_info", false,
     "The address that answered at this TTL and its address class; absent for silent hops."},
};

std::string_view ClassOf(const std::optional<packet::IpAddress>& address,
                         probe::AddressClass address_class) {
  // A hop that never answered for itself has no address to name.
  return address ? probe::ToString(address_class) : std::string_view("unknown");
}

void WriteHops(Fam id, const View& v, Family& f) {
  char ttl_buf[8];
  for (const probe::Hop& hop : v.hops) {
    auto [end, ec] = std::to_chars(ttl_buf, ttl_buf + sizeof ttl_buf, hop.ttl);
    std::string_view ttl(ttl_buf, static_cast<std::size_t>(end - ttl_buf));
    int answered = 0;
    double rtt_sum_ms = 0;
    for (const probe::ProbeSample& s : hop.probes) {
      if (!s.rtt_ms) continue;
      ++answered;
      rtt_sum_ms += *s.rtt_ms;
    }
    switch (id) {
      case Fam::kHopResponded:
        f.Line(v.labels, {{"ttl", ttl}}, answered > 0 ? 1 : 0);
        break;
      case Fam::kHopRtt:
        if (answered > 0) f.Line(v.labels, {{"ttl", ttl}}, rtt_sum_ms / answered / 1000.0);
        break;
      case Fam::kHopLoss:
        if (!hop.probes.empty()) {
          f.Line(v.labels, {{"ttl", ttl}},
                 static_cast<double>(hop.probes.size() - static_cast<std::size_t>(answered)) /
                     static_cast<double>(hop.probes.size()));
        }
        break;
      case Fam::kHopInfo:
        if (answered > 0 && hop.address) {
          std::string address = hop.address->ToString();
          std::string asn = hop.asn ? std::to_string(*hop.asn) : std::string();
          f.Line(v.labels,
                 {{"ttl", ttl},
                  {"hop_address", address},
                  {"address_class", probe::ToString(probe::ClassifyAddress(*hop.address))},
                  {"asn", asn},
                  {"as_org", hop.asn ? std::string_view(hop.as_org) : std::string_view()},
                  {"hop_name", hop.name}},
                 1);
        }
        break;
      default:
        break;
    }
  }
}

/// The series of family `id` for one target, if it has any.
void WriteTarget(Fam id, const View& v, Family& f) {
  const TargetSnapshot& t = *v.t;
  const TraceResult* r = v.r;
  const bool error = r && r->outcome == Outcome::kError;
  switch (id) {
    case Fam::kTargetInfo:
      f.Line(v.labels, 1);
      return;
    case Fam::kSkipped:
      if (v.full || t.skipped_rounds > 0) f.Line(v.labels, static_cast<double>(t.skipped_rounds));
      return;
    case Fam::kPathChanges:
      f.Line(v.labels, static_cast<double>(t.path_changes));
      return;
    case Fam::kLastPathChange:
      if (v.full && t.last_path_change > 0) f.Line(v.labels, t.last_path_change);
      return;
    default:
      break;
  }
  if (!r) return;
  switch (id) {
    case Fam::kDestinationReached:
      if (v.full) f.Line(v.labels, r->destination_reached ? 1 : 0);
      return;
    case Fam::kPortOpen:
      f.Line(v.labels, r->outcome == Outcome::kOpen ? 1 : 0);
      return;
    case Fam::kOutcome:
      // The current outcome only: one series per target (a state set would be
      // eight, seven of them 0). `portpath_outcome{outcome="filtered"} == 1`
      // works either way.
      f.Line(v.labels, {{"outcome", probe::ToString(r->outcome)}}, 1);
      return;
    case Fam::kLastRespondingHopTtl:
      if (r->last_responding_hop) f.Line(v.labels, r->last_responding_hop->ttl);
      return;
    case Fam::kBlockedHopInfo:
      if (HasBlockedHop(*r)) {
        const probe::HopRef& b = *r->blocked_hop;
        std::string address = b.address ? b.address->ToString() : std::string();
        std::string asn = b.asn ? std::to_string(*b.asn) : std::string();
        f.Line(v.labels,
               {{"ttl", v.blocked_ttl},
                {"hop_address", address},
                {"address_class", ClassOf(b.address, b.address_class)},
                {"asn", asn},
                {"as_org", b.asn ? std::string_view(b.as_org) : std::string_view()}},
               1);
      }
      return;
    case Fam::kBlockedHopTtl:
      if (HasBlockedHop(*r)) f.Line(v.labels, r->blocked_hop->ttl);
      return;
    case Fam::kPathInfo:
      f.Line(v.labels, {{"path", v.path_id}}, 1);
      return;
    case Fam::kPaths:
    case Fam::kPathsBlocked:
      // Only informative with several flows (ECMP); always in full detail.
      if (!error && (v.full || !r->paths.empty())) {
        auto passes = [](Outcome o) { return o == Outcome::kOpen || o == Outcome::kClosed; };
        std::size_t count = r->paths.empty() ? 1 : r->paths.size();
        std::size_t blocked = r->paths.empty() ? (passes(r->outcome) ? 0 : 1) : 0;
        for (const probe::PathSummary& p : r->paths) blocked += passes(p.outcome) ? 0 : 1;
        f.Line(v.labels, static_cast<double>(id == Fam::kPaths ? count : blocked));
      }
      return;
    case Fam::kIcmpReachable:
      if (r->icmp_reachable) f.Line(v.labels, *r->icmp_reachable ? 1 : 0);
      return;
    case Fam::kDivergenceHopTtl:
      if (r->divergence_hop) f.Line(v.labels, *r->divergence_hop);
      return;
    case Fam::kHopsToDestination:
      // When the destination answered, it is the terminal hop the trace
      // recorded as the last responder.
      if (v.full && r->destination_reached && r->last_responding_hop)
        f.Line(v.labels, r->last_responding_hop->ttl);
      return;
    case Fam::kBlockedHopConfirmed:
      // Only a port that gets no answer can be unconfirmed.
      if (!error && (v.full || r->outcome == Outcome::kFiltered))
        f.Line(v.labels, r->blocked_hop_confirmed ? 1 : 0);
      return;
    case Fam::kVerdictStale:
      // Only a blocked verdict is ever carried over (stale).
      if (!error && (v.full || r->outcome == Outcome::kFiltered ||
                     r->outcome == Outcome::kProhibited || r->outcome == Outcome::kUnreachable))
        f.Line(v.labels, r->stale ? 1 : 0);
      return;
    case Fam::kVerdictConfirmed:
      if (!error && r->confirmed_at > 0 && (v.full || r->stale)) f.Line(v.labels, r->confirmed_at);
      return;
    case Fam::kDuration:
      f.Line(v.labels, std::chrono::duration<double>(r->duration).count());
      return;
    case Fam::kTimestamp:
      f.Line(v.labels, r->finished_at);
      return;
    case Fam::kAddressInfo:
      // For an IP literal the address is the host label: only in full detail.
      if (!v.address.empty() && (v.full || v.address != t.host))
        f.Line(v.labels, {{"address", v.address}}, 1);
      return;
    case Fam::kHopResponded:
    case Fam::kHopRtt:
    case Fam::kHopLoss:
    case Fam::kHopInfo:
      if (v.full) WriteHops(id, v, f);
      return;
    default:
      return;
  }
}

void WriteTargets(const TargetList& targets, ExpositionWriter& out, bool force_full) {
  std::vector<View> views(targets.size());
  std::vector<std::string> made_labels;  // for targets without label_text
  made_labels.reserve(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const TargetSnapshot& t = targets[i];
    View& v = views[i];
    v.t = &t;
    v.r = t.last ? &*t.last : nullptr;
    if (t.label_text) {
      v.labels = *t.label_text;
    } else {
      made_labels.push_back(RenderLabelText(t.target, t.host, t.port, t.labels));
      v.labels = made_labels.back();
    }
    v.full = force_full || t.detail == Detail::kFull ||
             (t.detail == Detail::kBlocked && v.r && IsBlocked(v.r->outcome));
    if (v.r) {
      if (v.full) v.hops = t.last.hops();
      if (!v.r->path_id.empty()) {
        v.path_id = v.r->path_id;
      } else {
        probe::TraceResult with_hops = *v.r;  // hand-built snapshots only
        with_hops.hops = t.last.hops();
        v.path_id = probe::PathId(with_hops);
      }
      if (v.r->address) v.address = v.r->address->ToString();
      if (v.r->blocked_hop) v.blocked_ttl = std::to_string(v.r->blocked_hop->ttl);
    }
  }
  for (const FamilySpec& spec : kTargetFamilies) {
    Family f(out, spec.name, spec.help, spec.counter);
    for (const View& v : views) WriteTarget(spec.id, v, f);
  }
}

void WriteSelf(const Snapshot& s, ExpositionWriter& out) {
  {
    // The load the routers cannot answer shows here first: rounds that ended
    // unsure, or that only repeated an earlier confirmed verdict.
    Family f(out, "portpath_icmp_budget_exceeded_targets",
             "Target ports whose last full round could not confirm its verdict because routers "
             "rate limited their ICMP answers (unconfirmed, or stale after a full round). Above "
             "0, the configured load exceeds what the routers answer: fewer targets or a longer "
             "interval.",
             false);
    double n = 0;
    for (const TargetSnapshot& t : s.targets)
      if (t.last && BudgetExceeded(*t.last)) ++n;
    f.Line({}, n);
  }
  const probe::EngineStats& e = s.engine;
  {
    Family f(out, "portpath_probe_mode",
             "1 for the mode probes go out in: raw (raw sockets, CAP_NET_RAW) or connect "
             "(unprivileged TCP connect() probes), else 0.",
             false);
    for (probe::ProbeMode m : {probe::ProbeMode::kRaw, probe::ProbeMode::kConnect})
      f.Line({}, {{"mode", probe::ToString(m)}}, e.probe_mode == m ? 1 : 0);
  }
  Family(out, "portpath_probes_sent_total", "TCP SYN probes sent since start.", true)
      .Line({}, static_cast<double>(e.probes_sent));
  Family(out, "portpath_send_errors_total",
         "Probes that could not be sent (the kernel refused them) since start.", true)
      .Line({}, static_cast<double>(e.send_errors));
  if (s.rate_limit > 0) {
    Family(out, "portpath_rate_limit_probes_per_second",
           "The global probe rate limit in force (the config's rate; a reload applies a new one).",
           false)
        .Line({}, s.rate_limit);
  }
  {
    Family f(out, "portpath_replies_total",
             "Captured replies matched to one of our probes, by type.", true);
    for (std::size_t i = 0; i < e.replies_by_type.size(); ++i)
      f.Line({}, {{"type", kReplyTypeNames[i]}}, static_cast<double>(e.replies_by_type[i]));
  }
  {
    // Every reason, zeros included, so rate() works from the first scrape on
    // and a dashboard shows every row.
    Family f(out, "portpath_replies_ignored_total",
             "Captured packets not credited to any probe, by reason (malformed, unrelated, "
             "duplicate...).",
             true);
    for (std::size_t i = 0; i < e.dropped.size(); ++i) {
      f.Line({}, {{"reason", packet::ToString(static_cast<packet::DropReason>(i))}},
             static_cast<double>(e.dropped[i]));
    }
  }
  {
    Family f(out, "portpath_traces_total", "Traces completed since start, by outcome.", true);
    for (Outcome o : probe::kAllOutcomes) {
      f.Line({}, {{"outcome", probe::ToString(o)}},
             static_cast<double>(s.traces_by_outcome[static_cast<std::size_t>(o)]));
    }
  }
  Family(out, "portpath_config_last_reload_successful",
         "1 if the last configuration reload succeeded, else 0.", false)
      .Line({}, s.last_reload_successful ? 1 : 0);
  Family(out, "portpath_config_last_reload_success_timestamp_seconds",
         "Unix time in seconds of the last successful configuration load.", false)
      .Line({}, s.last_reload_success_timestamp);
  Family(out, "portpath_config_reloads_total", "Configuration reloads attempted since start.", true)
      .Line({}, static_cast<double>(s.reloads_total));
  Family(out, "portpath_config_reload_failures_total",
         "Configuration reloads that failed since start.", true)
      .Line({}, static_cast<double>(s.reload_failures_total));
}

/// Appends every piece to a string.
class TextWriter : public ExpositionWriter {
 public:
  TextWriter() : ExpositionWriter([this](std::string_view piece) { text_.append(piece); }) {}
  std::string Take() {
    Flush();
    return std::move(text_);
  }

 private:
  std::string text_;
};

/// Deflates every piece into a gzip stream (zlib, kGzipLevel) as it comes.
class GzipWriter : public ExpositionWriter {
 public:
  GzipWriter() : ExpositionWriter([this](std::string_view piece) { Deflate(piece, Z_NO_FLUSH); }) {
    // 15 + 16: the largest window, with a gzip header and trailer.
    if (deflateInit2(&stream_, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("gzip: deflateInit2 failed");
  }
  ~GzipWriter() { deflateEnd(&stream_); }
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  std::string Take() {
    Flush();
    Deflate({}, Z_FINISH);
    return std::move(gz_);
  }

 private:
  void Deflate(std::string_view in, int flush) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    stream_.avail_in = static_cast<uInt>(in.size());
    int rc;
    do {
      // Straight into the output string: no buffer on the HTTP worker's stack
      // (256 workers, each keeps what its stack ever touched).
      std::size_t used = gz_.size();
      std::size_t room = std::max<std::size_t>(in.size() / 4, std::size_t{16} * 1024);
      gz_.resize(used + room);
      stream_.next_out = reinterpret_cast<Bytef*>(gz_.data() + used);
      stream_.avail_out = static_cast<uInt>(room);
      rc = deflate(&stream_, flush);
      if (rc == Z_STREAM_ERROR) throw std::runtime_error("gzip: deflate failed");
      gz_.resize(used + room - stream_.avail_out);
    } while (stream_.avail_in > 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  z_stream stream_{};
  std::string gz_;
};

}  // namespace

ExpositionWriter::ExpositionWriter(std::function<void(std::string_view)> sink)
    : sink_(std::move(sink)) {
  buffer_.reserve(kPiece + 4096);
}

void ExpositionWriter::Flush() {
  if (buffer_.empty()) return;
  sink_(buffer_);
  buffer_.clear();
}

std::string RenderLabelText(const std::string& target, const std::string& host, std::uint16_t port,
                            const std::map<std::string, std::string>& labels) {
  // Our labels first, then the user's: a reader scanning a long series finds
  // the target in the same place on every line.
  std::string out = "target=\"";
  AppendEscaped(out, target);
  out += "\",host=\"";
  AppendEscaped(out, host);
  out += "\",port=\"";
  AppendInt(out, port);
  out += '"';
  for (const auto& [name, value] : labels) {
    out += ',';
    out += name;
    out += "=\"";
    AppendEscaped(out, value);
    out += '"';
  }
  out.shrink_to_fit();
  return out;
}

void WriteSnapshot(const Snapshot& snapshot, ExpositionWriter& out, bool force_full,
                   bool self_metrics) {
  WriteTargets(snapshot.targets, out, force_full);
  if (self_metrics) WriteSelf(snapshot, out);
}

std::string RenderSnapshotText(const Snapshot& snapshot) {
  TextWriter out;
  WriteSnapshot(snapshot, out);
  return out.Take();
}

std::string RenderTargetsText(const TargetList& targets) {
  TextWriter out;
  WriteTargets(targets, out, true);
  return out.Take();
}

void WriteCollectables(const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables,
                       ExpositionWriter& out) {
  out.buffer() += RenderMetrics(collectables);
  out.MaybeFlush();
}

MetricsEndpoint::MetricsEndpoint(std::function<SnapshotPtr()> snapshot,
                                 std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
    : snapshot_(std::move(snapshot)), collectables_(std::move(collectables)) {}

void MetricsEndpoint::Write(ExpositionWriter& out) const {
  WriteCollectables(collectables_, out);
  SnapshotPtr s = snapshot_ ? snapshot_() : nullptr;
  if (s) WriteSnapshot(*s, out);
}

std::string MetricsEndpoint::Text() const {
  TextWriter out;
  Write(out);
  return out.Take();
}

std::string MetricsEndpoint::Gzipped() const {
  GzipWriter out;
  Write(out);
  return out.Take();
}

HttpResponse MetricsEndpoint::operator()(const HttpRequest& request) const {
  HttpResponse r;
  r.content_type = std::string(kMetricsContentType);
  // Encoded here rather than by the server: the text is compressed while it
  // is written, so the scrape never holds it whole.
  r.compressible = false;
  r.headers = "Vary: Accept-Encoding\r\n";
  const char* accept = request.Header("Accept-Encoding");
  if (accept && AcceptsGzip(accept)) {
    r.body = Gzipped();
    r.headers += "Content-Encoding: gzip\r\n";
  } else {
    r.body = Text();
  }
  return r;
}

}  // namespace portpath::exporter
