#include "probe/io/connect_transport.h"

#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "probe/io/errors.h"

namespace portpath::io {
namespace {

using packet::IpAddress;
using packet::ReplyType;
using probe::ProbeKind;

socklen_t ToSockaddr(const IpAddress& address, std::uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (address.is_v4()) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    std::memcpy(&sa->sin_addr, address.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons(port);
  std::memcpy(&sa->sin6_addr, address.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<IpAddress> FromSockaddr(const sockaddr* sa) {
  if (sa->sa_family == AF_INET)
    return IpAddress::FromBytes(
        packet::Family::kIpv4,
        reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr));
  if (sa->sa_family == AF_INET6)
    return IpAddress::FromBytes(packet::Family::kIpv6,
                                reinterpret_cast<const std::uint8_t*>(
                                    &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr));
  return std::nullopt;
}

/// A flow without a usable source address leaves the choice to the kernel.
bool HasSource(const probe::Flow& flow) {
  return flow.source.family() == flow.destination.family() &&
         flow.source.bytes() != std::array<std::uint8_t, 16>{};
}

bool SetInt(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

/// Running out of descriptors or ports is a pause, not a failure of the trace.
int Transient(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
                 err == EADDRNOTAVAIL || err == EAGAIN
             ? EAGAIN
             : err;
}

/// What the control messages of one recvmsg carry.
struct Control {
  std::optional<sock_extended_err> error;
  std::optional<IpAddress> offender;
  int ttl = 0;  // 0 = not reported
  std::optional<probe::TimePoint> stamp;
};

Control ReadControl(msghdr& msg) {
  Control c;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    bool v4_error = cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR;
    bool v6_error = cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR;
    if (v4_error || v6_error) {
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(cm), sizeof ee);
      c.error = ee;
      // The offender's sockaddr follows the struct inside the same message.
      const auto* raw = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(cm));
      std::size_t room = cm->cmsg_len - CMSG_LEN(sizeof ee);
      if (room >= sizeof(sockaddr_in)) c.offender = FromSockaddr(SO_EE_OFFENDER(raw));
    } else if ((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_TTL) ||
               (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT)) {
      std::memcpy(&c.ttl, CMSG_DATA(cm), sizeof c.ttl);
    } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
      c.stamp =
          probe::TimePoint{std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)};
    }
  }
  return c;
}

/// One message from a probe socket (or its error queue, with MSG_ERRQUEUE).
struct Received {
  std::array<std::uint8_t, 512> data{};
  std::size_t size = 0;
  sockaddr_storage from{};
  Control control;
};

std::optional<Received> Receive(int fd, int flags) {
  Received r;
  alignas(cmsghdr) std::array<char, 512> control{};
  iovec iov{r.data.data(), r.data.size()};
  msghdr msg{};
  msg.msg_name = &r.from;
  msg.msg_namelen = sizeof r.from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n = ::recvmsg(fd, &msg, flags | MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  r.size = static_cast<std::size_t>(n);
  r.control = ReadControl(msg);
  return r;
}

/// The options every probe socket gets: its TTL, the error queue, the TTL of
/// what it receives, and kernel receive timestamps.
int CommonOptions(int fd, bool v6, int ttl, const std::optional<std::string>& interface) {
  bool ok = v6 ? SetInt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl) &&
                     SetInt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1) &&
                     SetInt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
               : SetInt(fd, IPPROTO_IP, IP_TTL, ttl) && SetInt(fd, IPPROTO_IP, IP_RECVERR, 1) &&
                     SetInt(fd, IPPROTO_IP, IP_RECVTTL, 1);
  if (!ok || !SetInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) return errno;
  // Unprivileged since Linux 5.7 for a socket not bound to a device yet.
  if (interface && ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface->c_str(),
                                static_cast<socklen_t>(interface->size())) != 0)
    return errno;
  return 0;
}

