#pragma once
/// Where a probe's identity lives in the packet.
///
/// TCP sequence number of every SYN (it comes back quoted in ICMP errors and as
/// ack-1 in a SYN-ACK or RST):
///
///    31              16 15        8 7         0
///   +------------------+-----------+-----------+
///   |    trace slot    |    TTL    |  attempt  |   XOR  engine key (32 bits)
///   +------------------+-----------+-----------+
///                      \_______ XOR slot nonce _/
///
/// The slot names an outstanding trace (up to 65536 at once). The low half is also
/// XORed with a per-trace nonce, so a late reply to the previous trace that used
/// the same slot decodes to a probe that was never sent and is dropped. The engine
/// key makes a forged reply guess 32 bits. The 5-tuple, the IPv4 ID field and the
/// IPv6 flow label stay constant per trace (Paris traceroute): per-flow load
/// balancers hash on them, so every TTL of a trace follows one path.

#include <cstdint>

namespace portpath::packet {

struct ProbeId {
  std::uint16_t slot = 0;
  std::uint8_t ttl = 0;
  std::uint8_t attempt = 0;
  bool operator==(const ProbeId&) const = default;
};

/// Pure codec between ProbeId and a TCP sequence number.
class ProbeIdCodec {
 public:
  explicit ProbeIdCodec(std::uint32_t key) : key_(key) {}

  std::uint32_t Encode(ProbeId id, std::uint16_t slot_nonce) const {
    std::uint32_t low = ((std::uint32_t{id.ttl} << 8) | id.attempt) ^ slot_nonce;
    return ((std::uint32_t{id.slot} << 16) | (low & 0xffff)) ^ key_;
  }
  /// The slot can be read without knowing the trace; the rest needs its nonce.
  std::uint16_t SlotOf(std::uint32_t seq) const {
    return static_cast<std::uint16_t>((seq ^ key_) >> 16);
  }
  ProbeId Decode(std::uint32_t seq, std::uint16_t slot_nonce) const {
    std::uint32_t plain = seq ^ key_;
    std::uint16_t low = static_cast<std::uint16_t>((plain & 0xffff) ^ slot_nonce);
    return ProbeId{static_cast<std::uint16_t>(plain >> 16), static_cast<std::uint8_t>(low >> 8),
                   static_cast<std::uint8_t>(low & 0xff)};
  }

 private:
  std::uint32_t key_;
};

}  // namespace portpath::packet
