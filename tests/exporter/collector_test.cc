#include "exporter/collector.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <map>
#include <set>

#include "exporter/http_server.h"
#include "probe/packet/reply.h"
#include "test_snapshots.h"
#include "tests/exporter/exposition_parser.h"

namespace portpath::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using LabelMap = std::map<std::string, std::string>;
using namespace test_data;

LabelMap ToMap(const ClientMetric& m) {
  LabelMap out;
  for (const auto& l : m.label) out[l.name] = l.value;
  return out;
}

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, std::string_view name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

/// Every series of `name` whose labels include all of `match`.
std::vector<LabelMap> Series(const std::vector<MetricFamily>& families, std::string_view name,
                             const LabelMap& match = {}, std::vector<double>* values = nullptr) {
  std::vector<LabelMap> out;
  const MetricFamily* f = FindFamily(families, name);
  if (!f) return out;
  for (const auto& m : f->metric) {
    LabelMap labels = ToMap(m);
    bool ok = true;
    for (const auto& [k, v] : match) ok = ok && labels.count(k) && labels.at(k) == v;
    if (!ok) continue;
    out.push_back(labels);
    if (values) values->push_back(f->type == MetricType::Counter ? m.counter.value : m.gauge.value);
  }
  return out;
}

/// The value of the only series of `name` matching `match`; fails otherwise.
std::optional<double> Value(const std::vector<MetricFamily>& families, std::string_view name,
                            const LabelMap& match = {}) {
  std::vector<double> values;
  auto s = Series(families, name, match, &values);
  if (s.size() != 1) return std::nullopt;
  return values[0];
}

Snapshot Of(std::vector<TargetSnapshot> targets) {
  Snapshot s;
  for (TargetSnapshot& t : targets) s.targets.push_back(std::move(t));
  return s;
}

/// The exposition of `snapshot` as /metrics writes it, read back.
std::vector<MetricFamily> RenderSnapshot(const Snapshot& snapshot) {
  return ParseExposition(RenderSnapshotText(snapshot));
}

/// The same with every target in full detail (hop_metrics: all).
std::vector<MetricFamily> RenderFull(Snapshot snapshot) {
  for (std::size_t i = 0; i < snapshot.targets.size(); ++i)
    snapshot.targets[i].detail = Detail::kFull;
  return RenderSnapshot(snapshot);
}

/// How many series of `families` carry target="target".
std::size_t SeriesOf(const std::vector<MetricFamily>& families, const std::string& target) {
  std::size_t n = 0;
  for (const auto& f : families)
    for (const auto& m : f.metric)
      for (const auto& l : m.label) n += l.name == "target" && l.value == target;
  return n;
}

const LabelMap kDb = {{"target", "db.example.com:5432"}};
const LabelMap kWeb = {{"target", "web.example.com:443"}};
const LabelMap kMail = {{"target", "mail.example.com:25"}};
const LabelMap kNope = {{"target", "nope.invalid:80"}};
const LabelMap kNew = {{"target", "new.example.com:22"}};

LabelMap And(LabelMap a, const LabelMap& b) {
  a.insert(b.begin(), b.end());
  return a;
}

TEST(CollectorTest, OpenPortReportsReachedOpenAndHopsToDestination) {
  auto f = RenderFull(Of({OpenTarget()}));
  EXPECT_EQ(Value(f, "portpath_destination_reached", kDb), 1);
  EXPECT_EQ(Value(f, "portpath_port_open", kDb), 1);
  EXPECT_EQ(Value(f, "portpath_hops_to_destination", kDb), 3);
  EXPECT_EQ(Value(f, "portpath_last_responding_hop_ttl", kDb), 3);
  EXPECT_EQ(Value(f, "portpath_trace_duration_seconds", kDb), 1.5);
  EXPECT_EQ(Value(f, "portpath_last_trace_timestamp_seconds", kDb), 1700000000.5);
  EXPECT_EQ(Value(f, "portpath_target_address_info", And(kDb, {{"address", "192.0.2.10"}})), 1);
  EXPECT_EQ(Value(f, "portpath_skipped_rounds_total", kDb), 1);
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_info").empty());
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_ttl").empty());
  // No family is printed without series.
  EXPECT_EQ(FindFamily(f, "portpath_blocked_hop_info"), nullptr);
}

