// Loader for the CSV files of @ip-location-db/asn (asn-ipv4.csv, asn-ipv6.csv).
//
// Layout (measured on the 2026-06 package, 412k IPv4 + 103k IPv6 ranges, 81k distinct
// organisations): parallel sorted arrays of range starts and ends, plus one uint32 per range
// indexing a table of distinct (asn, org) pairs whose names live in one concatenated buffer.
// That is 12 bytes per IPv4 range and 36 per IPv6 range, against ~100 for a vector of structs
// holding std::string; a lookup is one binary search over the starts.

#include <arpa/inet.h>  // inet_pton: a pure text conversion, no I/O
#include <malloc.h>     // malloc_trim

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "probe/asn/asn_database.h"

namespace portpath::asn {
namespace {

// An IPv6 address as a sortable integer; a struct rather than unsigned __int128, which
// -Wpedantic rejects.
struct U128 {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto operator<=>(const U128&) const = default;
};

std::uint32_t Key4(const std::uint8_t* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

U128 Key6(const std::uint8_t* b) {
  U128 k;
  for (int i = 0; i < 8; ++i) k.hi = (k.hi << 8) | b[i];
  for (int i = 8; i < 16; ++i) k.lo = (k.lo << 8) | b[i];
  return k;
}

bool IsV4Mapped(const std::array<std::uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

// Sorted inclusive ranges with a payload index each.
//
// Overlapping ranges are kept as given. A lookup returns, among the ranges that contain the
// address, the one with the greatest start (the most specific one when ranges nest); among
// equal starts, the one that came last in the input. The published data has one overlap
// (214.95.0.0-215.0.255.255 AS749 and 215.0.0.0-215.1.3.255 AS721), where this picks AS721 for
// 215.0.x.x.
template <class Key>
class RangeTable {
 public:
  void Add(Key first, Key last, std::uint32_t payload) {
    first_.push_back(first);
    last_.push_back(last);
    payload_.push_back(payload);
  }

  std::size_t size() const { return first_.size(); }

  void Reserve(std::size_t n) {
    first_.reserve(n);
    last_.reserve(n);
    payload_.reserve(n);
  }

  void Finish() {
    if (!std::is_sorted(first_.begin(), first_.end())) {
      // Stable, so that among equal starts the later input line stays later and wins.
      std::vector<std::uint32_t> order(first_.size());
      std::iota(order.begin(), order.end(), 0u);
      std::stable_sort(order.begin(), order.end(),
                       [this](std::uint32_t a, std::uint32_t b) { return first_[a] < first_[b]; });
      Permute(first_, order);
      Permute(last_, order);
      Permute(payload_, order);
    }
    first_.shrink_to_fit();
    last_.shrink_to_fit();
    payload_.shrink_to_fit();
    // Only overlapping data pays for the prefix maximum of the ends; without overlaps the
    // range with the greatest start <= address is the only candidate.
    bool overlaps = false;
    for (std::size_t i = 1; i < first_.size() && !overlaps; ++i) {
      overlaps = first_[i] <= last_[i - 1];
    }
    if (overlaps) {
      Key running{};
      max_last_.resize(last_.size());
      for (std::size_t i = 0; i < last_.size(); ++i) {
        running = i == 0 ? last_[0] : std::max(running, last_[i]);
        max_last_[i] = running;
      }
    }
  }

  std::optional<std::uint32_t> Find(Key key) const {
    auto it = std::upper_bound(first_.begin(), first_.end(), key);
    if (it == first_.begin()) return std::nullopt;
    std::size_t i = static_cast<std::size_t>(it - first_.begin()) - 1;
    if (last_[i] >= key) return payload_[i];
    if (max_last_.empty()) return std::nullopt;
    // An earlier, wider range may still cover the key; stop as soon as no range at or before
    // j reaches it.
    while (i > 0) {
      --i;
      if (max_last_[i] < key) break;
      if (last_[i] >= key) return payload_[i];
    }
    return std::nullopt;
  }

  std::size_t bytes() const {
    return (first_.capacity() + last_.capacity() + max_last_.capacity()) * sizeof(Key) +
           payload_.capacity() * sizeof(std::uint32_t);
  }

 private:
  template <class T>
  static void Permute(std::vector<T>& v, const std::vector<std::uint32_t>& order) {
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < order.size(); ++i) out[i] = v[order[i]];
    v.swap(out);
  }

  std::vector<Key> first_;
  std::vector<Key> last_;
  std::vector<std::uint32_t> payload_;
  std::vector<Key> max_last_;  // empty unless ranges overlap
};

struct Entry {
  std::uint32_t asn;
  std::uint32_t org;  // index into the organisation table
};

class CsvAsnDatabase final : public AsnDatabase {
 public:
  CsvAsnDatabase(RangeTable<std::uint32_t> v4, RangeTable<U128> v6, std::vector<Entry> entries,
                 std::string org_chars, std::vector<std::uint32_t> org_offsets)
      : v4_(std::move(v4)),
        v6_(std::move(v6)),
        entries_(std::move(entries)),
        org_chars_(std::move(org_chars)),
        org_offsets_(std::move(org_offsets)) {}

  std::optional<AsInfo> Lookup(const packet::IpAddress& address) const override {
    const auto& b = address.bytes();
    std::optional<std::uint32_t> hit;
    if (address.is_v4()) {
      hit = v4_.Find(Key4(b.data()));
    } else if (IsV4Mapped(b)) {
      hit = v4_.Find(Key4(b.data() + 12));
    } else {
      hit = v6_.Find(Key6(b.data()));
    }
    if (!hit) return std::nullopt;
    const Entry& e = entries_[*hit];
    return AsInfo{e.asn, std::string(Org(e.org))};
  }

  std::size_t size() const override { return v4_.size() + v6_.size(); }
  std::string_view format() const override { return "ip-location-db-csv"; }

 private:
  std::string_view Org(std::uint32_t i) const {
    return std::string_view(org_chars_)
        .substr(org_offsets_[i], org_offsets_[i + 1] - org_offsets_[i]);
  }

  RangeTable<std::uint32_t> v4_;
  RangeTable<U128> v6_;
  std::vector<Entry> entries_;
  std::string org_chars_;
  std::vector<std::uint32_t> org_offsets_;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Dotted quad, strictly: four decimal parts 0-255, no leading "+"/spaces. Hand-written because
// it is most of the load time with inet_pton (two addresses per line, 412k IPv4 lines).
bool ParseV4(std::string_view text, std::uint8_t out[4]) {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    const std::size_t start = i;
    unsigned value = 0;
    while (i < text.size() && i - start < 4 && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    if (i == start || i - start > 3 || value > 255) return false;
    out[part] = static_cast<std::uint8_t>(value);
  }
  return i == text.size();
}

// 0 when unparsable, else 4 or 6. inet_pton wants a NUL-terminated string; a stack copy avoids
// the allocation IpAddress::Parse makes for every IPv6 literal.
int ParseAddress(std::string_view text, std::uint8_t out[16]) {
  if (text.find(':') == std::string_view::npos) return ParseV4(text, out) ? 4 : 0;
  char buf[64];
  if (text.size() >= sizeof buf) return 0;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return inet_pton(AF_INET6, buf, out) == 1 ? 6 : 0;
}

// Open-addressing set of uint32 ids whose keys live elsewhere (found through `key_of`): the
// organisation and (asn, org) tables intern half a million lines without one allocation per
// distinct key, which also leaves no freed fragments in the heap after the load.
class IdSet {
 public:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;

  // Returns the id stored for a key equal to `key`, or inserts `new_id` and returns it.
  template <class Key, class KeyOf>
  std::uint32_t FindOrInsert(const Key& key, std::size_t hash, std::uint32_t new_id,
                             const KeyOf& key_of) {
    if ((count_ + 1) * 2 > slots_.size()) Grow(key_of);
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      if (slots_[i] == kEmpty) {
        slots_[i] = new_id;
        hashes_[i] = hash;
        ++count_;
        return new_id;
      }
      if (hashes_[i] == hash && key_of(slots_[i]) == key) return slots_[i];
    }
  }

 private:
  template <class KeyOf>
  void Grow(const KeyOf&) {
    std::vector<std::uint32_t> old_slots(std::max<std::size_t>(1024, slots_.size() * 2), kEmpty);
    std::vector<std::size_t> old_hashes(old_slots.size());
    old_slots.swap(slots_);
    old_hashes.swap(hashes_);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = 0; j < old_slots.size(); ++j) {
      if (old_slots[j] == kEmpty) continue;
      std::size_t i = old_hashes[j] & mask;
      while (slots_[i] != kEmpty) i = (i + 1) & mask;
      slots_[i] = old_slots[j];
      hashes_[i] = old_hashes[j];
    }
  }

  std::vector<std::uint32_t> slots_;
  std::vector<std::size_t> hashes_;
  std::size_t count_ = 0;
};

std::string Quote(std::string_view s) {
  constexpr std::size_t kMax = 60;
  if (s.size() > kMax) return "'" + std::string(s.substr(0, kMax)) + "...'";
  return "'" + std::string(s) + "'";
}

class CsvLoader {
 public:
  void AddText(std::string_view text, std::string_view name) {
    name_ = name;
    // One family per file is the usual case: size the arrays once for it.
    const std::size_t lines =
        static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    if (text.substr(0, text.find(',')).find(':') == std::string_view::npos) {
      v4_.Reserve(v4_.size() + lines);
    } else {
      v6_.Reserve(v6_.size() + lines);
    }
    std::size_t added = 0;
    std::size_t pos = 0;
    std::size_t line_no = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line_no == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
      if (Trim(line).empty()) continue;
      ParseLine(line, line_no);
      ++added;
    }
    if (added == 0) throw std::runtime_error(std::string(name) + ": no address ranges");
  }

