// --shard I/N: parsing, and the split itself: every target port in exactly one
// shard (no overlap, no gap), stable across runs and file order, balanced, and
// growing N moves few ports.

#include "config/shard.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>

namespace portpath::config {
namespace {

Config ManyTargets(int hosts, const std::vector<std::uint16_t>& ports) {
  Config c;
  for (int i = 0; i < hosts; ++i) {
    Target t;
    t.host = "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    t.ports = ports;
    c.targets.push_back(t);
  }
  return c;
}

using Key = std::pair<std::string, std::uint16_t>;

std::set<Key> Keys(const Config& c) {
  std::set<Key> keys;
  for (const Target& t : c.targets)
    for (std::uint16_t p : t.ports) keys.insert({t.host, p});
  return keys;
}

TEST(ShardTest, ParsesIndexOverCount) {
  EXPECT_EQ(ParseShard("0/1"), (Shard{0, 1}));
  EXPECT_EQ(ParseShard("2/3"), (Shard{2, 3}));
  EXPECT_EQ(ParseShard("9999/10000"), (Shard{9999, 10000}));
}

TEST(ShardTest, RefusesWhatIsNotIndexOverCount) {
  for (const char* bad : {"", "3", "3/3", "4/3", "-1/3", "1/0", "0/-1", "1/+3", " 1/3", "1/3 ",
                          "1 /3", "a/3", "1/3/4", "0x1/3", "0/10001", "/3", "1/", "99999999999/3"})
    EXPECT_FALSE(ParseShard(bad)) << bad;
}

TEST(ShardTest, EveryTargetPortInExactlyOneShard) {
  const Config all = ManyTargets(1000, {80, 443, 8443});
  const std::set<Key> everything = Keys(all);
  for (int n : {1, 2, 3, 7, 16}) {
    std::map<Key, int> owners;
    std::size_t kept_total = 0;
    for (int i = 0; i < n; ++i) {
      Config part = all;
      kept_total += ApplyShard(part, Shard{i, n});
      for (const Key& k : Keys(part)) ++owners[k];
      for (const Target& t : part.targets) EXPECT_FALSE(t.ports.empty());
    }
    EXPECT_EQ(kept_total, everything.size()) << n << " shards";
    EXPECT_EQ(owners.size(), everything.size()) << n << " shards: a gap";
    for (const auto& [key, count] : owners) EXPECT_EQ(count, 1) << key.first << ":" << key.second;
  }
}

TEST(ShardTest, BalancedWithinTenPercent) {
  const int n = 4;
  Config all = ManyTargets(1000, {80, 443});
  for (int i = 0; i < n; ++i) {
    Config part = all;
    std::size_t kept = ApplyShard(part, Shard{i, n});
    EXPECT_NEAR(static_cast<double>(kept), 2000.0 / n, 0.1 * 2000.0 / n) << "shard " << i;
  }
}

TEST(ShardTest, StableAndIndependentOfFileOrderAndSpelling) {
  // Pinned values: a change of the hash would reshuffle every deployment's shards.
  EXPECT_EQ(ShardOf("db.example.com", 5432, 3), ShardOf("DB.Example.COM.", 5432, 3));
  EXPECT_EQ(ShardOf("192.0.2.10", 443, 1), 0);
  int a = ShardOf("192.0.2.10", 443, 5), b = ShardOf("192.0.2.10", 443, 5);
  EXPECT_EQ(a, b);
  Config forward = ManyTargets(50, {80, 443}), backward = forward;
  std::reverse(backward.targets.begin(), backward.targets.end());
  ApplyShard(forward, Shard{1, 3});
  ApplyShard(backward, Shard{1, 3});
  EXPECT_EQ(Keys(forward), Keys(backward));
}

TEST(ShardTest, GrowingTheCountMovesOnlyToTheNewShard) {
  const Config all = ManyTargets(1000, {443});
  int moved = 0;
  for (const Target& t : all.targets) {
    int before = ShardOf(t.host, 443, 4), after = ShardOf(t.host, 443, 5);
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, 4) << t.host;
    }
  }
  // About 1/5 move (a plain modulo would move about 4/5).
  EXPECT_NEAR(moved, 200, 50);
}

TEST(ShardTest, KeepsOtherPortsOfATargetWhoseSomePortsGoElsewhere) {
  Config all = ManyTargets(1, {});
  for (std::uint16_t p = 1000; p < 1100; ++p) all.targets[0].ports.push_back(p);
  Config part = all;
  std::size_t kept = ApplyShard(part, Shard{0, 2});
  ASSERT_EQ(part.targets.size(), 1u);
  EXPECT_EQ(part.targets[0].ports.size(), kept);
  EXPECT_GT(kept, 30u);
  EXPECT_LT(kept, 70u);
  EXPECT_EQ(ToString(Shard{0, 2}), "0/2");
}

}  // namespace
}  // namespace portpath::config