/// Whether this process may open ping sockets of the family (its group in
/// net.ipv4.ping_group_range); the reason when not.
bool PingAllowed(int family, std::string& reason) {
  int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC,
                    family == AF_INET ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6});
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (reason.empty())
    reason = errno == EACCES
                 ? "ping sockets not allowed for this group (sysctl net.ipv4.ping_group_range)"
                 : std::string("ping sockets: ") + std::strerror(errno);
  return false;
}

}  // namespace

std::optional<packet::Reply> ReplyFromQueuedError(bool v6, std::uint8_t origin, std::uint8_t type,
                                                  std::uint8_t code,
                                                  const std::optional<IpAddress>& offender,
                                                  int received_ttl, ProbeKind kind) {
  if (origin != (v6 ? SO_EE_ORIGIN_ICMP6 : SO_EE_ORIGIN_ICMP) || !offender) return std::nullopt;
  packet::Reply reply;
  if (type == (v6 ? ICMP6_TIME_EXCEEDED : ICMP_TIME_EXCEEDED))
    reply.type = ReplyType::kTimeExceeded;
  else if (type == (v6 ? ICMP6_DST_UNREACH : ICMP_DEST_UNREACH))
    reply.type = ReplyType::kUnreachable;
  else
    return std::nullopt;
  reply.from = *offender;
  reply.reply_ttl = static_cast<std::uint8_t>(std::clamp(received_ttl, 0, 255));
  reply.icmp_type = type;
  reply.icmp_code = code;
  reply.probe.protocol = kind == ProbeKind::kTcpSyn ? packet::kProtoTcp
                         : v6                       ? packet::kProtoIcmp6
                                                    : packet::kProtoIcmp;
  return reply;
}

ConnectTransport::ConnectTransport(const std::optional<std::string>& interface,
                                   probe::TimeSource& clock)
    : clock_(clock), interface_(interface), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_.valid()) throw IoError(std::string("epoll_create1: ") + std::strerror(errno));
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &files);
      ::getrlimit(RLIMIT_NOFILE, &files);
    }
    // Keep some descriptors for everything else the process does (HTTP, DNS).
    rlim_t usable = files.rlim_cur > 256 ? files.rlim_cur - 128 : files.rlim_cur / 2;
    max_sockets_ = static_cast<std::size_t>(std::min<rlim_t>(usable, 1 << 20));
  } else {
    max_sockets_ = 512;
  }
  echo_v4_ = PingAllowed(AF_INET, echo_reason_);
  echo_v6_ = PingAllowed(AF_INET6, echo_reason_);
  if (echo_v4_ || echo_v6_) echo_reason_.clear();
}

void ConnectTransport::BeginTrace(std::uint16_t slot, const probe::Flow& flow) {
  TraceInfo& t = traces_[slot];
  t.flow = flow;
  t.tokens.clear();
}

void ConnectTransport::Close(std::uint64_t token) { probes_.erase(token); }

void ConnectTransport::EndTrace(std::uint16_t slot) {
  auto it = traces_.find(slot);
  if (it == traces_.end()) return;
  // Closing the sockets is what keeps a late answer from reaching the next
  // trace on this slot: the kernel has nowhere left to queue it.
  for (std::uint64_t token : it->second.tokens) Close(token);
  traces_.erase(it);
  std::erase_if(immediate_, [slot](const probe::ProbeEvent& e) {
    return std::get<packet::ProbeId>(e.probe).slot == slot;
  });
}

