#include "probe/packet/ip_address.h"

#include <gtest/gtest.h>

#include <string_view>

namespace portpath::packet {

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  EXPECT_EQ(IpAddress::Parse("192.0.2.1")->ToString(), "192.0.2.1");
  EXPECT_TRUE(IpAddress::Parse("192.0.2.1")->is_v4());
  EXPECT_EQ(IpAddress::Parse("2001:DB8::1")->ToString(), "2001:db8::1");
  EXPECT_TRUE(IpAddress::Parse("2001:db8::1")->is_v6());
}

TEST(IpAddressTest, RejectsNonLiterals) {
  EXPECT_FALSE(IpAddress::Parse(""));
  EXPECT_FALSE(IpAddress::Parse("example.com"));
  EXPECT_FALSE(IpAddress::Parse("[2001:db8::1]"));
  EXPECT_FALSE(IpAddress::Parse("256.1.1.1"));
}

// A NUL ends the text for inet_pton, not for the caller: what follows it must not be dropped
// silently (tests/fuzz/regressions/target/nul-after-ipv6-literal).
TEST(IpAddressTest, RejectsTextWithAnEmbeddedNul) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(IpAddress::Parse("::\0\xef"sv));
  EXPECT_FALSE(IpAddress::Parse("192.0.2.1\0.example"sv));
  EXPECT_FALSE(IpAddress::Parse("192.0.2.1\0"sv));
}

TEST(IpAddressTest, OrdersAndComparesByFamilyAndBytes) {
  EXPECT_EQ(*IpAddress::Parse("10.0.0.1"), IpAddress::V4(0x0a000001));
  EXPECT_NE(*IpAddress::Parse("10.0.0.1"), *IpAddress::Parse("::ffff:10.0.0.1"));
}

}  // namespace portpath::packet
