// libFuzzer harness: arbitrary bytes as a captured IPv4/IPv6 packet (outer header, IPv6
// extension headers, TCP, ICMP/ICMPv6 with their quotes and RFC 4884 extensions), decoded by
// DecodeReply and then matched against a table of outstanding flows, as the probe loop does with
// every packet the capture hands it.

#include <cstddef>
#include <cstdint>

#include "probe/matcher.h"
#include "probe/packet/reply.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using portpath::packet::IpAddress;

// Flows of the packet fixtures (tests/fixtures/packets), so seeds get past the slot look-up;
// key 0 keeps their sequence numbers readable.
const portpath::probe::FlowTable& Table() {
  static const portpath::probe::FlowTable table = [] {
    portpath::probe::FlowTable t;
    t.Insert(0x288a, {*IpAddress::Parse("10.0.0.1"), *IpAddress::Parse("192.0.2.10"), 12000, 80,
                      0x134f, portpath::packet::kProtoTcp, true, 0x288a});
    t.Insert(0xc827, {*IpAddress::Parse("fd00::1"), *IpAddress::Parse("2001:db8:ff::10"), 12000, 80,
                      0x7896, portpath::packet::kProtoTcp, false, 0});
    return t;
  }();
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto result = portpath::packet::DecodeReply(portpath::packet::Bytes(data, size));
  portpath::fuzz::CheckDecoded(result);
  if (const auto* reply = std::get_if<portpath::packet::Reply>(&result)) {
    static const portpath::packet::ProbeIdCodec codec(0);
    auto match = portpath::probe::MatchReply(Table(), codec, *reply);
    if (const auto* id = std::get_if<portpath::packet::ProbeId>(&match)) FUZZ_CHECK(id->ttl != 0);
  }
  return 0;
}