TEST(CollectorTest, OutcomeIsOneSeriesNamingTheCurrentOutcome) {
  // One series per target (not a state set of eight, seven of them 0), in
  // every detail: `portpath_outcome{outcome="filtered"} == 1` still selects.
  for (bool full : {false, true}) {
    Snapshot s = Of({OpenTarget(), FilteredTarget(), ProhibitedTarget(), ErrorTarget()});
    auto f = full ? RenderFull(s) : RenderSnapshot(s);
    const std::pair<LabelMap, std::string> cases[] = {
        {kDb, "open"}, {kWeb, "filtered"}, {kMail, "prohibited"}, {kNope, "error"}};
    for (const auto& [target, current] : cases) {
      std::vector<double> values;
      auto series = Series(f, "portpath_outcome", target, &values);
      ASSERT_EQ(series.size(), 1u) << target.at("target");
      EXPECT_EQ(series[0].at("outcome"), current);
      EXPECT_EQ(values[0], 1);
    }
  }
}

TEST(CollectorTest, DefaultDetailKeepsAboutTenSeriesPerTargetPort) {
  // The default set answers what alerts and dashboards ask; no per-hop series.
  Snapshot s = Of({OpenTarget(), FilteredTarget(), ProhibitedTarget(), ErrorTarget()});
  s.targets[0].skipped_rounds = 0;
  auto f = RenderSnapshot(s);
  for (const char* hop_family : {"portpath_hop_info", "portpath_hop_rtt_seconds",
                                 "portpath_hop_responded", "portpath_hop_loss_ratio"}) {
    EXPECT_EQ(FindFamily(f, hop_family), nullptr) << hop_family;
  }
  // open (host name): target_info, outcome, port_open, last_responding_hop_ttl,
  // path_info, path_changes_total, trace_duration, last_trace_timestamp,
  // target_address_info (+ icmp_reachable when ping runs, as in serve).
  EXPECT_EQ(SeriesOf(f, "db.example.com:5432"), 9u);
  // filtered at a named hop: + blocked_hop_info, blocked_hop_ttl,
  // blocked_hop_confirmed, verdict_stale.
  EXPECT_EQ(SeriesOf(f, "web.example.com:443"), 13u);
  // prohibited: + blocked_hop_info, blocked_hop_ttl, verdict_stale.
  EXPECT_EQ(SeriesOf(f, "mail.example.com:25"), 12u);
  EXPECT_EQ(SeriesOf(f, "nope.invalid:80"), 7u);
  // Full detail (hop_metrics: all) is the whole set, hops included: 16 + 10
  // per-hop series for three hops.
  auto full = RenderFull(s);
  EXPECT_EQ(SeriesOf(full, "db.example.com:5432"), 26u);
  EXPECT_GT(SeriesOf(full, "web.example.com:443"), SeriesOf(f, "web.example.com:443") + 8);
}

TEST(CollectorTest, TheRarerSeriesAppearWhenTheyHaveSomethingToSay) {
  TargetSnapshot t = FilteredTarget();
  t.skipped_rounds = 2;
  t.last->stale = true;
  t.last->confirmed_at = 1699990000;
  t.last->divergence_hop = 2;
  t.last->icmp_reachable = true;
  auto f = RenderSnapshot(Of({t}));
  EXPECT_EQ(Value(f, "portpath_skipped_rounds_total", kWeb), 2);
  EXPECT_EQ(Value(f, "portpath_verdict_stale", kWeb), 1);
  EXPECT_EQ(Value(f, "portpath_verdict_confirmed_timestamp_seconds", kWeb), 1699990000);
  EXPECT_EQ(Value(f, "portpath_divergence_hop_ttl", kWeb), 2);
  EXPECT_EQ(Value(f, "portpath_icmp_reachable", kWeb), 1);
  // An IP literal's address is its host label: only in full detail.
  TargetSnapshot literal = MakeTarget("192.0.2.10", 443);
  literal.last = BaseResult(literal, "192.0.2.10");
  literal.last->outcome = probe::Outcome::kOpen;
  EXPECT_TRUE(Series(RenderSnapshot(Of({literal})), "portpath_target_address_info").empty());
  EXPECT_EQ(Series(RenderFull(Of({literal})), "portpath_target_address_info").size(), 1u);
}