int ConnectTransport::SendSyn(const TraceInfo& trace, const probe::ProbeSpec& spec,
                              Outstanding& out) {
  const probe::Flow& flow = trace.flow;
  bool v6 = flow.destination.is_v6();
  int fd =
      ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return Transient(errno);
  out.fd = Fd(fd);
  if (int err = CommonOptions(fd, v6, spec.id.ttl, interface_)) return err;
  // close() then aborts an established connection with a RST, as the kernel
  // answers a raw probe's SYN-ACK: no FIN exchange, no TIME_WAIT.
  linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  SetInt(fd, IPPROTO_TCP, TCP_SYNCNT, 1);
  if (HasSource(flow)) {
    // The port is left to connect(), which only needs the 4-tuple to be free.
    if (!v6) SetInt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    sockaddr_storage local;
    socklen_t len = ToSockaddr(flow.source, 0, local);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), len) != 0) return errno;
  }
  sockaddr_storage remote;
  socklen_t len = ToSockaddr(flow.destination, flow.destination_port, remote);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&remote), len) == 0 || errno == EINPROGRESS)
    return 0;
  int err = errno;
  if (err == ECONNREFUSED) {
    // Refused before connect() returned (a local port): the RST is the answer.
    probe::ProbeEvent e;
    e.probe = spec.id;
    e.reply.type = ReplyType::kRst;
    e.reply.from = flow.destination;
    e.reply.probe.protocol = packet::kProtoTcp;
    e.received = clock_.Now();
    immediate_.push_back(e);
    out.fd.reset();
    return 0;
  }
  return Transient(err);
}

int ConnectTransport::SendEcho(const TraceInfo& trace, const probe::ProbeSpec& spec,
                               Outstanding& out) {
  const probe::Flow& flow = trace.flow;
  bool v6 = flow.destination.is_v6();
  if (!SupportsEcho(v6)) return EPERM;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP});
  if (fd < 0) return Transient(errno);
  out.fd = Fd(fd);
  if (int err = CommonOptions(fd, v6, spec.id.ttl, interface_)) return err;
  if (HasSource(flow)) {
    sockaddr_storage local;
    socklen_t len = ToSockaddr(flow.source, 0, local);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), len) != 0) return errno;
  }
  // The kernel writes the identifier (the socket's own) and the checksum; the
  // sequence number tells this probe's answers from a stray one.
  out.echo_sequence = static_cast<std::uint16_t>((spec.id.ttl << 8) | spec.id.attempt);
  std::array<std::uint8_t, 16> message{};
  message[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
  message[6] = static_cast<std::uint8_t>(out.echo_sequence >> 8);
  message[7] = static_cast<std::uint8_t>(out.echo_sequence);
  std::memcpy(&message[8], "portpath", 8);
  sockaddr_storage remote;
  socklen_t len = ToSockaddr(flow.destination, 0, remote);
  if (::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&remote), len) <
      0)
    return Transient(errno);
  return 0;
}

int ConnectTransport::Send(const probe::ProbeSpec& spec) {
  auto trace = traces_.find(spec.id.slot);
  if (trace == traces_.end()) return EINVAL;
  if (probes_.size() >= max_sockets_) return EAGAIN;
  Outstanding out;
  out.id = spec.id;
  out.kind = spec.kind;
  int err = spec.kind == ProbeKind::kTcpSyn ? SendSyn(trace->second, spec, out)
                                            : SendEcho(trace->second, spec, out);
  if (err != 0 || !out.fd.valid()) return err;
  std::uint64_t token = next_token_++;
  epoll_event ev{};
  ev.events = spec.kind == ProbeKind::kTcpSyn ? EPOLLOUT : EPOLLIN;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, out.fd.get(), &ev) != 0) return Transient(errno);
  probe::Duration lifetime = spec.timeout;
  if (spec.kind == ProbeKind::kTcpSyn) lifetime = std::min(lifetime, kMaxSynLifetime);
  expiries_.emplace(clock_.Now() + lifetime, token);
  trace->second.tokens.push_back(token);
  probes_.emplace(token, std::move(out));
  return 0;
}

