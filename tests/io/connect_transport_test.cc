#include "probe/io/connect_transport.h"

#include <gtest/gtest.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "probe/engine.h"
#include "probe/io/errors.h"
#include "probe/io/fd.h"
#include "probe/io/system.h"
#include "probe/io/transport.h"

// The connect() transport on loopback only: a listening port answers SYN-ACK,
// a port nobody listens on answers RST. Time-exceeded and unreachables need
// routers: tests/lab/unprivileged_test.sh checks those in the network lab.

namespace portpath::io {
namespace {

using namespace std::chrono_literals;
using packet::IpAddress;
using packet::ReplyType;
using probe::ProbeKind;

/// A TCP socket bound to an ephemeral loopback port; listening or not.
struct LoopbackPort {
  explicit LoopbackPort(bool v6, bool listening) {
    fd = Fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      sa->sin6_addr = in6addr_loopback;
      len = sizeof *sa;
    } else {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *sa;
    }
    ok = fd.valid() && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
         (!listening || ::listen(fd.get(), 16) == 0) &&
         ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0;
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  Fd fd;
  bool ok = false;
  std::uint16_t port = 0;
};

probe::Flow LoopbackFlow(bool v6, std::uint16_t port) {
  probe::Flow flow;
  flow.destination = *IpAddress::Parse(v6 ? "::1" : "127.0.0.1");
  flow.source = flow.destination;
  flow.destination_port = port;
  return flow;
}

std::vector<probe::ProbeEvent> PollFor(ConnectTransport& t, std::size_t want) {
  std::vector<probe::ProbeEvent> events;
  for (int i = 0; i < 50 && events.size() < want; ++i)
    t.Poll(20ms, [&](const probe::ProbeEvent& e) { events.push_back(e); });
  return events;
}

bool HasIpv6Loopback() {
  LoopbackPort p(true, false);
  return p.ok;
}

class ConnectTransportTest : public ::testing::TestWithParam<bool> {};

TEST_P(ConnectTransportTest, ListeningPortIsASynAckClosedPortARst) {
  bool v6 = GetParam();
  if (v6 && !HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  SystemClock clock;
  ConnectTransport t(std::nullopt, clock);
  EXPECT_EQ(t.mode(), probe::ProbeMode::kConnect);
  LoopbackPort open(v6, true), closed(v6, false);
  ASSERT_TRUE(open.ok && closed.ok);
  t.BeginTrace(1, LoopbackFlow(v6, open.port));
  t.BeginTrace(2, LoopbackFlow(v6, closed.port));
  probe::TimePoint before = clock.Now();
  ASSERT_EQ(t.Send({{1, 64, 0}, ProbeKind::kTcpSyn, 1s}), 0);
  ASSERT_EQ(t.Send({{2, 64, 0}, ProbeKind::kTcpSyn, 1s}), 0);
  auto events = PollFor(t, 2);
  ASSERT_EQ(events.size(), 2u);
  for (const probe::ProbeEvent& e : events) {
    ASSERT_TRUE(std::holds_alternative<packet::ProbeId>(e.probe));
    auto id = std::get<packet::ProbeId>(e.probe);
    EXPECT_EQ(id.ttl, 64);
    EXPECT_EQ(e.reply.type, id.slot == 1 ? ReplyType::kSynAck : ReplyType::kRst);
    EXPECT_EQ(e.reply.from, LoopbackFlow(v6, 0).destination);
    EXPECT_EQ(e.reply.probe.protocol, packet::kProtoTcp);
    EXPECT_EQ(e.reply.reply_ttl, 0) << "a SYN-ACK's TTL is not visible to connect()";
    EXPECT_FALSE(e.reply.quoted_ttl);
    EXPECT_GE(e.received, before);
  }
  // An answered probe's socket is closed at once.
  EXPECT_EQ(t.open_sockets(), 0u);
}

TEST_P(ConnectTransportTest, EndTraceClosesItsSocketsAndDropsItsAnswers) {
  bool v6 = GetParam();
  if (v6 && !HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  SystemClock clock;
  ConnectTransport t(std::nullopt, clock);
  LoopbackPort open(v6, true);
  ASSERT_TRUE(open.ok);
  t.BeginTrace(7, LoopbackFlow(v6, open.port));
  for (std::uint8_t attempt = 0; attempt < 3; ++attempt)
    ASSERT_EQ(t.Send({{7, 64, attempt}, ProbeKind::kTcpSyn, 1s}), 0);
  EXPECT_EQ(t.open_sockets(), 3u);
  t.EndTrace(7);
  EXPECT_EQ(t.open_sockets(), 0u);
  EXPECT_TRUE(PollFor(t, 1).empty()) << "an answer credited to a trace that has ended";
  // The slot is free for the next trace.
  EXPECT_EQ(t.Send({{7, 64, 0}, ProbeKind::kTcpSyn, 1s}), EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Families, ConnectTransportTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ipv6" : "Ipv4"; });

TEST(ConnectTransportTest, EchoAvailabilityFollowsPingGroupRange) {
  SystemClock clock;
  ConnectTransport t(std::nullopt, clock);
  // Whatever this machine allows, the transport says why when it cannot.
  if (!t.SupportsEcho(false) && !t.SupportsEcho(true)) {
    EXPECT_NE(t.echo_unavailable_reason().find("ping"), std::string::npos)
        << t.echo_unavailable_reason();
    t.BeginTrace(3, LoopbackFlow(false, 9));
    EXPECT_NE(t.Send({{3, 64, 0}, ProbeKind::kIcmpEcho, 1s}), 0);
  } else {
    EXPECT_TRUE(t.echo_unavailable_reason().empty());
  }
}

TEST(ReplyFromQueuedErrorTest, TimeExceededAndUnreachablesOfBothFamilies) {
  auto router4 = IpAddress::Parse("198.51.100.18");
  auto router6 = IpAddress::Parse("2001:db8:4::2");
  auto te4 = ReplyFromQueuedError(false, SO_EE_ORIGIN_ICMP, 11, 0, router4, 60, ProbeKind::kTcpSyn);
  ASSERT_TRUE(te4);
  EXPECT_EQ(te4->type, ReplyType::kTimeExceeded);
  EXPECT_EQ(te4->from, *router4);
  EXPECT_EQ(te4->reply_ttl, 60);
  EXPECT_EQ(te4->probe.protocol, packet::kProtoTcp);
  EXPECT_FALSE(te4->quoted_ttl);
  auto x4 = ReplyFromQueuedError(false, SO_EE_ORIGIN_ICMP, 3, 13, router4, 60, ProbeKind::kTcpSyn);
  ASSERT_TRUE(x4);
  EXPECT_EQ(x4->type, ReplyType::kUnreachable);
  EXPECT_EQ(x4->icmp_code, 13);
  auto te6 =
      ReplyFromQueuedError(true, SO_EE_ORIGIN_ICMP6, 3, 0, router6, 61, ProbeKind::kIcmpEcho);
  ASSERT_TRUE(te6);
  EXPECT_EQ(te6->type, ReplyType::kTimeExceeded);
  EXPECT_EQ(te6->probe.protocol, packet::kProtoIcmp6);
  auto x6 = ReplyFromQueuedError(true, SO_EE_ORIGIN_ICMP6, 1, 1, router6, 61, ProbeKind::kTcpSyn);
  ASSERT_TRUE(x6);
  EXPECT_EQ(x6->type, ReplyType::kUnreachable);
  EXPECT_EQ(x6->icmp_type, 1);
}

TEST(ReplyFromQueuedErrorTest, AnythingElseIsNotAnAnswer) {
  auto router = IpAddress::Parse("198.51.100.18");
  // A local error (no ICMP at all), the other family's origin, no offender,
  // and ICMP errors that say nothing about the path (parameter problem, an
  // IPv4 time-exceeded type read as IPv6).
  EXPECT_FALSE(
      ReplyFromQueuedError(false, SO_EE_ORIGIN_LOCAL, 11, 0, router, 60, ProbeKind::kTcpSyn));
  EXPECT_FALSE(
      ReplyFromQueuedError(false, SO_EE_ORIGIN_ICMP6, 11, 0, router, 60, ProbeKind::kTcpSyn));
  EXPECT_FALSE(
      ReplyFromQueuedError(false, SO_EE_ORIGIN_ICMP, 11, 0, std::nullopt, 60, ProbeKind::kTcpSyn));
  EXPECT_FALSE(
      ReplyFromQueuedError(false, SO_EE_ORIGIN_ICMP, 12, 0, router, 60, ProbeKind::kTcpSyn));
  EXPECT_FALSE(
      ReplyFromQueuedError(true, SO_EE_ORIGIN_ICMP6, 11, 0, router, 60, ProbeKind::kTcpSyn));
}

TEST(OpenProbeTransportTest, ConnectModeCanBeChosen) {
  SystemClock clock;
  TransportOptions o = TransportOptionsFor(probe::EngineOptions{}, std::nullopt);
  EXPECT_EQ(o.port_low, 12000);
  EXPECT_EQ(o.port_high, 31999);
  o.choice = TransportOptions::Choice::kConnect;
  OpenedTransport opened = OpenProbeTransport(o, clock);
  ASSERT_TRUE(opened.transport);
  EXPECT_EQ(opened.transport->mode(), probe::ProbeMode::kConnect);
  EXPECT_NE(opened.notice.find("connect mode"), std::string::npos) << opened.notice;
}

TEST(OpenProbeTransportTest, ABadModeInTheEnvironmentIsRefused) {
  SystemClock clock;
  ::setenv("PORTPATH_PROBE_MODE", "sideways", 1);
  EXPECT_THROW(OpenProbeTransport(TransportOptions{}, clock), IoError);
  ::setenv("PORTPATH_PROBE_MODE", "connect", 1);
  EXPECT_EQ(OpenProbeTransport(TransportOptions{}, clock).transport->mode(),
            probe::ProbeMode::kConnect);
  ::unsetenv("PORTPATH_PROBE_MODE");
}

}  // namespace
}  // namespace portpath::io
