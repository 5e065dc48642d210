#include "probe/io/pcap_source.h"

#include <poll.h>

#include <chrono>

#include "probe/io/errors.h"

namespace portpath::io {
namespace {

struct DispatchContext {
  const probe::PacketSource::Handler* handler;
  packet::LinkType link;
  std::uint64_t* link_drops;
};

void OnFrame(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
  auto* ctx = reinterpret_cast<DispatchContext*>(user);
  auto ip = packet::StripLinkLayer(ctx->link, packet::Bytes(bytes, header->caplen));
  if (!ip) {
    ++*ctx->link_drops;
    return;
  }
  // Nanosecond precision was requested at open, so tv_usec holds nanoseconds.
  probe::TimePoint when{std::chrono::seconds(header->ts.tv_sec) +
                        std::chrono::nanoseconds(header->ts.tv_usec)};
  (*ctx->handler)(*ip, when);
}

}  // namespace

std::string PcapSource::FilterFor(std::uint16_t port_low, std::uint16_t port_high) {
  std::string ports = std::to_string(port_low) + "-" + std::to_string(port_high);
  // ICMP time-exceeded (11) / unreachable (3) / echo reply (0); ICMPv6
  // unreachable (1) / time exceeded (3) / echo reply (129); TCP to our source
  // ports. Everything else never reaches us.
  return "(icmp and (icmp[0] == 11 or icmp[0] == 3 or icmp[0] == 0)) or "
         "(icmp6 and (ip6[40] == 1 or ip6[40] == 3 or ip6[40] == 129)) or "
         "(tcp and dst portrange " +
         ports + ")";
}

PcapSource::PcapSource(const std::optional<std::string>& interface, std::uint16_t port_low,
                       std::uint16_t port_high) {
  char err[PCAP_ERRBUF_SIZE] = {};
  std::string device = interface.value_or("any");
  pcap_.reset(pcap_create(device.c_str(), err));
  if (!pcap_) throw IoError("pcap_create(" + device + "): " + err);
  pcap_t* p = pcap_.get();
  pcap_set_snaplen(p, 512);  // headers and quotes, plus room for RFC 4884 extensions
  pcap_set_immediate_mode(p, 1);
  // The ring is mapped into the process and each slot becomes resident once
  // the kernel has written a packet there, so its size is resident memory
  // (8 MB took 9.2 MB, a quarter of the exporter's at 1,000 target ports).
  // 2 MB holds about 3,500 replies (a slot is about 600 bytes: snaplen plus
  // headers), a third of a second at 10,000 probes/s, while the loop drains
  // it at every turn. Overflows are counted (capture_drops) and
  // make traces disregard their silences from before them (Engine).
  pcap_set_buffer_size(p, 2 << 20);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  int rc = pcap_activate(p);
  if (rc == PCAP_ERROR_PERM_DENIED)
    throw MissingCapability("CAP_NET_RAW", "capture replies with libpcap on " + device);
  if (rc < 0) throw IoError("pcap_activate(" + device + "): " + pcap_geterr(p));
  if (pcap_setdirection(p, PCAP_D_IN) != 0)
    throw IoError(std::string("pcap_setdirection: ") + pcap_geterr(p));
  bpf_program program{};
  std::string filter = FilterFor(port_low, port_high);
  if (pcap_compile(p, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    throw IoError(std::string("pcap_compile: ") + pcap_geterr(p));
  rc = pcap_setfilter(p, &program);
  pcap_freecode(&program);
  if (rc != 0) throw IoError(std::string("pcap_setfilter: ") + pcap_geterr(p));
  if (pcap_setnonblock(p, 1, err) != 0) throw IoError(std::string("pcap_setnonblock: ") + err);
  // Drops before the filter was set were of anything on the host: not counted.
  ReadDrops();
  capture_drops_ = 0;
  link_ = static_cast<packet::LinkType>(pcap_datalink(p));
  fd_ = pcap_get_selectable_fd(p);
  if (fd_ < 0) throw IoError("pcap: no selectable descriptor on " + device);
}

void PcapSource::Poll(probe::Duration max_wait, const Handler& handler) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(max_wait).count();
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(ms, 60000))) > 0) {
    DispatchContext ctx{&handler, link_, &link_drops_};
    // Drain what is there; -1 means everything in the current buffer.
    pcap_dispatch(pcap_.get(), -1, OnFrame, reinterpret_cast<u_char*>(&ctx));
  }
  // After every read, before the engine acts on any silence: a drop seen
  // only later would let a lost answer pass for silence meanwhile.
  ReadDrops();
}

void PcapSource::ReadDrops() {
  // Linux: the ring's tp_drops, which the kernel resets on each read and
  // libpcap sums into a 32-bit count (one getsockopt); summed here modulo
  // 2^32 so that its wrap is not a step back.
  pcap_stat stats{};
  if (pcap_stats(pcap_.get(), &stats) != 0) return;
  capture_drops_ += static_cast<unsigned int>(stats.ps_drop - last_ps_drop_);
  last_ps_drop_ = stats.ps_drop;
}

}  // namespace portpath::io
