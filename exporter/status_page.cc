#include "exporter/status_page.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <set>
#include <string_view>
#include <vector>

#include "probe/address_class.h"
#include "probe/diagnosis.h"
#include "probe/verdict.h"

namespace portpath::exporter {
namespace {

using probe::Outcome;

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control bytes (from a hop name or an AS organisation) are never passed on.
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') ? '?' : c;
    }
  }
  return out;
}

std::string Lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

std::string UtcTime(double unix_seconds) {
  if (unix_seconds <= 0) return "never";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string Age(double seconds) {
  if (seconds < 0) seconds = 0;
  long s = std::lround(seconds);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string Fixed(double value, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string AsText(const std::optional<std::uint32_t>& asn, const std::string& org) {
  if (!asn) return "";
  return "AS" + std::to_string(*asn) + (org.empty() ? "" : " " + org);
}

/// "198.51.100.18 (documentation, AS64500 Example Transit, Inc.)"
std::string HopText(const probe::HopRef& hop) {
  if (!hop.address) return "a middlebox that never answers for itself";
  std::string as = AsText(hop.asn, hop.as_org);
  return hop.address->ToString() + " (" + std::string(probe::ToString(hop.address_class)) +
         (as.empty() ? "" : ", " + as) + ")";
}

std::string StateOf(const probe::TraceResult& r) {
  std::string state(probe::ToString(r.outcome));
  if (r.blocked_hop) {
    state += "@" + std::to_string(r.blocked_hop->ttl);
    if (r.blocked_hop->address) state += " " + r.blocked_hop->address->ToString();
  }
  return state;
}

std::string ClientLabels(const TargetSnapshot& t) {
  std::string out;
  for (const auto& [name, value] : t.labels) {
    if (!out.empty()) out += ", ";
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

int SortRank(const TargetSnapshot& t) {
  if (!t.last) return 2;
  if (IsBlocked(t.last->outcome)) return 0;
  return t.last->outcome == Outcome::kError ? 1 : 3;
}

std::optional<double> MeanRttMs(const probe::Hop& hop) {
  double sum = 0;
  int n = 0;
  for (const probe::ProbeSample& s : hop.probes) {
    if (!s.rtt_ms) continue;
    sum += *s.rtt_ms;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

/// The path as a row of nodes: this exporter, each TTL of the latest trace
/// (silent ones dashed), then the destination; the blocked hop in red, with
/// the break drawn after it.
std::string PathSvg(const TargetSnapshot& t, const probe::TraceResult& r) {
  std::vector<const probe::Hop*> hops;
  for (const probe::Hop& h : r.hops) hops.push_back(&h);
  std::sort(hops.begin(), hops.end(), [](auto* a, auto* b) { return a->ttl < b->ttl; });
  const int step = 132, y = 34;
  const int count = static_cast<int>(hops.size()) + 2;
  const int width = count * step;
  const int blocked_ttl = r.blocked_hop ? r.blocked_hop->ttl : 0;
  const bool blocked = IsBlocked(r.outcome);
  std::string svg = "<svg class=\"path\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(width) + "\" height=\"104\" role=\"img\" aria-label=\"path to " +
                    Escape(t.target) + "\">";
  auto x_of = [&](int i) { return step / 2 + i * step; };
  // Links first, under the nodes.
  bool broken = false;
  for (int i = 0; i + 1 < count; ++i) {
    const bool after_block = blocked && i >= 1 && i <= static_cast<int>(hops.size()) &&
                             hops[static_cast<std::size_t>(i - 1)]->ttl == blocked_ttl;
    if (after_block) broken = true;
    std::string cls = broken ? "link cut" : "link";
    svg += "<line class=\"" + cls + "\" x1=\"" + std::to_string(x_of(i) + 15) + "\" y1=\"" +
           std::to_string(y) + "\" x2=\"" + std::to_string(x_of(i + 1) - 15) + "\" y2=\"" +
           std::to_string(y) + "\"/>";
    if (after_block) {
      int mx = (x_of(i) + x_of(i + 1)) / 2;
      svg += "<g class=\"stop\"><title>the port stops here</title><path d=\"M" +
             std::to_string(mx - 8) + " " + std::to_string(y - 8) + " l16 16 M" +
             std::to_string(mx + 8) + " " + std::to_string(y - 8) + " l-16 16\"/></g>";
    }
  }
  auto label = [&](int x, int row, const std::string& text, const std::string& cls = "") {
    std::string shown = text.size() > 20 ? text.substr(0, 19) + "\xe2\x80\xa6" : text;
    svg += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y + 30 + row * 14) + "\"" +
           (cls.empty() ? "" : " class=\"" + cls + "\"") + ">" + Escape(shown) + "</text>";
  };
  svg += "<g class=\"node src\"><title>this exporter</title><circle cx=\"" +
         std::to_string(x_of(0)) + "\" cy=\"" + std::to_string(y) + "\" r=\"14\"/></g>";
  label(x_of(0), 0, "portpath");
  for (std::size_t i = 0; i < hops.size(); ++i) {
    const probe::Hop& h = *hops[i];
    const int x = x_of(static_cast<int>(i) + 1);
    const bool is_blocked = blocked && h.ttl == blocked_ttl;
    std::string cls =
        std::string("hop") + (h.address ? "" : " silent") + (is_blocked ? " blocked" : "");
    std::string as = AsText(h.asn, h.as_org);
    std::string title = "hop " + std::to_string(h.ttl) + ": " +
                        (h.address ? h.address->ToString() : std::string("no answer"));
    if (h.address)
      title += " (" + std::string(probe::ToString(probe::ClassifyAddress(*h.address))) + ")";
    if (!h.name.empty()) title += " " + h.name;
    if (!as.empty()) title += ", " + as;
    if (is_blocked) title += "; the port stops here";
    svg += "<g class=\"" + cls + "\" data-ttl=\"" + std::to_string(h.ttl) + "\"><title>" +
           Escape(title) + "</title><circle cx=\"" + std::to_string(x) + "\" cy=\"" +
           std::to_string(y) + "\" r=\"14\"/><text x=\"" + std::to_string(x) + "\" y=\"" +
           std::to_string(y + 4) + "\" class=\"ttl\">" + std::to_string(h.ttl) + "</text></g>";
    label(x, 0, h.address ? h.address->ToString() : "*", is_blocked ? "b" : "");
    if (!as.empty()) label(x, 1, "AS" + std::to_string(*h.asn), is_blocked ? "b" : "");
    if (!h.as_org.empty()) label(x, 2, h.as_org, is_blocked ? "b" : "");
  }
  const int xd = x_of(count - 1);
  std::string dcls = r.destination_reached ? "node dst reached" : "node dst";
  svg += "<g class=\"" + dcls + "\"><title>" + Escape(t.target) + ": " +
         std::string(probe::ToString(r.outcome)) + "</title><rect x=\"" + std::to_string(xd - 14) +
         "\" y=\"" + std::to_string(y - 14) + "\" width=\"28\" height=\"28\" rx=\"4\"/></g>";
  label(xd, 0, r.address ? r.address->ToString() : t.host);
  label(xd, 1, "port " + std::to_string(t.port) + ": " + std::string(probe::ToString(r.outcome)));
  svg += "</svg>";
  return svg;
}

std::string TimelineSvg(const TargetHistory& h) {
  if (h.rounds.empty()) return "";
  std::string svg = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(h.rounds.size() * 16) +
                    "\" height=\"16\" role=\"img\" "
                    "aria-label=\"recent rounds\">";
  int i = 0;
  for (const RoundMark& m : h.rounds) {
    std::string title = UtcTime(m.finished_at) + ": " + std::string(probe::ToString(m.outcome));
    if (m.blocked_ttl) title += " after hop " + std::to_string(m.blocked_ttl);
    svg += "<rect class=\"o-" + std::string(probe::ToString(m.outcome)) + "\" x=\"" +
           std::to_string(i++ * 16) + "\" y=\"1\" width=\"14\" height=\"14\" rx=\"2\"><title>" +
           Escape(title) + "</title></rect>";
  }
  return svg + "</svg>";
}

constexpr const char* kStyle = R"CSS(
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{padding:10px 16px;background:#263238;color:#fff;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header a{color:#b3e5fc}
#summary{padding:8px 16px;display:flex;gap:8px;flex-wrap:wrap}
#controls{padding:0 16px 8px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
#filter{width:28em;padding:4px}
#list{padding:0 16px 24px}footer{padding:0 16px 16px}
details.t{background:#fff;border:1px solid #ddd;border-radius:4px;margin:3px 0}
details.t>summary{padding:4px 8px;cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.badge{display:inline-block;min-width:7em;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:1px 4px}
.o-open{background:#2e7d32;fill:#2e7d32}.o-closed{background:#1565c0;fill:#1565c0}
.o-filtered,.o-prohibited{background:#c62828;fill:#c62828}.o-unreachable{background:#ef6c00;fill:#ef6c00}
.o-reset_by_middlebox,.o-answered_by_middlebox{background:#6a1b9a;fill:#6a1b9a}
.o-error,.o-none{background:#757575;fill:#757575}
.blocked-hop{color:#b71c1c;font-weight:600}.lbl{color:#666;font-size:12px}.age{color:#666;font-size:12px}
.detail{padding:6px 12px 12px;overflow-x:auto}
svg.path line.link{stroke:#90a4ae;stroke-width:3}svg.path line.cut{stroke:#e0e0e0;stroke-dasharray:4 4}
svg.path .stop path{stroke:#c62828;stroke-width:4}
svg.path circle{fill:#eceff1;stroke:#607d8b;stroke-width:2}
svg.path .silent circle{fill:#fff;stroke-dasharray:3 3}
svg.path .blocked circle{fill:#ffcdd2;stroke:#c62828;stroke-width:4}
svg.path .src circle{fill:#b3e5fc}svg.path .dst rect{fill:#eee;stroke:#9e9e9e;stroke-width:2}
svg.path .dst.reached rect{fill:#c8e6c9;stroke:#2e7d32}
svg.path text{font-size:11px;text-anchor:middle;fill:#333}svg.path text.ttl{font-weight:600}
svg.path text.b{fill:#b71c1c;font-weight:600}
table.hops{border-collapse:collapse;margin:6px 0;font-size:13px}
table.hops td,table.hops th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left}
table.hops tr.blocked td{background:#ffebee;font-weight:600}
textarea.ticket{width:100%;max-width:60em;height:14em;font:12px monospace}
.verdict{margin:6px 0}
)CSS";

constexpr const char* kScript = R"JS(
(function () {
  var list = function () { return document.getElementById('list'); };
  var filter = document.getElementById('filter'), only = document.getElementById('blocked-only');
  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0, all = 0;
    for (var d = list().firstElementChild; d; d = d.nextElementSibling) {
      all++;
      var k = d.getAttribute('data-k');
      var ok = (!only.checked || d.getAttribute('data-blocked') === '1') &&
               words.every(function (w) { return k.indexOf(w) >= 0; });
      d.hidden = !ok;
      if (ok) shown++;
    }
    document.getElementById('shown').textContent = shown + ' of ' + all + ' targets shown';
  }
  function load(d) {
    if (d.getAttribute('data-loaded')) return;
    d.setAttribute('data-loaded', '1');
    var box = d.querySelector('.detail');
    fetch('?target=' + encodeURIComponent(d.getAttribute('data-target')))
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (t) { box.innerHTML = t; })
      .catch(function (e) { box.textContent = 'could not load: ' + e; d.removeAttribute('data-loaded'); });
  }
  document.addEventListener('toggle', function (e) {
    if (e.target.tagName === 'DETAILS' && e.target.open) load(e.target);
  }, true);
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button.copy');
    if (!b) return;
    var ta = b.parentElement.querySelector('textarea');
    ta.select();
    var done = function () { b.textContent = 'copied'; setTimeout(function () { b.textContent = 'copy'; }, 1500); };
    if (navigator.clipboard) navigator.clipboard.writeText(ta.value).then(done, function () { document.execCommand('copy'); done(); });
    else { document.execCommand('copy'); done(); }
  });
  // The filter lives in the address too (#q=...): a link shares a view.
  var m = /[#&]q=([^&]*)/.exec(location.hash);
  if (m) filter.value = decodeURIComponent(m[1]);
  filter.addEventListener('input', function () {
    history.replaceState(null, '', filter.value ? '#q=' + encodeURIComponent(filter.value) : location.pathname);
    apply();
  });
  only.addEventListener('change', apply);
  function refresh() {
    var a = document.activeElement;
    if (a && a.tagName === 'TEXTAREA') return;
    var state = {};
    list().querySelectorAll('details.t').forEach(function (d) { state[d.getAttribute('data-target')] = d.open; });
    fetch(location.pathname).then(function (r) { return r.text(); }).then(function (t) {
      var doc = new DOMParser().parseFromString(t, 'text/html');
      ['summary', 'list', 'updated'].forEach(function (id) {
        document.getElementById(id).replaceWith(doc.getElementById(id));
      });
      list().querySelectorAll('details.t').forEach(function (d) {
        var was = state[d.getAttribute('data-target')];
        if (was !== undefined && was !== d.open) d.open = was;
      });
      apply();
    }).catch(function () {});
  }
  setInterval(refresh, 1000 * Number(list().getAttribute('data-refresh')));
  apply();
})();
)JS";

}  // namespace

StatusPage::StatusPage(StatusPageOptions options) : options_(std::move(options)) {}

void StatusPage::Observe(const SnapshotPtr& snapshot_ptr) {
  if (!snapshot_ptr) return;
  const Snapshot& snapshot = *snapshot_ptr;
  std::lock_guard lock(mutex_);
  // Updated in place, and only for the targets that changed: rebuilding the
  // map every second cost 3% of a core and churned 15 MB at 10,000 targets,
  // and looking every target up every second still cost 5% of the exporter's
  // CPU there (perf, issue 9).
  const bool same_targets = observed_ && observed_->targets.size() == snapshot.targets.size();
  for (std::size_t i = 0; i < snapshot.targets.size(); ++i) {
    const TargetSnapshot& t = snapshot.targets[i];
    if (same_targets && &observed_->targets[i] == &t) continue;
    TargetHistory& h = history_[t.target];
    if (t.last && (h.rounds.empty() || t.last->finished_at > h.rounds.back().finished_at)) {
      if (h.rounds.empty()) h.rounds.reserve(options_.history + 1);
      h.rounds.push_back({t.last->finished_at, t.last->outcome,
                          t.last->blocked_hop ? t.last->blocked_hop->ttl : 0});
      if (h.rounds.size() > options_.history)
        h.rounds.erase(
            h.rounds.begin(),
            h.rounds.begin() + static_cast<std::ptrdiff_t>(h.rounds.size() - options_.history));
      std::string state = StateOf(*t.last);
      if (state != h.state) {
        h.state = std::move(state);
        h.since = t.last->finished_at;
      }
    }
  }
  // Targets no longer configured (only after a reload that removed some).
  if (history_.size() > snapshot.targets.size()) {
    std::set<std::string_view> keep;
    for (const TargetSnapshot& t : snapshot.targets) keep.insert(t.target);
    std::erase_if(history_, [&](const auto& entry) { return !keep.count(entry.first); });
  }
  observed_ = snapshot_ptr;
}

TargetHistory StatusPage::HistoryOf(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = history_.find(key);
  return found == history_.end() ? TargetHistory{} : found->second;
}

std::string StatusPage::TicketText(const TargetSnapshot& t) const {
  if (!t.last) return "";
  const probe::TraceResult r = t.last.full();  // with its hops (stored packed)
  const TargetHistory h = HistoryOf(t.target);
  std::string out;
  std::string where = r.blocked_hop ? " after hop " + std::to_string(r.blocked_hop->ttl) : "";
  out += "TCP port " + std::to_string(t.port) + " of " + t.host + " is " +
         std::string(probe::ToString(r.outcome)) + where + "\n\n";
  out += "What fails:   TCP connections to " + t.host +
         (r.address && r.address->ToString() != t.host ? " (" + r.address->ToString() + ")" : "") +
         " port " + std::to_string(t.port) + ": " + std::string(probe::ToString(r.outcome)) +
         (r.marker.empty() ? "" : " (" + r.marker + ")") + "\n";
  out += "Since:        " + UtcTime(h.since > 0 ? h.since : r.finished_at) +
         " (first round with this result seen by this exporter)\n";
  std::string labels = ClientLabels(t);
  out += "From:         portpath on " + options_.hostname +
         (labels.empty() ? "" : " (" + labels + ")") + "\n";
  out += "Ping:         " +
         std::string(!r.icmp_reachable ? "not traced"
                     : *r.icmp_reachable
                         ? "the host answers ping" +
                               (r.icmp_destination_ttl
                                    ? " (" + std::to_string(*r.icmp_destination_ttl) + " hops away)"
                                    : std::string()) +
                               ": it is up, only the TCP port is stopped"
                         : "the host does not answer ping") +
         "\n";
  if (r.blocked_hop)
    out += "Blocked hop:  hop " + std::to_string(r.blocked_hop->ttl) + ", " +
           HopText(*r.blocked_hop) + "\n";
  out += "Verdict:      " + probe::Verdict(r) + "\n";
  out += "\nTrace (" + UtcTime(r.finished_at) + ", TTL, address, class, AS, mean RTT):\n";
  for (const probe::Hop& hop : r.hops) {
    char ttl[8];
    std::snprintf(ttl, sizeof ttl, "%3d", hop.ttl);
    out += std::string(ttl) + "  ";
    if (!hop.address) {
      out += "*\n";
      continue;
    }
    out += hop.address->ToString() + "  " +
           std::string(probe::ToString(probe::ClassifyAddress(*hop.address)));
    if (std::string as = AsText(hop.asn, hop.as_org); !as.empty()) out += "  " + as;
    if (auto rtt = MeanRttMs(hop)) out += "  " + Fixed(*rtt, 3) + " ms";
    if (!hop.marker.empty()) out += "  " + hop.marker;
    if (r.blocked_hop && hop.ttl == r.blocked_hop->ttl && IsBlocked(r.outcome))
      out += "   <- the port stops here";
    out += "\n";
  }
  out += "\nMeasured with TCP SYN probes to port " + std::to_string(t.port) + " by portpath " +
         options_.version + ".\n";
  return out;
}

std::string StatusPage::RenderDetail(const TargetSnapshot& t, double now) const {
  if (!t.last) return "<p>Not traced yet.</p>";
  const probe::TraceResult r = t.last.full();  // with its hops (stored packed)
  const TargetHistory h = HistoryOf(t.target);
  std::string out;
  out += "<p class=\"verdict\">" + Escape(probe::Verdict(r)) + "</p>";
  if (!r.hops.empty()) out += PathSvg(t, r);
  if (!h.rounds.empty()) {
    out +=
        "<p>Recent rounds (oldest first): " + TimelineSvg(h) + " last " +
        Escape(Age(now - r.finished_at)) + " ago" +
        (r.stale ? ", <b>verdict stale</b> (last confirmed " + Escape(UtcTime(r.confirmed_at)) + ")"
                 : "") +
        "</p>";
  }
  if (!r.hops.empty()) {
    out +=
        "<table class=\"hops\"><tr><th>TTL</th><th>address</th><th>name</th><th>class</th>"
        "<th>AS</th><th>RTT</th><th>answered</th></tr>";
    for (const probe::Hop& hop : r.hops) {
      const bool is_blocked =
          IsBlocked(r.outcome) && r.blocked_hop && hop.ttl == r.blocked_hop->ttl;
      auto rtt = MeanRttMs(hop);
      out +=
          std::string("<tr") + (is_blocked ? " class=\"blocked\"" : "") + "><td>" +
          std::to_string(hop.ttl) + "</td><td>" +
          (hop.address ? Escape(hop.address->ToString()) : "*") + "</td><td>" + Escape(hop.name) +
          "</td><td>" +
          (hop.address ? std::string(probe::ToString(probe::ClassifyAddress(*hop.address))) : "") +
          "</td><td>" + Escape(AsText(hop.asn, hop.as_org)) + "</td><td>" +
          (rtt ? Fixed(*rtt, 3) + " ms" : "") + "</td><td>" + std::to_string(hop.answered()) + "/" +
          std::to_string(hop.probes.size()) + (hop.marker.empty() ? "" : " " + Escape(hop.marker)) +
          "</td></tr>";
    }
    out += "</table>";
  }
  if (IsBlocked(r.outcome)) {
    out +=
        "<div class=\"ticket\"><p>For a ticket to whoever owns the blocked hop "
        "<button class=\"copy\" type=\"button\">copy</button></p><textarea class=\"ticket\" "
        "readonly>" +
        Escape(TicketText(t)) + "</textarea></div>";
  }
  out += "<p><a href=\"probe?target=" + Escape(t.target) + "\">trace now (/probe)</a></p>";
  return out;
}

std::string StatusPage::RenderPage(const Snapshot& s, double now) const {
  std::vector<const TargetSnapshot*> order;
  order.reserve(s.targets.size());
  for (const TargetSnapshot& t : s.targets) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    int ra = SortRank(*a), rb = SortRank(*b);
    return ra != rb ? ra < rb : a->target < b->target;
  });
  std::map<std::string, int> counts;
  for (const TargetSnapshot& t : s.targets)
    ++counts[t.last ? std::string(probe::ToString(t.last->outcome)) : "not traced yet"];

  std::string out;
  out.reserve(512 + s.targets.size() * 320);
  out +=
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width,initial-scale=1\"><title>portpath status</title><style>";
  out += kStyle;
  out +=
      "</style></head><body><header><h1>portpath</h1><span>on " + Escape(options_.hostname) +
      ", version " + Escape(options_.version) +
      "</span><nav><a href=\"metrics\">/metrics</a> &middot; <a href=\"-/healthy\">/-/healthy</a>"
      " &middot; <a href=\"-/ready\">/-/ready</a> &middot; /probe?target=HOST:PORT</nav></header>";
  out += "<section id=\"summary\">";
  for (const auto& [outcome, n] : counts) {
    out += "<span class=\"badge o-" + Escape(outcome == "not traced yet" ? "none" : outcome) +
           "\">" + std::to_string(n) + " " + Escape(outcome) + "</span>";
  }
  out +=
      "</section><div id=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"filter: "
      "target, host, outcome, hop address, AS, label\" aria-label=\"filter\"><label><input "
      "id=\"blocked-only\" type=\"checkbox\"> blocked only</label><span id=\"shown\"></span>"
      "<span id=\"updated\" class=\"age\">updated " +
      Escape(UtcTime(now)) + ", every " + std::to_string(options_.refresh_seconds) +
      "s</span></div>";
  out += "<div id=\"list\" data-refresh=\"" + std::to_string(options_.refresh_seconds) + "\">";
  std::size_t expanded = 0;
  for (const TargetSnapshot* tp : order) {
    const TargetSnapshot& t = *tp;
    const probe::TraceResult* r = t.last ? &*t.last : nullptr;
    const bool blocked = r && IsBlocked(r->outcome);
    const std::string outcome = r ? std::string(probe::ToString(r->outcome)) : "none";
    std::string labels = ClientLabels(t);
    std::string hop;
    if (r && blocked && r->blocked_hop) {
      hop = "blocked after hop " + std::to_string(r->blocked_hop->ttl) + " " +
            HopText(*r->blocked_hop);
    } else if (r && blocked) {
      hop = "blocked; the hop could not be confirmed (ICMP rate limiting)";
    } else if (r && r->outcome == Outcome::kError) {
      hop = r->error;
    } else if (r && r->last_responding_hop) {
      hop = "last answer from hop " + std::to_string(r->last_responding_hop->ttl);
    }
    // The filter's search text; appended piece by piece, this runs once per target.
    std::string keys = t.target;
    const std::string* const parts[] = {&t.host, &outcome, &labels, &hop};
    for (const std::string* part : parts) {
      keys += ' ';
      keys += *part;
    }
    keys = Lower(std::move(keys));
    const bool open = blocked && expanded < options_.expanded_max;
    if (open) ++expanded;
    const TargetHistory h = r ? HistoryOf(t.target) : TargetHistory{};
    out += "<details class=\"t o-";
    out += outcome;
    out += "-row\" data-target=\"";
    out += Escape(t.target);
    out += "\" data-k=\"";
    out += Escape(keys);
    out += "\" data-blocked=\"";
    out += blocked ? "1" : "0";
    out += '"';
    if (open) out += " open data-loaded=\"1\"";
    out += "><summary><span class=\"badge o-";
    out += outcome;
    out += "\">";
    out += r ? outcome : "not traced yet";
    out += "</span> <b>";
    out += Escape(t.target);
    out += "</b> <span class=\"";
    out += blocked ? "blocked-hop" : "hop";
    out += "\">";
    out += Escape(hop);
    out += "</span>";
    if (!labels.empty()) {
      out += " <span class=\"lbl\">";
      out += Escape(labels);
      out += "</span>";
    }
    if (r) {
      out += " <span class=\"age\">since ";
      out += Escape(Age(now - (h.since > 0 ? h.since : r->finished_at)));
      out += "</span>";
    }
    out += "</summary><div class=\"detail\">";
    if (open) out += RenderDetail(t, now);
    out += "</div></details>";
  }
  out +=
      "</div><footer class=\"age\">AS names come from the exporter's IP-to-ASN database; the "
      "portpath image ships ip-location-db's (CC BY 4.0): IP to ASN data by "
      "<a href=\"https://db-ip.com\">DB-IP</a>, RouteViews and NRO.</footer><script>";
  out += kScript;
  out += "</script></body></html>\n";
  return out;
}

HttpResponse StatusPage::Handle(const Snapshot& snapshot, const std::optional<std::string>& target,
                                double now) const {
  HttpResponse response;
  response.content_type = "text/html; charset=utf-8";
  response.compressible = true;
  response.headers = "Cache-Control: no-store\r\n";
  if (!target) {
    response.body = RenderPage(snapshot, now);
    return response;
  }
  for (const TargetSnapshot& t : snapshot.targets) {
    if (t.target != *target) continue;
    response.body = RenderDetail(t, now);
    return response;
  }
  response.status = 404;
  response.content_type = "text/plain; charset=utf-8";
  response.body = "Not found: no configured target " + *target + "\n";
  return response;
}

}  // namespace portpath::exporter
