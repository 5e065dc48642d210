#include "config/shard.h"

#include <algorithm>
#include <charconv>

namespace portpath::config {
namespace {

std::uint64_t Fnv1a(std::string_view bytes, std::uint64_t hash = 14695981039346656037ull) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).
int JumpConsistentHash(std::uint64_t key, int buckets) {
  std::int64_t b = -1, j = 0;
  while (j < buckets) {
    b = j;
    key = key * 2862933555777941757ull + 1;
    j = static_cast<std::int64_t>(
        static_cast<double>(b + 1) *
        (static_cast<double>(1ll << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<int>(b);
}

// Digits only: from_chars would take a leading '-', and the config refuses signs too.
std::optional<int> ParseInt(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Shard> ParseShard(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto index = ParseInt(text.substr(0, slash));
  auto count = ParseInt(text.substr(slash + 1));
  if (!index || !count || *count < 1 || *count > kMaxShards || *index < 0 || *index >= *count)
    return std::nullopt;
  return Shard{*index, *count};
}

int ShardOf(std::string_view host, std::uint16_t port, int count) {
  if (count <= 1) return 0;
  std::string key(host);
  if (!key.empty() && key.back() == '.') key.pop_back();
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  key += '\0';  // a separator no host name contains
  key += std::to_string(port);
  return JumpConsistentHash(Fnv1a(key), count);
}

std::size_t ApplyShard(Config& config, const Shard& shard) {
  std::size_t kept = 0;
  for (Target& target : config.targets) {
    std::erase_if(target.ports, [&](std::uint16_t port) {
      return ShardOf(target.host, port, shard.count) != shard.index;
    });
    kept += target.ports.size();
  }
  std::erase_if(config.targets, [](const Target& t) { return t.ports.empty(); });
  return kept;
}

std::string ToString(const Shard& shard) {
  return std::to_string(shard.index) + "/" + std::to_string(shard.count);
}

}  // namespace portpath::config
