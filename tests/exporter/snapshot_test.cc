// Snapshots stay cheap and immutable: results and targets are shared between
// snapshots, copied only when someone writes, and serve's results keep their
// hops packed without losing anything.
#include "exporter/snapshot.h"

#include <gtest/gtest.h>

#include <utility>

#include "test_snapshots.h"

namespace portpath::exporter {
namespace {

using namespace test_data;

bool SameHops(const std::vector<probe::Hop>& a, const std::vector<probe::Hop>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const probe::Hop& x = a[i];
    const probe::Hop& y = b[i];
    if (x.ttl != y.ttl || x.address != y.address || x.reply != y.reply || x.marker != y.marker ||
        x.asn != y.asn || x.as_org != y.as_org || x.name != y.name || x.mpls != y.mpls ||
        x.probes.size() != y.probes.size())
      return false;
    for (std::size_t k = 0; k < x.probes.size(); ++k)
      if (x.probes[k].rtt_ms != y.probes[k].rtt_ms || x.probes[k].from != y.probes[k].from)
        return false;
  }
  return true;
}

std::vector<probe::Hop> EveryKindOfHop() {
  std::vector<probe::Hop> hops = OpenTarget().last->hops;
  probe::Hop v6 = MakeHop(4, "2001:db8::1", {0.123456789, std::nullopt, 1e-9});
  v6.asn = 64500;
  v6.as_org = "Example \"Transit\", Inc.";
  v6.name = "r4.example.net";
  v6.marker = "!X";
  v6.reply = probe::HopReply::kUnreachable;
  v6.mpls = {{16, 0, false, 1}, {1048575, 7, true, 255}};
  v6.probes[1].from = Ip("2001:db8::99");          // unanswered, yet a sender (a late reply)
  v6.probes.push_back({2.5, Ip("198.51.100.7")});  // answered by another router
  hops.push_back(v6);
  probe::Hop answered_without_sender = MakeHop(5, std::nullopt, {});
  answered_without_sender.probes.push_back({3.0, std::nullopt});
  hops.push_back(answered_without_sender);
  return hops;
}

TEST(SnapshotTest, PackedHopsUnpackToTheSameHops) {
  std::vector<probe::Hop> hops = EveryKindOfHop();
  std::string packed = PackHops(hops);
  EXPECT_TRUE(SameHops(UnpackHops(packed), hops));
  EXPECT_TRUE(UnpackHops(PackHops({})).empty());
  // A fraction of what the hops take as probe::Hop values.
  std::size_t unpacked = 0;
  for (const probe::Hop& h : hops)
    unpacked += sizeof h + h.probes.size() * sizeof(probe::ProbeSample);
  EXPECT_LT(packed.size() * 5, unpacked) << packed.size() << " vs " << unpacked;
}

TEST(SnapshotTest, CorruptPackedHopsAreRefusedNotRead) {
  std::string packed = PackHops(EveryKindOfHop());
  for (std::size_t cut = 1; cut < packed.size(); cut += 7) {
    std::string truncated = packed.substr(0, cut);
    try {
      // Cut at a hop boundary it is a shorter list; anywhere else an error.
      EXPECT_LT(UnpackHops(truncated).size(), EveryKindOfHop().size());
    } catch (const std::logic_error&) {
    }
  }
}

TEST(SnapshotTest, APackedResultShowsItsHopsThroughHopsAndFull) {
  probe::TraceResult r = *OpenTarget().last;
  r.hops = EveryKindOfHop();
  const SharedResult packed = SharedResult::Packed(r);
  EXPECT_TRUE(packed.packed());
  EXPECT_TRUE(packed->hops.empty());  // packed: the hops are not in the result itself
  EXPECT_EQ(packed->outcome, r.outcome);
  EXPECT_TRUE(SameHops(packed.hops(), r.hops));
  EXPECT_TRUE(SameHops(packed.full().hops, r.hops));
  EXPECT_GT(packed.packed_size(), 0u);
  // Writing through it unpacks first.
  SharedResult copy = packed;
  copy->hops[0].asn = 1;
  EXPECT_FALSE(copy.packed());
  EXPECT_EQ(copy->hops.size(), r.hops.size());
  EXPECT_TRUE(packed.packed());
  EXPECT_FALSE(packed.hops()[0].asn);
}

TEST(SnapshotTest, WritingToASharedResultLeavesTheOtherCopiesAlone) {
  SharedResult a = *OpenTarget().last;
  SharedResult b = a;
  EXPECT_EQ(a.use_count(), 2);
  b->finished_at = 42;
  EXPECT_EQ(a.use_count(), 1);
  EXPECT_NE(a->finished_at, 42);
  EXPECT_EQ(b->finished_at, 42);
  SharedResult none = std::nullopt;
  EXPECT_FALSE(none);
  EXPECT_FALSE(none.has_value());
}

TEST(SnapshotTest, SnapshotsShareTheirTargetsUntilOneIsWritten) {
  Snapshot first;
  first.targets = {OpenTarget(), FilteredTarget()};
  Snapshot second = first;  // as the loop publishes: a pointer per target
  // (Reads through const: non-const access is for writing, and copies.)
  EXPECT_EQ(&std::as_const(first.targets)[0], &std::as_const(second.targets)[0]);
  second.targets[1].skipped_rounds = 9;  // copy on write
  EXPECT_EQ(std::as_const(first.targets)[1].skipped_rounds, 0u);
  EXPECT_EQ(std::as_const(second.targets)[1].skipped_rounds, 9u);
  EXPECT_EQ(&std::as_const(first.targets)[0], &std::as_const(second.targets)[0]);
  std::size_t n = 0;
  for (const TargetSnapshot& t : second.targets) n += !t.target.empty();
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(second.targets.erase_if([](const TargetSnapshot& t) { return t.port == 443; }), 1u);
  EXPECT_EQ(second.targets.size(), 1u);
  EXPECT_EQ(first.targets.size(), 2u);
}

}  // namespace
}  // namespace portpath::exporter
