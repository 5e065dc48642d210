// libFuzzer harness: the RFC 4884 extension structure and RFC 4950 MPLS label stack objects of
// an ICMP/ICMPv6 message, through DecodeMplsExtensions directly (DecodeReply only reaches it
// for messages whose quote decodes).
//
// Input: one byte whose bit 0 says ICMPv6, then the ICMP message from its type byte on.

#include <cstddef>
#include <cstdint>

#include "probe/packet/icmp_extensions.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool v6 = data[0] & 1;
  const portpath::packet::Bytes message(data + 1, size - 1);
  auto labels = portpath::packet::DecodeMplsExtensions(message, v6);
  // Every label costs 4 bytes of a 4-byte-aligned object behind an 8-byte ICMP header, 128
  // bytes of original datagram and a 4-byte extension header.
  FUZZ_CHECK(labels.empty() || 8 + 128 + 4 + 4 + labels.size() * 4 <= message.size());
  for (const auto& label : labels) {
    FUZZ_CHECK(label.label < (1u << 20));
    FUZZ_CHECK(label.tc < 8);
  }
  return 0;
}