bool ConnectTransport::Drain(Outstanding& probe, std::uint32_t events,
                             std::vector<probe::ProbeEvent>& out) {
  const TraceInfo& trace = traces_.at(probe.id.slot);
  bool v6 = trace.flow.destination.is_v6();
  int fd = probe.fd.get();
  bool done = false;
  // The error queue first: an ICMP error both fails the connect and queues
  // the details there.
  while (auto queued = Receive(fd, MSG_ERRQUEUE)) {
    const Control& c = queued->control;
    if (!c.error) continue;
    probe::ProbeEvent e;
    e.received = c.stamp.value_or(clock_.Now());
    // The kernel queued this error on this socket only after matching the
    // quoted header to it (ports, and for TCP the SYN's sequence number), so
    // the socket is the probe's identity: no sequence number of ours to check.
    auto reply = ReplyFromQueuedError(v6, c.error->ee_origin, c.error->ee_type, c.error->ee_code,
                                      c.offender, c.ttl, probe.kind);
    if (!reply) {
      e.probe = packet::DropReason::kUnrelatedIcmp;
      out.push_back(e);
      continue;
    }
    reply->probe.source = trace.flow.source;
    reply->probe.destination = trace.flow.destination;
    reply->probe.destination_port =
        probe.kind == ProbeKind::kTcpSyn ? trace.flow.destination_port : 0;
    e.probe = probe.id;
    e.reply = *reply;
    out.push_back(e);
    done = true;
  }
  if (done) return true;
  if (probe.kind == ProbeKind::kTcpSyn) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return false;
    probe::ProbeEvent e;
    e.received = clock_.Now();
    e.probe = probe.id;
    e.reply.from = trace.flow.destination;
    e.reply.probe.protocol = packet::kProtoTcp;
    e.reply.probe.source = trace.flow.source;
    e.reply.probe.destination = trace.flow.destination;
    e.reply.probe.destination_port = trace.flow.destination_port;
    if (err == 0 && (events & EPOLLOUT)) {
      e.reply.type = ReplyType::kSynAck;
      out.push_back(e);
    } else if (err == ECONNREFUSED) {
      e.reply.type = ReplyType::kRst;
      out.push_back(e);
    }
    // Any other end (a local error without an ICMP) leaves the probe silent.
    return true;
  }
  // An echo socket: the destination's reply, if this is it.
  while (auto got = Receive(fd, 0)) {
    const Control& c = got->control;
    const auto& data = got->data;
    probe::ProbeEvent e;
    e.received = c.stamp.value_or(clock_.Now());
    bool whole = got->size >= 8;
    std::uint16_t sequence = whole ? static_cast<std::uint16_t>((data[6] << 8) | data[7]) : 0;
    auto sender = FromSockaddr(reinterpret_cast<const sockaddr*>(&got->from));
    if (!whole || data[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) ||
        sequence != probe.echo_sequence || !sender) {
      e.probe = whole ? packet::DropReason::kUnrelatedIcmp : packet::DropReason::kTruncated;
      out.push_back(e);
      continue;
    }
    e.probe = probe.id;
    e.reply.type = ReplyType::kEchoReply;
    e.reply.from = *sender;
    e.reply.reply_ttl = static_cast<std::uint8_t>(std::clamp(c.ttl, 0, 255));
    e.reply.probe.protocol = v6 ? packet::kProtoIcmp6 : packet::kProtoIcmp;
    e.reply.probe.source = trace.flow.source;
    e.reply.probe.destination = trace.flow.destination;
    out.push_back(e);
    done = true;
  }
  return done;
}

void ConnectTransport::Poll(probe::Duration max_wait, const Handler& handler) {
  std::vector<probe::ProbeEvent> events;
  events.swap(immediate_);
  probe::TimePoint now = clock_.Now();
  while (!expiries_.empty() && expiries_.top().first <= now) {
    Close(expiries_.top().second);
    expiries_.pop();
  }
  probe::Duration wait = events.empty() ? max_wait : probe::Duration::zero();
  if (!expiries_.empty()) wait = std::min(wait, expiries_.top().first - now);
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(wait, probe::Duration::zero()));
  std::array<epoll_event, 256> ready{};
  int n = ::epoll_wait(epoll_.get(), ready.data(), static_cast<int>(ready.size()),
                       static_cast<int>(std::min<long long>(ms.count(), 60000)));
  for (int i = 0; i < n; ++i) {
    auto it = probes_.find(ready[static_cast<std::size_t>(i)].data.u64);
    if (it == probes_.end()) continue;
    if (Drain(it->second, ready[static_cast<std::size_t>(i)].events, events)) probes_.erase(it);
  }
  for (const probe::ProbeEvent& e : events) handler(e);
}

}  // namespace portpath::io