  std::unique_ptr<AsnDatabase> Build() {
    v4_.Finish();
    v6_.Finish();
    entries_.shrink_to_fit();
    org_chars_.shrink_to_fit();
    org_offsets_.shrink_to_fit();
    return std::make_unique<CsvAsnDatabase>(std::move(v4_), std::move(v6_), std::move(entries_),
                                            std::move(org_chars_), std::move(org_offsets_));
  }

 private:
  [[noreturn]] void Fail(std::size_t line_no, const std::string& reason) const {
    throw std::runtime_error(name_ + ":" + std::to_string(line_no) + ": " + reason);
  }

  void ParseLine(std::string_view line, std::size_t line_no) {
    const std::size_t c1 = line.find(',');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string_view::npos) {
      Fail(line_no, "expected first,last,asn,org but found " + Quote(line));
    }
    const std::size_t c3 = line.find(',', c2 + 1);
    const std::string_view first_text = Trim(line.substr(0, c1));
    const std::string_view last_text = Trim(line.substr(c1 + 1, c2 - c1 - 1));
    const std::string_view asn_text =
        Trim(c3 == std::string_view::npos ? line.substr(c2 + 1) : line.substr(c2 + 1, c3 - c2 - 1));
    // A missing organisation column reads as an empty name; an unquoted one is taken up to
    // the end of the line, commas included.
    const std::string_view org_text =
        c3 == std::string_view::npos ? std::string_view() : line.substr(c3 + 1);

