#include "exporter/snapshot.h"

#include <bit>
#include <limits>
#include <stdexcept>

#include "probe/packet/bytes.h"

namespace portpath::exporter {
namespace {

// Packed hop layout (big-endian), one after another:
//   u16 ttl, u8 reply (probe::HopReply), u8 flags (below),
//   [address: 4 or 16 bytes]        kHasAddress (kV6: 16 bytes)
//   [u32 asn]                        kHasAsn
//   [str marker] [str as_org] [str name]   kHasStrings: each u16 length + bytes
//   [u8 n, n x (u32 label, u8 tc, u8 bottom, u8 ttl)]   kHasMpls
//   u8 probes, then per probe: u8 kind (bits below), [u64 rtt_ms bits]
//   kAnswered, [u8 family (4 or 6), 4 or 16 bytes] kHasSender unless kSenderIsHop.
// A probe's sender is nearly always the hop's address: stored only when not.
constexpr std::uint8_t kHasAddress = 1, kV6 = 2, kHasAsn = 4, kHasStrings = 8, kHasMpls = 16;
constexpr std::uint8_t kAnswered = 1, kHasSender = 2, kSenderIsHop = 4;

void PutAddress(packet::ByteWriter& w, const packet::IpAddress& a) {
  w.bytes(packet::Bytes(a.bytes().data(), a.size()));
}

void PutString(packet::ByteWriter& w, const std::string& s) {
  std::size_t n = std::min<std::size_t>(s.size(), std::numeric_limits<std::uint16_t>::max());
  w.u16(static_cast<std::uint16_t>(n));
  w.bytes(packet::Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), n));
}

void PutDouble(packet::ByteWriter& w, double v) {
  auto bits = std::bit_cast<std::uint64_t>(v);
  w.u32(static_cast<std::uint32_t>(bits >> 32));
  w.u32(static_cast<std::uint32_t>(bits));
}

[[noreturn]] void Corrupt() { throw std::logic_error("packed hops are corrupt"); }

template <typename T>
T Need(std::optional<T> v) {
  if (!v) Corrupt();
  return *v;
}

packet::IpAddress GetAddress(packet::ByteReader& r, bool v6) {
  packet::Bytes b = Need(r.bytes(v6 ? 16 : 4));
  return packet::IpAddress::FromBytes(v6 ? packet::Family::kIpv6 : packet::Family::kIpv4, b.data());
}

std::string GetString(packet::ByteReader& r) {
  std::uint16_t n = Need(r.u16());
  packet::Bytes b = Need(r.bytes(n));
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

double GetDouble(packet::ByteReader& r) {
  std::uint64_t hi = Need(r.u32());
  std::uint64_t lo = Need(r.u32());
  return std::bit_cast<double>((hi << 32) | lo);
}

}  // namespace

std::string PackHops(const std::vector<probe::Hop>& hops) {
  packet::ByteWriter w;
  for (const probe::Hop& h : hops) {
    w.u16(static_cast<std::uint16_t>(h.ttl));
    w.u8(static_cast<std::uint8_t>(h.reply));
    const bool strings = !h.marker.empty() || !h.as_org.empty() || !h.name.empty();
    std::uint8_t flags = 0;
    if (h.address) flags |= kHasAddress | (h.address->is_v6() ? kV6 : 0);
    if (h.asn) flags |= kHasAsn;
    if (strings) flags |= kHasStrings;
    if (!h.mpls.empty()) flags |= kHasMpls;
    w.u8(flags);
    if (h.address) PutAddress(w, *h.address);
    if (h.asn) w.u32(*h.asn);
    if (strings) {
      PutString(w, h.marker);
      PutString(w, h.as_org);
      PutString(w, h.name);
    }
    if (!h.mpls.empty()) {
      std::size_t n = std::min<std::size_t>(h.mpls.size(), 255);
      w.u8(static_cast<std::uint8_t>(n));
      for (std::size_t i = 0; i < n; ++i) {
        w.u32(h.mpls[i].label);
        w.u8(h.mpls[i].tc);
        w.u8(h.mpls[i].bottom_of_stack ? 1 : 0);
        w.u8(h.mpls[i].ttl);
      }
    }
    std::size_t n = std::min<std::size_t>(h.probes.size(), 255);
    w.u8(static_cast<std::uint8_t>(n));
    for (std::size_t i = 0; i < n; ++i) {
      const probe::ProbeSample& s = h.probes[i];
      std::uint8_t kind = 0;
      if (s.rtt_ms) kind |= kAnswered;
      if (s.from) kind |= kHasSender | (h.address && *s.from == *h.address ? kSenderIsHop : 0);
      w.u8(kind);
      if (s.rtt_ms) PutDouble(w, *s.rtt_ms);
      if ((kind & kHasSender) && !(kind & kSenderIsHop)) {
        w.u8(s.from->is_v6() ? 6 : 4);
        PutAddress(w, *s.from);
      }
    }
  }
  const std::vector<std::uint8_t>& bytes = w.data();
  return std::string(bytes.begin(), bytes.end());
}

