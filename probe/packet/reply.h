#pragma once
/// Decodes a received IP packet into a Reply that may answer one of our probes:
/// an ICMP/ICMPv6 time-exceeded or destination-unreachable quoting a TCP header,
/// or a TCP SYN-ACK or RST. Anything else is a DropReason: a listener of all ICMP
/// sees garbage every day, so malformed input is a normal result, not an error.
/// Pure and thread-safe.

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "probe/packet/bytes.h"
#include "probe/packet/icmp_extensions.h"
#include "probe/packet/ip_address.h"

namespace portpath::packet {

enum class ReplyType : std::uint8_t { kTimeExceeded, kUnreachable, kSynAck, kRst, kEchoReply };
inline constexpr std::size_t kReplyTypeCount = 5;

/// Why a captured packet was not credited to any probe. Counted per reason.
enum class DropReason : std::uint8_t {
  kTruncated,        // shorter than its headers say
  kBadHeader,        // wrong version, header length, or a non-first fragment
  kUnrelatedIcmp,    // an ICMP message that is not an error about a packet (echo, ND...)
  kQuoteNotTcp,      // an ICMP error about something other than a TCP SYN or ICMP echo
  kQuoteTruncated,   // the quote is too short to hold ports and sequence number
  kUnrelatedTcp,     // TCP that is neither SYN-ACK nor an ACK-bearing RST
  kNoSuchTrace,      // the sequence number names no outstanding trace
  kFlowMismatch,     // addresses or ports differ from the trace's flow
  kUnknownProbe,     // decodes to a probe that was never sent
  kDuplicate,        // a second answer to a probe that was already answered
  kLinkLayer,        // not IPv4/IPv6 at the link layer
  kBadChecksum,      // an ICMP message whose checksum does not verify (forged or corrupt)
  kCaptureOverflow,  // lost unread: the kernel's capture buffer was full (counted, not decoded)
  kCount,
};
std::string_view ToString(DropReason reason);

/// IP protocol numbers of the probes we send.
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoIcmp6 = 58;

/// The probe as the reply describes it, in the probe's own direction
/// (source = us, destination = target). For an ICMP echo probe, source_port is
/// the echo identifier, destination_port is 0, and sequence is
/// (identifier << 16) | echo sequence, so one probe-id codec serves both kinds.
struct ProbeFlow {
  IpAddress source;
  IpAddress destination;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence = 0;
  std::uint8_t protocol = kProtoTcp;
};

struct Reply {
  ReplyType type = ReplyType::kTimeExceeded;
  /// Who sent the reply (outer source address).
  IpAddress from;
  /// Outer TTL / hop limit as received; a later issue compares it with the path.
  std::uint8_t reply_ttl = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  ProbeFlow probe;
  /// TTL of our probe as the ICMP sender saw it (quoted IP header); tells the
  /// sender's distance when it never answered time-exceeded itself.
  std::optional<std::uint8_t> quoted_ttl;
  /// The MPLS label stack our probe carried at the sender, top first, from the
  /// RFC 4884/4950 extensions of a time-exceeded or unreachable; empty otherwise.
  std::vector<MplsLabel> mpls;
};

using DecodeResult = std::variant<Reply, DropReason>;

/// Decodes an IPv4 or IPv6 packet starting at its IP header.
DecodeResult DecodeReply(Bytes ip_packet);

/// Link-layer types we capture on (numerically the DLT_* values of pcap, kept
/// here so the pure core needs no pcap header).
enum class LinkType : int {
  kEthernet = 1,
  kRaw = 12,
  kLinuxSll = 113,
  kLinuxSll2 = 276,
  kRawAlt = 101
};

/// Strips the link-layer header; nullopt if the frame is not IPv4/IPv6.
std::optional<Bytes> StripLinkLayer(LinkType link, Bytes frame);

}  // namespace portpath::packet