TEST(CollectorTest, HopMetricsBlockedGivesFullDetailToBlockedTargetsOnly) {
  Snapshot s = Of({OpenTarget(), FilteredTarget(), ProhibitedTarget()});
  for (std::size_t i = 0; i < s.targets.size(); ++i) s.targets[i].detail = Detail::kBlocked;
  auto f = RenderSnapshot(s);
  EXPECT_TRUE(Series(f, "portpath_hop_responded", kDb).empty());
  EXPECT_EQ(Series(f, "portpath_hop_responded", kWeb).size(), 4u);
  EXPECT_EQ(Series(f, "portpath_hop_info", kMail).size(), 2u);
}

TEST(CollectorTest, EachFamilyIsOneGroupWithHelpAndType) {
  // The text format wants every line of a family together, after its TYPE.
  Snapshot s = RichSnapshot();
  for (std::size_t i = 0; i < s.targets.size(); ++i) s.targets[i].detail = Detail::kBlocked;
  std::string text = RenderSnapshotText(s);
  std::set<std::string> seen;
  std::string current;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(current).second) << current << " appears twice";
      continue;
    }
    if (line.rfind('#', 0) == 0) continue;
    EXPECT_EQ(line.substr(0, current.size()), current) << line;
  }
}

TEST(CollectorTest, PackedResultsRenderTheSameAsUnpacked) {
  Snapshot plain = RichSnapshot();
  Snapshot packed = RichSnapshot();
  for (std::size_t i = 0; i < packed.targets.size(); ++i) {
    TargetSnapshot& t = packed.targets[i];
    if (t.last) t.last = SharedResult::Packed(*t.last);
    EXPECT_TRUE(!t.last || t.last.packed());
  }
  for (Snapshot* s : {&plain, &packed})
    for (std::size_t i = 0; i < s->targets.size(); ++i) s->targets[i].detail = Detail::kFull;
  EXPECT_EQ(RenderSnapshotText(packed), RenderSnapshotText(plain));
}

TEST(CollectorTest, LabelValuesAreEscaped) {
  TargetSnapshot t = FilteredTarget();
  t.labels = {{"team", "a \"quoted\" \\ name\nnext"}};
  t.last->blocked_hop->asn = 64500;
  t.last->blocked_hop->as_org = "Org \"X\"";
  auto f = RenderSnapshot(Of({t}));
  auto info = Series(f, "portpath_blocked_hop_info", kWeb);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].at("team"), "a \"quoted\" \\ name\nnext");
  EXPECT_EQ(info[0].at("as_org"), "Org \"X\"");
  EXPECT_EQ(info[0].at("asn"), "64500");
}

TEST(CollectorTest, GzipIsTheCompressedText) {
  auto snapshot = std::make_shared<const Snapshot>(RichSnapshot());
  MetricsEndpoint endpoint([snapshot] { return snapshot; });
  std::string text = endpoint.Text();
  std::string gz = endpoint.Gzipped();
  ASSERT_GT(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(text.size() + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(gz.data());
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(out, text);
  EXPECT_LT(gz.size(), text.size() / 4);
}

TEST(CollectorTest, TenThousandTargetsStayUnderAKilobyteEachByDefault) {
  // What a scrape of a large exporter weighs before compression: about 1 KB
  // per target port (the labels of ten series), not the 4.4 KB of 43 series.
  Snapshot s;
  for (int i = 0; i < 10000; ++i) {
    TargetSnapshot t = i % 5 == 4 ? FilteredTarget() : OpenTarget();
    t.host = "198.18." + std::to_string(i / 254) + "." + std::to_string(i % 254 + 1);
    t.target = t.host + ":" + std::to_string(t.port);
    t.labels.clear();
    t.skipped_rounds = 0;
    s.targets.push_back(std::move(t));
  }
  std::string text = RenderSnapshotText(s);
  EXPECT_LT(text.size(), 10000u * 1000) << text.size() / 10000 << " bytes per target";
}

TEST(CollectorTest, FilteredTargetNamesTheBlockedHopAndItsAddressClass) {
  auto f = RenderSnapshot(Of({FilteredTarget()}));
  auto blocked = Series(f, "portpath_blocked_hop_info", kWeb);
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].at("ttl"), "2");
  EXPECT_EQ(blocked[0].at("hop_address"), "100.64.0.1");
  EXPECT_EQ(blocked[0].at("address_class"), "shared");
  EXPECT_EQ(Value(f, "portpath_blocked_hop_info", kWeb), 1);
  EXPECT_EQ(Value(f, "portpath_blocked_hop_ttl", kWeb), 2);
  EXPECT_EQ(Value(RenderFull(Of({FilteredTarget()})), "portpath_destination_reached", kWeb), 0);
  EXPECT_EQ(Value(f, "portpath_port_open", kWeb), 0);
  EXPECT_EQ(Value(f, "portpath_last_responding_hop_ttl", kWeb), 2);
  EXPECT_TRUE(Series(f, "portpath_hops_to_destination").empty());
}

