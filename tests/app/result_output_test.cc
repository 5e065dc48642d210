// The JSON and text renderings a script or a person reads: the fields the
// README promises, with MPLS labels and AS names where the hop reported them.
#include "app/result_output.h"

#include <gtest/gtest.h>

namespace portpath::app {
namespace {

packet::IpAddress Ip(const char* s) { return *packet::IpAddress::Parse(s); }

probe::TraceResult FilteredWithMpls() {
  probe::TraceResult r;
  r.target = "192.0.2.10:9443";
  r.host = "192.0.2.10";
  r.address = Ip("192.0.2.10");
  r.port = 9443;
  r.outcome = probe::Outcome::kFiltered;
  probe::Hop h1;
  h1.ttl = 1;
  h1.address = Ip("10.0.0.2");
  h1.reply = probe::HopReply::kTimeExceeded;
  h1.probes = {{0.5, Ip("10.0.0.2")}, {std::nullopt, std::nullopt}};
  probe::Hop h2;
  h2.ttl = 2;
  h2.address = Ip("198.51.100.18");
  h2.reply = probe::HopReply::kTimeExceeded;
  h2.probes = {{1.25, Ip("198.51.100.18")}};
  h2.asn = 64500;
  h2.as_org = "Example Transit, Inc.";
  h2.mpls = {{16006, 0, false, 1}, {2, 5, true, 254}};
  r.hops = {h1, h2};
  probe::HopRef b;
  b.ttl = 2;
  b.address = Ip("198.51.100.18");
  b.address_class = probe::AddressClass::kDocumentation;
  b.asn = 64500;
  b.as_org = "Example Transit, Inc.";
  r.blocked_hop = b;
  r.last_responding_hop = b;
  r.icmp_reachable = true;
  r.divergence_hop = 2;
  return r;
}

TEST(ResultOutputTest, JsonCarriesMplsAsnAndPingFields) {
  std::string json = ResultToJson(FilteredWithMpls());
  EXPECT_NE(
      json.find(
          R"("mpls":[{"label":16006,"tc":0,"s":false,"ttl":1},{"label":2,"tc":5,"s":true,"ttl":254}])"),
      std::string::npos)
      << json;
  EXPECT_NE(
      json.find(
          R"("blocked_hop":{"ttl":2,"address":"198.51.100.18","address_class":"documentation","asn":64500,"as_org":"Example Transit, Inc."})"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("icmp_reachable":true,"divergence_hop":2)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("rtt_ms":[0.500,null])"), std::string::npos) << json;
  // A hop without labels has no "mpls" key, and an unknown AS is null.
  EXPECT_NE(json.find(R"("reply":"time_exceeded","asn":null,"as_org":null})"), std::string::npos)
      << json;
}

TEST(ResultOutputTest, TextShowsLabelsLikeTracerouteE) {
  probe::TraceSettings s;
  std::string text = ResultToText(FilteredWithMpls(), s);
  EXPECT_NE(
      text.find(
          " 2  198.51.100.18 [AS64500]  1.250 ms  <MPLS:L=16006,E=0,S=0,T=1/L=2,E=5,S=1,T=254>"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(" 1  10.0.0.2  0.500 ms  *"), std::string::npos) << text;
  EXPECT_NE(text.find("AS64500 Example Transit, Inc., so contact that provider"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace portpath::app