std::vector<probe::Hop> UnpackHops(std::string_view packed) {
  std::vector<probe::Hop> hops;
  packet::ByteReader r(
      packet::Bytes(reinterpret_cast<const std::uint8_t*>(packed.data()), packed.size()));
  while (r.remaining() > 0) {
    probe::Hop& h = hops.emplace_back();
    h.ttl = Need(r.u16());
    h.reply = static_cast<probe::HopReply>(Need(r.u8()));
    std::uint8_t flags = Need(r.u8());
    if (flags & kHasAddress) h.address = GetAddress(r, flags & kV6);
    if (flags & kHasAsn) h.asn = Need(r.u32());
    if (flags & kHasStrings) {
      h.marker = GetString(r);
      h.as_org = GetString(r);
      h.name = GetString(r);
    }
    if (flags & kHasMpls) {
      std::uint8_t n = Need(r.u8());
      for (std::uint8_t i = 0; i < n; ++i) {
        packet::MplsLabel l;
        l.label = Need(r.u32());
        l.tc = Need(r.u8());
        l.bottom_of_stack = Need(r.u8()) != 0;
        l.ttl = Need(r.u8());
        h.mpls.push_back(l);
      }
    }
    std::uint8_t n = Need(r.u8());
    h.probes.reserve(n);
    for (std::uint8_t i = 0; i < n; ++i) {
      probe::ProbeSample& s = h.probes.emplace_back();
      std::uint8_t kind = Need(r.u8());
      if (kind & kAnswered) s.rtt_ms = GetDouble(r);
      if (kind & kHasSender) {
        if (kind & kSenderIsHop) {
          if (!h.address) Corrupt();
          s.from = h.address;
        } else {
          s.from = GetAddress(r, Need(r.u8()) == 6);
        }
      }
    }
  }
  return hops;
}

bool BudgetExceeded(const probe::TraceResult& result) {
  return !result.blocked_hop_confirmed || (result.stale && !result.refreshed);
}

bool IsBlocked(probe::Outcome outcome) {
  switch (outcome) {
    case probe::Outcome::kFiltered:
    case probe::Outcome::kProhibited:
    case probe::Outcome::kUnreachable:
    case probe::Outcome::kResetByMiddlebox:
    case probe::Outcome::kAnsweredByMiddlebox:
      return true;
    default:
      return false;
  }
}

SharedResult SharedResult::Packed(probe::TraceResult result) {
  SharedResult out;
  auto stored = std::make_shared<Stored>();
  stored->hops = PackHops(result.hops);
  stored->hops.shrink_to_fit();
  result.hops.clear();
  result.hops.shrink_to_fit();
  stored->result = std::move(result);
  stored->packed = true;
  out.stored_ = std::move(stored);
  return out;
}

std::vector<probe::Hop> SharedResult::hops() const {
  return stored_->packed ? UnpackHops(stored_->hops) : stored_->result.hops;
}

probe::TraceResult SharedResult::full() const {
  probe::TraceResult r = stored_->result;
  if (stored_->packed) r.hops = UnpackHops(stored_->hops);
  return r;
}

probe::TraceResult* SharedResult::Own() {
  if (stored_.use_count() > 1 || stored_->packed) {
    stored_ = std::make_shared<Stored>(Stored{full(), {}, false});
  }
  return &stored_->result;
}

}  // namespace portpath::exporter