TEST(CollectorTest, ProhibitedTargetNamesTheRefusingRouter) {
  auto f = RenderSnapshot(Of({ProhibitedTarget()}));
  auto blocked = Series(f, "portpath_blocked_hop_info", kMail);
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].at("ttl"), "2");
  EXPECT_EQ(blocked[0].at("hop_address"), "93.184.216.34");
  EXPECT_EQ(blocked[0].at("address_class"), "public");
  EXPECT_EQ(Value(f, "portpath_blocked_hop_ttl", kMail), 2);
  EXPECT_EQ(Value(f, "portpath_outcome", And(kMail, {{"outcome", "prohibited"}})), 1);
}

TEST(CollectorTest, BlockedHopIsIgnoredWhenTheOutcomeIsNotABlock) {
  // An alert on portpath_blocked_hop_ttl must not fire for an open port, even
  // if a result ever carried a stale blocked hop.
  TargetSnapshot t = OpenTarget();
  t.last->blocked_hop = Ref(1, "10.0.0.1");
  auto f = RenderSnapshot(Of({t}));
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_ttl").empty());
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_info").empty());
}

TEST(CollectorTest, HopSeriesFollowTheHopsOfTheResult) {
  auto f = RenderFull(Of({OpenTarget()}));
  // One series per hop in the result, for each per-hop family that always exists.
  EXPECT_EQ(Series(f, "portpath_hop_responded", kDb).size(), 3u);
  EXPECT_EQ(Series(f, "portpath_hop_loss_ratio", kDb).size(), 3u);
  EXPECT_EQ(Value(f, "portpath_hop_responded", And(kDb, {{"ttl", "1"}})), 1);
  EXPECT_EQ(Value(f, "portpath_hop_responded", And(kDb, {{"ttl", "2"}})), 0);
  // Mean over the answered probes only: (1 + 3) / 2 ms.
  EXPECT_DOUBLE_EQ(*Value(f, "portpath_hop_rtt_seconds", And(kDb, {{"ttl", "1"}})), 0.002);
  EXPECT_TRUE(Series(f, "portpath_hop_rtt_seconds", And(kDb, {{"ttl", "2"}})).empty());
  EXPECT_DOUBLE_EQ(*Value(f, "portpath_hop_loss_ratio", And(kDb, {{"ttl", "1"}})), 1.0 / 3);
  EXPECT_EQ(Value(f, "portpath_hop_loss_ratio", And(kDb, {{"ttl", "2"}})), 1);
  EXPECT_EQ(Value(f, "portpath_hop_loss_ratio", And(kDb, {{"ttl", "3"}})), 0);
  // hop_info only for hops that answered, with address and class.
  auto info = Series(f, "portpath_hop_info", kDb);
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[0].at("ttl"), "1");
  EXPECT_EQ(info[0].at("hop_address"), "10.0.0.1");
  EXPECT_EQ(info[0].at("address_class"), "private");
  EXPECT_EQ(info[1].at("ttl"), "3");
  EXPECT_EQ(info[1].at("hop_address"), "192.0.2.10");
  EXPECT_EQ(info[1].at("address_class"), "documentation");
}

