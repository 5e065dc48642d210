#include "config/host_checks.h"

#include <gtest/gtest.h>

#include <string>

namespace portpath::config {
namespace {

// Every host has a loopback interface with 127.0.0.1, and none owns the documentation ranges.
TEST(LocalSourceTest, OnlyAddressesOfThisHost) {
  EXPECT_EQ(CheckLocalSource("127.0.0.1"), "");
  EXPECT_EQ(CheckLocalSource("192.0.2.77"),
            "192.0.2.77 is not an address of this host: probes from it would be spoofed and "
            "their answers would never come back here (see 'ip address')");
  EXPECT_NE(CheckLocalSource("2001:db8::77"), "");
  EXPECT_EQ(CheckLocalSource("eth0"), "'eth0' is not an IPv4 or IPv6 address");
}

TEST(InterfaceTest, OnlyInterfacesOfThisHost) {
  EXPECT_EQ(CheckInterface("lo"), "");
  EXPECT_EQ(CheckInterface("nosuchif0"), "no interface 'nosuchif0' on this host (see 'ip link')");
  EXPECT_EQ(CheckInterface("\x1b[2J"), "no interface '\\x1b[2J' on this host (see 'ip link')");
  EXPECT_NE(CheckInterface(std::string(40, 'e')), "");
  EXPECT_NE(CheckInterface(""), "");
  EXPECT_NE(CheckInterface(std::string("lo\0x", 4)), "");
}

// The loader checks the form; the host check names the same place in the file.
TEST(CheckAgainstHostTest, NamesTheKeysPlaceInTheFile) {
  ParseResult loaded = TryParseConfig(
      "rate: 100\nsource:   192.0.2.77\ninterface: nosuchif0\ntargets:\n"
      "  - host: 192.0.2.1\n    port: 443\n",
      "serve.yaml");
  ASSERT_TRUE(loaded.ok());
  auto errors = CheckAgainstHost(*loaded.config);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_STREQ(errors[0].what(),
               "serve.yaml:2:11: source: 192.0.2.77 is not an address of this host: probes from "
               "it would be spoofed and their answers would never come back here (see 'ip "
               "address')");
  EXPECT_STREQ(errors[1].what(),
               "serve.yaml:3:12: interface: no interface 'nosuchif0' on this host (see 'ip link')");
}

TEST(CheckAgainstHostTest, AcceptsThisHostsAddressAndInterfaceAndUnsetOnes) {
  ParseResult loaded = TryParseConfig(
      "source: 127.0.0.1\ninterface: lo\ntargets:\n  - host: 127.0.0.1\n    port: 443\n", "a.yaml");
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(CheckAgainstHost(*loaded.config).empty());
  loaded = TryParseConfig("targets:\n  - host: 127.0.0.1\n    port: 443\n", "b.yaml");
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(CheckAgainstHost(*loaded.config).empty());
}

}  // namespace
}  // namespace portpath::config
