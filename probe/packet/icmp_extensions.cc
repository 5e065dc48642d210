#include "probe/packet/icmp_extensions.h"

#include <optional>

namespace portpath::packet {
namespace {

constexpr std::uint8_t kIcmpUnreach = 3, kIcmpTimeExceeded = 11, kIcmpParamProblem = 12;
constexpr std::uint8_t kIcmp6Unreach = 1, kIcmp6TimeExceeded = 3;
// RFC 4884 section 4.1/4.2: when extensions follow, the original datagram is
// zero-padded to at least 128 bytes. Pre-RFC 4884 routers (RFC 4884 section 5.5)
// always used exactly 128 and left the length attribute zero.
constexpr std::size_t kMinOriginalDatagram = 128;
constexpr std::uint8_t kExtensionVersion = 2;
constexpr std::uint8_t kClassMplsStack = 1, kCTypeIncomingStack = 1;  // RFC 4950
constexpr std::size_t kObjectHeader = 4, kLabelEntry = 4;

// Other types reuse bytes 4-7 for identifiers or pointers, so reading a length
// there would find "extensions" in an echo reply's payload.
bool HasLengthAttribute(std::uint8_t type, bool v6) {
  if (v6) return type == kIcmp6Unreach || type == kIcmp6TimeExceeded;
  return type == kIcmpUnreach || type == kIcmpTimeExceeded || type == kIcmpParamProblem;
}

// The extension structure (header and objects, to the end of the message), or
// nullopt when the message has none.
std::optional<Bytes> ExtensionStructure(Bytes icmp_message, bool v6) {
  ByteReader r(icmp_message);
  auto type = r.u8();
  if (!type || !HasLengthAttribute(*type, v6) || !r.skip(3)) return std::nullopt;  // code, checksum
  auto byte4 = r.u8();
  auto byte5 = r.u8();
  if (!byte4 || !byte5 || !r.skip(2)) return std::nullopt;
  std::size_t original = v6 ? std::size_t{*byte4} * 8 : std::size_t{*byte5} * 4;
  if (original == 0) {
    // Legacy form. The checksum check below keeps a long quote of an ordinary
    // datagram from passing for extensions (a 1 in 2^20 chance per message);
    // our own probes are far shorter than 128 bytes anyway.
    original = kMinOriginalDatagram;
  } else if (original < kMinOriginalDatagram) {
    return std::nullopt;  // RFC 4884 forbids extensions after a shorter datagram
  }
  // A length pointing at or past the end means the quote was merely padded.
  if (!r.skip(original) || r.remaining() == 0) return std::nullopt;
  return r.rest();
}

}  // namespace

std::vector<MplsLabel> DecodeMplsExtensions(Bytes icmp_message, bool v6) {
  auto structure = ExtensionStructure(icmp_message, v6);
  if (!structure) return {};
  ByteReader r(*structure);
  auto version = r.u8();
  if (!version || !r.skip(3) || (*version >> 4) != kExtensionVersion) return {};
  // RFC 4884 section 7: the checksum covers the whole structure. Summing it with
  // the checksum field in place gives 0xffff, which finish() complements to 0.
  InternetChecksum sum;
  sum.add(*structure);
  if (sum.finish() != 0) return {};

  std::vector<MplsLabel> labels;
  while (r.remaining() > 0) {
    auto length = r.u16();
    auto class_num = r.u8();
    auto c_type = r.u8();
    if (!length || !class_num || !c_type || *length < kObjectHeader) return {};
    auto payload = r.bytes(*length - kObjectHeader);
    if (!payload) return {};
    if (*class_num != kClassMplsStack || *c_type != kCTypeIncomingStack) continue;
    if (payload->size() % kLabelEntry != 0) return {};
    ByteReader entries(*payload);
    while (auto entry = entries.u32()) {
      // RFC 3032: label(20) | TC(3) | S(1) | TTL(8)
      labels.push_back(MplsLabel{*entry >> 12, static_cast<std::uint8_t>((*entry >> 9) & 0x7),
                                 ((*entry >> 8) & 0x1) != 0,
                                 static_cast<std::uint8_t>(*entry & 0xff)});
    }
  }
  return labels;
}

}  // namespace portpath::packet