    std::uint8_t first[16] = {};
    std::uint8_t last[16] = {};
    const int f1 = ParseAddress(first_text, first);
    if (f1 == 0) Fail(line_no, "unparsable first address " + Quote(first_text));
    const int f2 = ParseAddress(last_text, last);
    if (f2 == 0) Fail(line_no, "unparsable last address " + Quote(last_text));
    if (f1 != f2) {
      Fail(line_no, "first address " + Quote(first_text) + " and last address " + Quote(last_text) +
                        " are of different families");
    }
    std::uint32_t asn = 0;
    const char* asn_end = asn_text.data() + asn_text.size();
    auto [ptr, ec] = std::from_chars(asn_text.data(), asn_end, asn);
    if (asn_text.empty() || ec != std::errc() || ptr != asn_end) {
      Fail(line_no, "AS number " + Quote(asn_text) + " is not a number from 0 to 4294967295");
    }
    const std::string_view org = Unquote(org_text, line_no);
    const std::uint32_t payload = Intern(asn, org);
    if (f1 == 4) {
      const std::uint32_t a = Key4(first);
      const std::uint32_t b = Key4(last);
      if (a > b)
        Fail(line_no,
             "first address " + Quote(first_text) + " is after last address " + Quote(last_text));
      v4_.Add(a, b, payload);
    } else {
      const U128 a = Key6(first);
      const U128 b = Key6(last);
      if (a > b)
        Fail(line_no,
             "first address " + Quote(first_text) + " is after last address " + Quote(last_text));
      v6_.Add(a, b, payload);
    }
  }

