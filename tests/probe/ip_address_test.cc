#include "probe/packet/ip_address.h"

#include <gtest/gtest.h>

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

TEST(IpAddressTest, OrdersAndComparesByFamilyAndBytes) {
  EXPECT_EQ(*IpAddress::Parse("10.0.0.1"), IpAddress::V4(0x0a000001));
  EXPECT_NE(*IpAddress::Parse("10.0.0.1"), *IpAddress::Parse("::ffff:10.0.0.1"));
}

}  // namespace portpath::packet
