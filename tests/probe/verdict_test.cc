#include "probe/verdict.h"

#include <gtest/gtest.h>

#include <string>

#include "probe/diagnosis.h"

namespace portpath::probe {
namespace {

using packet::IpAddress;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

HopRef Hop(int ttl, const char* address) {
  IpAddress a = Ip(address);
  HopRef ref;
  ref.ttl = ttl;
  ref.address = a;
  ref.address_class = ClassifyAddress(a);
  return ref;
}

TraceResult Result(Outcome outcome, const char* dest = "192.0.2.10", std::uint16_t port = 443) {
  TraceResult r;
  r.target = std::string(dest) + ":" + std::to_string(port);
  r.host = dest;
  r.address = Ip(dest);
  r.port = port;
  r.outcome = outcome;
  return r;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(VerdictTest, FilteredAtAnIntranetHopSendsYouToTheNetworkAdministrator) {
  TraceResult r = Result(Outcome::kFiltered);
  r.blocked_hop = r.last_responding_hop = Hop(2, "10.0.1.2");
  std::string v = Verdict(r);
  EXPECT_TRUE(Has(v, "port 443/tcp to 192.0.2.10")) << v;
  EXPECT_TRUE(Has(v, "hop 2 (10.0.1.2, private address)")) << v;
  EXPECT_TRUE(Has(v, "network administrator")) << v;
  EXPECT_FALSE(Has(v, "provider")) << v;
}

TEST(VerdictTest, FilteredAtAPublicHopSendsYouToItsProvider) {
  TraceResult r = Result(Outcome::kFiltered, "2400:3200::1");
  r.blocked_hop = Hop(9, "111.13.108.22");
  std::string v = Verdict(r);
  EXPECT_TRUE(Has(v, "hop 9 (111.13.108.22, public address)")) << v;
  EXPECT_TRUE(Has(v, "provider")) << v;
  EXPECT_TRUE(Has(v, "111.13.108.22: look up its AS")) << v;
  EXPECT_FALSE(Has(v, "network administrator")) << v;
}

TEST(VerdictTest, EveryIntranetClassMeansTheAdministratorAndEveryOtherTheProvider) {
  for (const char* a :
       {"10.0.0.2", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd00::2", "fe80::1"}) {
    TraceResult r = Result(Outcome::kFiltered);
    r.blocked_hop = Hop(3, a);
    EXPECT_TRUE(Has(Verdict(r), "network administrator")) << a;
  }
  for (const char* a : {"111.13.108.22", "2400:3200::1", "198.51.100.18", "2001:db8:4::2"}) {
    TraceResult r = Result(Outcome::kFiltered);
    r.blocked_hop = Hop(3, a);
    EXPECT_TRUE(Has(Verdict(r), "provider")) << a;
  }
}

TEST(VerdictTest, FilteredWithNoHopAnswering) {
  std::string v = Verdict(Result(Outcome::kFiltered));
  EXPECT_TRUE(Has(v, "no hop answered at all")) << v;
  EXPECT_FALSE(Has(v, "hop 0")) << v;
}

TEST(VerdictTest, ProhibitedNamesTheRejectingHop) {
  TraceResult r = Result(Outcome::kProhibited, "2001:db8:ff::10", 135);
  r.blocked_hop = Hop(5, "2001:db8:4::2");
  r.marker = "!X";
  std::string v = Verdict(r);
  EXPECT_TRUE(Has(v, "rejected at hop 5 (2001:db8:4::2, documentation address)")) << v;
  EXPECT_TRUE(Has(v, "!X")) << v;
  r.destination_reached = true;
  r.blocked_hop = Hop(7, "2001:db8:ff::10");
  EXPECT_TRUE(Has(Verdict(r), "2001:db8:ff::10 itself rejects port 135/tcp")) << Verdict(r);
}

TEST(VerdictTest, UnreachableSaysWhichKind) {
  TraceResult r = Result(Outcome::kUnreachable, "192.0.2.9", 80);
  r.blocked_hop = Hop(6, "203.0.113.2");
  r.marker = "!H";
  r.icmp_code = 1;
  EXPECT_TRUE(Has(Verdict(r), "host unreachable (!H)")) << Verdict(r);
  EXPECT_TRUE(Has(Verdict(r), "reported by hop 6 (203.0.113.2")) << Verdict(r);
  r.marker = "!N";
  r.icmp_code = 0;
  EXPECT_TRUE(Has(Verdict(r), "network unreachable (!N)")) << Verdict(r);
  r.marker = "!P";
  r.icmp_code = 2;
  EXPECT_TRUE(Has(Verdict(r), "unreachable (!P, ICMP code 2)")) << Verdict(r);
}

TEST(VerdictTest, OpenClosedAndError) {
  TraceResult open = Result(Outcome::kOpen);
  open.last_responding_hop = Hop(7, "192.0.2.10");
  EXPECT_EQ(Verdict(open), "port 443/tcp is open: 192.0.2.10 answered SYN-ACK at hop 7.");
  TraceResult closed = Result(Outcome::kClosed, "192.0.2.10", 81);
  closed.last_responding_hop = Hop(7, "192.0.2.10");
  EXPECT_TRUE(Has(Verdict(closed), "reachable at hop 7 but port 81/tcp is closed"))
      << Verdict(closed);
  TraceResult error = Result(Outcome::kError);
  error.error = "no route to host";
  EXPECT_EQ(Verdict(error), "could not trace 192.0.2.10:443: no route to host");
}

}  // namespace
}  // namespace portpath::probe

namespace portpath::probe {
namespace {

TraceResult PathOf(const std::vector<std::pair<int, const char*>>& hops, int end_ttl) {
  TraceResult r;
  r.outcome = Outcome::kFiltered;
  for (auto [ttl, address] : hops) {
    probe::Hop h;
    h.ttl = ttl;
    if (address) h.address = *packet::IpAddress::Parse(address);
    r.hops.push_back(h);
  }
  HopRef end;
  end.ttl = end_ttl;
  r.blocked_hop = end;
  return r;
}

TEST(PathTest, SilentHopsDoNotMakeANewPathButOtherAddressesDo) {
  TraceResult a = PathOf({{1, "10.0.0.2"}, {2, "10.0.1.2"}, {3, "198.51.100.2"}}, 3);
  TraceResult policed = PathOf({{1, "10.0.0.2"}, {2, nullptr}, {3, "198.51.100.2"}}, 3);
  TraceResult other_branch = PathOf({{1, "10.0.0.2"}, {2, "10.0.9.2"}, {3, "198.51.100.2"}}, 3);
  TraceResult longer = PathOf({{1, "10.0.0.2"}, {2, "10.0.1.2"}, {3, "198.51.100.2"}}, 4);
  EXPECT_FALSE(PathChanged(a, policed));
  EXPECT_FALSE(PathChanged(a, a));
  EXPECT_TRUE(PathChanged(a, other_branch));
  EXPECT_TRUE(PathChanged(a, longer));
  EXPECT_EQ(PathId(a), PathId(PathOf({{1, "10.0.0.2"}, {2, "10.0.1.2"}, {3, "198.51.100.2"}}, 3)));
  EXPECT_NE(PathId(a), PathId(other_branch));
  EXPECT_EQ(PathId(a).size(), 16u);
}

}  // namespace
}  // namespace portpath::probe