  // RFC 4180 quoting: "..." with "" for a quote inside.
  std::string_view Unquote(std::string_view s, std::size_t line_no) {
    if (s.empty() || s.front() != '"') return s;
    std::size_t close = s.find('"', 1);
    if (close == std::string_view::npos) Fail(line_no, "unterminated quoted organisation");
    if (close + 1 >= s.size() || s[close + 1] != '"') {
      if (!Trim(s.substr(close + 1)).empty())
        Fail(line_no, "text after the closing quote of the organisation");
      return s.substr(1, close - 1);
    }
    scratch_.clear();
    std::size_t i = 1;
    while (true) {
      close = s.find('"', i);
      if (close == std::string_view::npos) Fail(line_no, "unterminated quoted organisation");
      scratch_.append(s.substr(i, close - i));
      if (close + 1 < s.size() && s[close + 1] == '"') {
        scratch_.push_back('"');
        i = close + 2;
        continue;
      }
      if (!Trim(s.substr(close + 1)).empty())
        Fail(line_no, "text after the closing quote of the organisation");
      return scratch_;
    }
  }

  std::uint32_t Intern(std::uint32_t asn, std::string_view org) {
    // Consecutive lines usually repeat the same AS: skip both look-ups then.
    if (last_entry_ && entries_[*last_entry_].asn == asn &&
        OrgText(entries_[*last_entry_].org) == org) {
      return *last_entry_;
    }
    const auto org_id_of = [this](std::uint32_t id) { return OrgText(id); };
    const std::uint32_t next_org = static_cast<std::uint32_t>(org_offsets_.size() - 1);
    const std::uint32_t org_id =
        org_ids_.FindOrInsert(org, std::hash<std::string_view>{}(org), next_org, org_id_of);
    if (org_id == next_org) {
      org_chars_.append(org);
      org_offsets_.push_back(static_cast<std::uint32_t>(org_chars_.size()));
    }
    const std::uint64_t key = (std::uint64_t{asn} << 32) | org_id;
    const auto entry_key_of = [this](std::uint32_t id) {
      return (std::uint64_t{entries_[id].asn} << 32) | entries_[id].org;
    };
    const std::uint32_t next_entry = static_cast<std::uint32_t>(entries_.size());
    const std::uint32_t entry = entry_ids_.FindOrInsert(
        key, std::hash<std::uint64_t>{}(key * 0x9E3779B97F4A7C15ull), next_entry, entry_key_of);
    if (entry == next_entry) entries_.push_back(Entry{asn, org_id});
    last_entry_ = entry;
    return entry;
  }

  std::string_view OrgText(std::uint32_t o) const {
    return std::string_view(org_chars_)
        .substr(org_offsets_[o], org_offsets_[o + 1] - org_offsets_[o]);
  }

  std::string name_;
  std::string scratch_;
  RangeTable<std::uint32_t> v4_;
  RangeTable<U128> v6_;
  std::vector<Entry> entries_;
  std::string org_chars_;
  std::vector<std::uint32_t> org_offsets_{0};
  IdSet org_ids_;
  IdSet entry_ids_;
  std::optional<std::uint32_t> last_entry_;
};

std::string ReadFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw std::runtime_error(path + ": " + std::strerror(errno));
  std::string data;
  char buf[1 << 16];
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(f.get());
    if (size > 0) data.reserve(static_cast<std::size_t>(size));
    std::rewind(f.get());
  }
  while (true) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    data.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(f.get())) throw std::runtime_error(path + ": " + std::strerror(errno));
  return data;
}

}  // namespace

std::unique_ptr<AsnDatabase> LoadCsvAsnDatabase(const std::vector<std::string>& paths) {
  if (paths.empty()) throw std::runtime_error("no CSV file given");
  CsvLoader loader;
  for (const std::string& path : paths) {
    // One file in memory at a time: the tables keep only what they need.
    const std::string text = ReadFile(path);
    loader.AddText(text, path);
  }
  auto db = loader.Build();
  // The loader's scratch (file buffers, intern tables, pre-shrink arrays) is freed by now, but
  // glibc keeps much of it in the heap after the first large free raises its mmap threshold;
  // handing it back cuts the resident increase of the full data by about a third (RESULTS.md).
  malloc_trim(0);
  return db;
}

std::unique_ptr<AsnDatabase> ParseCsvAsnDatabase(std::string_view text, std::string_view name) {
  CsvLoader loader;
  loader.AddText(text, name);
  return loader.Build();
}

}  // namespace portpath::asn
