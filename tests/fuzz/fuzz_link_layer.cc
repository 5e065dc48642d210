// libFuzzer harness: a captured frame with its link-layer header (Ethernet with VLAN tags,
// Linux cooked SLL and SLL2, raw IP), stripped by StripLinkLayer as the capture does and then
// decoded by DecodeReply.
//
// Input: one byte choosing the link type (see kLinks; the last entry stands for a DLT the
// capture could report that the decoder does not know), then the frame.

#include <array>
#include <cstddef>
#include <cstdint>

#include "probe/packet/reply.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using portpath::packet::LinkType;

constexpr std::array<LinkType, 6> kLinks{LinkType::kEthernet, LinkType::kRaw,
                                         LinkType::kLinuxSll, LinkType::kLinuxSll2,
                                         LinkType::kRawAlt,   static_cast<LinkType>(228)};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const LinkType link = kLinks[data[0] % kLinks.size()];
  const portpath::packet::Bytes frame(data + 1, size - 1);
  auto ip = portpath::packet::StripLinkLayer(link, frame);
  if (!ip) return 0;
  // The IP packet is a tail of the frame, never memory around it.
  FUZZ_CHECK(ip->data() >= frame.data());
  FUZZ_CHECK(ip->data() + ip->size() == frame.data() + frame.size());
  portpath::fuzz::CheckDecoded(portpath::packet::DecodeReply(*ip));
  return 0;
}
