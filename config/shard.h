#pragma once
/// Splitting a long target list over N exporters (`portpath serve --shard I/N`):
/// every target port belongs to exactly one shard, chosen by a stable hash of
/// its host and port, so N replicas given the same file share it with no
/// overlap and no gap, and agree without talking to each other. The hash is a
/// jump consistent hash (Lamping and Veach, 2014) of FNV-1a: going from N to
/// N + 1 shards moves about 1/(N + 1) of the target ports, all of them to the
/// new shard. Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace portpath::config {

struct Shard {
  /// 0-based, below count (a StatefulSet's pod ordinal).
  int index = 0;
  /// How many shards share the list: 1 .. kMaxShards.
  int count = 1;
  bool operator==(const Shard&) const = default;
};

inline constexpr int kMaxShards = 10'000;

/// Parses "I/N" (0 <= I < N <= kMaxShards: decimal digits only); nullopt otherwise.
std::optional<Shard> ParseShard(std::string_view text);

/// The shard (0 .. count-1) that owns `port` of `host`. Host names compare
/// case-insensitively and without a trailing dot, as the config compares them.
int ShardOf(std::string_view host, std::uint16_t port, int count);

/// Keeps only the target ports of `shard`; a target left without ports is
/// removed. Returns how many target ports were kept.
std::size_t ApplyShard(Config& config, const Shard& shard);

/// "I/N", as the flag is written.
std::string ToString(const Shard& shard);

}  // namespace portpath::config
