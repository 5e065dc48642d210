#include "probe/address_class.h"

#include <gtest/gtest.h>

#include <ostream>

namespace portpath::probe {

// Readable failures: "unique-local" rather than a 4-byte object.
void PrintTo(AddressClass c, std::ostream* os) { *os << ToString(c); }

namespace {

AddressClass Class(const char* text) { return ClassifyAddress(*packet::IpAddress::Parse(text)); }

struct Case {
  const char* address;
  AddressClass want;
};

TEST(AddressClassTest, Ipv4SpecialPurposeRegistry) {
  const Case cases[] = {
      {"10.0.0.1", AddressClass::kPrivate},
      {"10.255.255.255", AddressClass::kPrivate},
      {"172.16.0.1", AddressClass::kPrivate},
      {"172.31.255.255", AddressClass::kPrivate},
      {"172.32.0.1", AddressClass::kPublic},
      {"172.15.255.255", AddressClass::kPublic},
      {"192.168.1.1", AddressClass::kPrivate},
      {"192.169.0.1", AddressClass::kPublic},
      {"100.64.0.1", AddressClass::kShared},
      {"100.127.255.255", AddressClass::kShared},
      {"100.63.255.255", AddressClass::kPublic},
      {"100.128.0.0", AddressClass::kPublic},
      {"127.0.0.1", AddressClass::kLoopback},
      {"169.254.10.1", AddressClass::kLinkLocal},
      {"192.0.2.10", AddressClass::kDocumentation},
      {"198.51.100.18", AddressClass::kDocumentation},
      {"203.0.113.2", AddressClass::kDocumentation},
      {"198.18.0.1", AddressClass::kBenchmarking},
      {"198.19.255.255", AddressClass::kBenchmarking},
      {"198.17.255.255", AddressClass::kPublic},
      {"198.20.0.0", AddressClass::kPublic},
      {"224.0.0.1", AddressClass::kMulticast},
      {"239.255.255.250", AddressClass::kMulticast},
      {"0.0.0.0", AddressClass::kReserved},
      {"240.0.0.1", AddressClass::kReserved},
      {"255.255.255.255", AddressClass::kReserved},
      {"192.0.0.8", AddressClass::kReserved},
      {"192.88.99.1", AddressClass::kReserved},
      {"111.13.108.22", AddressClass::kPublic},
      {"8.8.8.8", AddressClass::kPublic},
  };
  for (const Case& c : cases) EXPECT_EQ(Class(c.address), c.want) << c.address;
}

TEST(AddressClassTest, Ipv6SpecialPurposeRegistry) {
  const Case cases[] = {
      {"::1", AddressClass::kLoopback},
      {"::", AddressClass::kReserved},
      {"fc00::1", AddressClass::kUniqueLocal},
      {"fd00:0:1::2", AddressClass::kUniqueLocal},
      {"fdff:ffff::1", AddressClass::kUniqueLocal},
      {"fe80::1", AddressClass::kLinkLocal},
      {"febf:ffff::1", AddressClass::kLinkLocal},
      {"fec0::1", AddressClass::kPublic},  // not link-local: fe80::/10 ends at febf
      {"ff02::1", AddressClass::kMulticast},
      {"2001:db8::1", AddressClass::kDocumentation},
      {"2001:db8:ffff:ffff::1", AddressClass::kDocumentation},
      {"2001:db9::1", AddressClass::kPublic},
      {"3fff::1", AddressClass::kDocumentation},
      {"3fff:fff::1", AddressClass::kDocumentation},
      {"2001:2::1", AddressClass::kBenchmarking},
      {"2001:2:0:ffff::1", AddressClass::kBenchmarking},
      {"2001:2:1::1", AddressClass::kReserved},  // 2001::/23 but outside 2001:2::/48
      {"100::1", AddressClass::kReserved},       // discard-only
      {"2001::1", AddressClass::kReserved},      // TEREDO, in 2001::/23
      {"::ffff:10.0.0.1", AddressClass::kPrivate},
      {"::ffff:100.64.1.1", AddressClass::kShared},
      {"::ffff:111.13.108.22", AddressClass::kPublic},
      {"2400:3200::1", AddressClass::kPublic},
      {"2a00:1450:4001::1", AddressClass::kPublic},
  };
  for (const Case& c : cases) EXPECT_EQ(Class(c.address), c.want) << c.address;
}

TEST(AddressClassTest, DocumentationPrefix3fffIsOnlyASlashTwenty) {
  // RFC 9637 reserves 3fff::/20 (3fff:0000:: to 3fff:0fff::) for documentation; the
  // rest of 3fff::/16 is ordinary global unicast space.
  EXPECT_EQ(Class("3fff:1000::1"), AddressClass::kPublic);
  EXPECT_EQ(Class("3fff:ffff::1"), AddressClass::kPublic);
}

TEST(AddressClassTest, IntranetMeansSomeonesOwnNetwork) {
  for (const char* a :
       {"10.0.0.1", "100.64.0.1", "fd00::1", "fe80::1", "127.0.0.1", "::ffff:192.168.0.1"})
    EXPECT_TRUE(IsIntranet(Class(a))) << a;
  for (const char* a :
       {"111.13.108.22", "2400:3200::1", "198.51.100.18", "2001:db8::1", "198.18.0.1", "224.0.0.1"})
    EXPECT_FALSE(IsIntranet(Class(a))) << a;
}

TEST(AddressClassTest, NamesForTheVerdict) {
  EXPECT_EQ(ToString(AddressClass::kPrivate), "private");
  EXPECT_EQ(ToString(AddressClass::kShared), "shared");
  EXPECT_EQ(ToString(AddressClass::kUniqueLocal), "unique-local");
  EXPECT_EQ(ToString(AddressClass::kPublic), "public");
}

}  // namespace
}  // namespace portpath::probe