TEST(CollectorTest, ErrorTargetHasOutcomeButNoPathSeries) {
  auto f = RenderFull(Of({ErrorTarget()}));
  EXPECT_EQ(Value(f, "portpath_outcome", And(kNope, {{"outcome", "error"}})), 1);
  EXPECT_EQ(Value(f, "portpath_destination_reached", kNope), 0);
  for (const char* absent : {"portpath_hop_responded", "portpath_hop_info",
                             "portpath_target_address_info", "portpath_blocked_hop_info",
                             "portpath_last_responding_hop_ttl", "portpath_hops_to_destination"}) {
    EXPECT_TRUE(Series(f, absent, kNope).empty()) << absent;
  }
}

TEST(CollectorTest, TargetWithoutResultExportsOnlyInfoAndCounters) {
  auto f = RenderSnapshot(RichSnapshot());
  std::set<std::string> names;
  for (const auto& family : f) {
    if (!Series(f, family.name, kNew).empty()) names.insert(family.name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"portpath_target_info", "portpath_skipped_rounds_total",
                                          "portpath_path_changes_total"}));
  EXPECT_EQ(Value(f, "portpath_skipped_rounds_total", kNew), 3);
  EXPECT_EQ(Value(f, "portpath_target_info", And(kNew, {{"team", "ops"}})), 1);
  // Every configured target has an info series, traced or not.
  EXPECT_EQ(Series(f, "portpath_target_info").size(), 5u);
}

TEST(CollectorTest, EveryTargetSeriesCarriesTargetAndConfigLabels) {
  auto f = RenderFull(RichSnapshot());
  int checked = 0;
  for (const auto& family : f) {
    for (const auto& m : family.metric) {
      LabelMap labels = ToMap(m);
      if (!labels.count("target")) continue;
      ++checked;
      const std::string& target = labels.at("target");
      EXPECT_EQ(labels.at("host") + ":" + labels.at("port"), target) << family.name;
      if (target == "db.example.com:5432") {
        EXPECT_EQ(labels["team"], "storage") << family.name;
        EXPECT_EQ(labels["env"], "prod") << family.name;
      } else if (target == "web.example.com:443") {
        EXPECT_EQ(labels["team"], "web") << family.name;
      }
    }
  }
  EXPECT_GT(checked, 40);
  // The self metrics are the loop's, not a target's.
  EXPECT_TRUE(Series(f, "portpath_probes_sent_total", {{"target", "db.example.com:5432"}}).empty());
}

TEST(CollectorTest, SelfMetricsCoverEveryReasonTypeAndOutcome) {
  auto f = RenderSnapshot(RichSnapshot());
  EXPECT_EQ(Value(f, "portpath_probes_sent_total"), 1234);
  EXPECT_EQ(Value(f, "portpath_send_errors_total"), 2);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "time_exceeded"}}), 100);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "unreachable"}}), 3);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "syn_ack"}}), 40);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "rst"}}), 5);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "echo_reply"}}), 0);
  EXPECT_EQ(Series(f, "portpath_replies_total").size(), 5u);

  // Zeros included, one series per DropReason.
  EXPECT_EQ(Series(f, "portpath_replies_ignored_total").size(),
            static_cast<std::size_t>(packet::DropReason::kCount));
  EXPECT_EQ(Value(f, "portpath_replies_ignored_total",
                  {{"reason", std::string(packet::ToString(packet::DropReason::kUnrelatedIcmp))}}),
            17);
  EXPECT_EQ(Value(f, "portpath_replies_ignored_total",
                  {{"reason", std::string(packet::ToString(packet::DropReason::kTruncated))}}),
            0);

  EXPECT_EQ(Series(f, "portpath_traces_total").size(), probe::kOutcomeCount);
  EXPECT_EQ(Value(f, "portpath_traces_total", {{"outcome", "open"}}), 10);
  EXPECT_EQ(Value(f, "portpath_traces_total", {{"outcome", "prohibited"}}), 2);
  EXPECT_EQ(Value(f, "portpath_traces_total", {{"outcome", "error"}}), 1);

  EXPECT_EQ(Value(f, "portpath_config_last_reload_successful"), 0);
  EXPECT_EQ(Value(f, "portpath_config_last_reload_success_timestamp_seconds"), 1699999000);
  EXPECT_EQ(Value(f, "portpath_config_reloads_total"), 3);
  EXPECT_EQ(Value(f, "portpath_config_reload_failures_total"), 1);
  EXPECT_EQ(FindFamily(f, "portpath_probes_sent_total")->type, MetricType::Counter);
}

TEST(CollectorTest, TargetRemovedFromSnapshotDisappearsAtNextScrape) {
  Snapshot rich = RichSnapshot();
  for (std::size_t i = 0; i < rich.targets.size(); ++i) rich.targets[i].detail = Detail::kFull;
  auto current = std::make_shared<std::atomic<SnapshotPtr>>(std::make_shared<const Snapshot>(rich));
  MetricsEndpoint endpoint([current] { return current->load(); });

  auto before = ParseExposition(endpoint.Text());
  EXPECT_FALSE(Series(before, "portpath_outcome", kWeb).empty());
  EXPECT_FALSE(Series(before, "portpath_hop_info", kWeb).empty());

  Snapshot without_web = rich;
  without_web.targets.erase_if(
      [](const TargetSnapshot& t) { return t.target == "web.example.com:443"; });
  current->store(std::make_shared<const Snapshot>(without_web));

  auto after = ParseExposition(endpoint.Text());
  for (const auto& family : after) {
    EXPECT_TRUE(Series(after, family.name, kWeb).empty()) << family.name;
  }
  EXPECT_FALSE(Series(after, "portpath_outcome", kDb).empty());
}

TEST(CollectorTest, HopThatLeftThePathDisappears) {
  TargetSnapshot open = OpenTarget();
  open.detail = Detail::kFull;
  auto current =
      std::make_shared<std::atomic<SnapshotPtr>>(std::make_shared<const Snapshot>(Of({open})));
  MetricsEndpoint endpoint([current] { return current->load(); });
  EXPECT_EQ(Series(ParseExposition(endpoint.Text()), "portpath_hop_responded", kDb).size(), 3u);

  TargetSnapshot shorter = open;
  shorter.last->hops.resize(1);
  current->store(std::make_shared<const Snapshot>(Of({shorter})));
  auto after = ParseExposition(endpoint.Text());
  EXPECT_EQ(Series(after, "portpath_hop_responded", kDb).size(), 1u);
  EXPECT_TRUE(Series(after, "portpath_hop_info", And(kDb, {{"ttl", "3"}})).empty());
}

TEST(CollectorTest, NothingPublishedYetYieldsNoFamilies) {
  MetricsEndpoint endpoint([] { return SnapshotPtr(); });
  EXPECT_EQ(endpoint.Text(), "");
}

TEST(CollectorTest, RenderTargetsLeavesOutSelfMetricsAndGivesFullDetail) {
  auto f = ParseExposition(RenderTargetsText({FilteredTarget()}));
  EXPECT_EQ(Series(f, "portpath_hop_responded", kWeb).size(), 4u);
  EXPECT_EQ(FindFamily(f, "portpath_probes_sent_total"), nullptr);
  EXPECT_EQ(FindFamily(f, "portpath_traces_total"), nullptr);
  EXPECT_EQ(Value(f, "portpath_blocked_hop_ttl", kWeb), 2);
}

TEST(CollectorTest, TextExpositionShowsTheBlockedHopLine) {
  MetricsEndpoint endpoint([] { return std::make_shared<const Snapshot>(Of({FilteredTarget()})); });
  std::string text = endpoint.Text();
  EXPECT_NE(text.find("# TYPE portpath_blocked_hop_info gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("portpath_blocked_hop_info{target=\"web.example.com:443\",host=\"web."
                      "example.com\",port=\"443\",team=\"web\",ttl=\"2\",hop_address=\"100.64.0."
                      "1\",address_class=\"shared\",asn=\"\",as_org=\"\"} 1\n"),
            std::string::npos)
      << text;
  // Counter names already end in _total; the serializer must not add another.
  EXPECT_NE(text.find("# TYPE portpath_probes_sent_total counter\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("_total_total"), std::string::npos) << text;
}

}  // namespace
}  // namespace portpath::exporter
