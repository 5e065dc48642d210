#include "config/scalars.h"

#include <gtest/gtest.h>

#include <string>

namespace portpath::config {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

TEST(ScalarsTest, ParsesDurationsWithUnits) {
  EXPECT_EQ(ParseDuration("500ms"), 500ms);
  EXPECT_EQ(ParseDuration("1s"), 1s);
  EXPECT_EQ(ParseDuration("2m"), 2min);
  EXPECT_EQ(ParseDuration("1h"), 1h);
  EXPECT_EQ(ParseDuration("1h30m"), 90min);
  EXPECT_EQ(ParseDuration("1m30s250ms"), 90250ms);
  EXPECT_EQ(ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(ParseDuration("0.25h"), 15min);
  EXPECT_EQ(ParseDuration("0s"), 0ms);
}

TEST(ScalarsTest, ReadsBareIntegersAsSeconds) {
  EXPECT_EQ(ParseDuration("30"), 30s);
  EXPECT_EQ(ParseDuration("0"), 0s);
}

TEST(ScalarsTest, RejectsMalformedDurations) {
  for (const char* text : {"", "abc", "s", "-1s", "-1", "1.5", "1x", "10 s", "1s1m", "1s1s", "1.s",
                           ".s", "0.5ms", "1S", "+5s", "5s "}) {
    EXPECT_EQ(ParseDuration(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ScalarsTest, ClampsHugeDurationsInsteadOfOverflowing) {
  // Out of every range, but still a duration, so the user hears "must be between".
  EXPECT_GT(*ParseDuration("99999999999999999999h"), 24h * 365 * 30);
  EXPECT_GT(*ParseDuration("999999999999"), 24h * 365 * 30);
  EXPECT_GT(*ParseDuration("999999999999h999999999999m"), 24h * 365 * 30);
}

TEST(ScalarsTest, FormatsDurationsTheWayTheyAreWritten) {
  EXPECT_EQ(FormatDuration(0ms), "0s");
  EXPECT_EQ(FormatDuration(10ms), "10ms");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
  EXPECT_EQ(FormatDuration(30s), "30s");
  EXPECT_EQ(FormatDuration(60s), "1m");
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(24h), "24h");
  EXPECT_EQ(FormatDuration(-2s), "-2s");
  for (milliseconds d : {1ms, 999ms, 61001ms, 3723004ms}) {
    EXPECT_EQ(ParseDuration(FormatDuration(d)), d) << FormatDuration(d);
  }
}

TEST(ScalarsTest, ParsesPercentages) {
  EXPECT_EQ(ParsePercentHundredths("10%"), 1000);
  EXPECT_EQ(ParsePercentHundredths("0%"), 0);
  EXPECT_EQ(ParsePercentHundredths("12.5%"), 1250);
  EXPECT_EQ(ParsePercentHundredths("12.25%"), 1225);
  for (const char* text : {"10", "%", "1.%", ".5%", "12.345%", "-1%", "10 %", "a%"}) {
    EXPECT_EQ(ParsePercentHundredths(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ScalarsTest, ParsesIntegersStrictly) {
  EXPECT_EQ(ParseInteger("42"), 42);
  EXPECT_EQ(ParseInteger("-3"), -3);
  for (const char* text : {"", "+1", " 1", "1 ", "0x10", "1.0", "99999999999999999999"}) {
    EXPECT_EQ(ParseInteger(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ScalarsTest, ParsesFiniteNumbers) {
  EXPECT_EQ(ParseNumber("1000"), 1000.0);
  EXPECT_EQ(ParseNumber("2.5"), 2.5);
  EXPECT_EQ(ParseNumber("1e3"), 1000.0);
  for (const char* text : {"", "inf", "nan", "fast", "1,000"}) {
    EXPECT_EQ(ParseNumber(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ScalarsTest, AcceptsIpLiteralsAndRfc1123Names) {
  EXPECT_EQ(CheckHost("192.0.2.1").kind, HostKind::kIpv4);
  EXPECT_EQ(CheckHost("2001:db8::1").kind, HostKind::kIpv6);
  EXPECT_EQ(CheckHost("::ffff:192.0.2.1").kind, HostKind::kIpv6);
  for (const char* name : {"localhost", "db.example.com", "db.example.com.", "3com.example",
                           "a-b.c0", "XN--BCHER-KVA.example"}) {
    HostCheck check = CheckHost(name);
    EXPECT_EQ(check.kind, HostKind::kHostName) << name << ": " << check.problem;
    EXPECT_EQ(check.problem, "");
  }
  EXPECT_EQ(CheckHost(std::string(63, 'a') + ".example").kind, HostKind::kHostName);
}

TEST(ScalarsTest, ExplainsWhatIsWrongWithAHost) {
  const std::string long_label(64, 'a');
  struct Case {
    std::string host;
    std::string problem;
  };
  const Case cases[] = {
      {"", "the host is empty"},
      {"db_1.example.com",
       "'db_1.example.com' is not a valid host name or IP address: label 'db_1' contains '_'"},
      {"db 1", "'db 1' is not a valid host name or IP address: label 'db 1' contains a space"},
      {"-db.example.com",
       "'-db.example.com' is not a valid host name or IP address: label '-db' starts with a "
       "hyphen"},
      {"db-.example.com",
       "'db-.example.com' is not a valid host name or IP address: label 'db-' ends with a hyphen"},
      {"db..example.com",
       "'db..example.com' is not a valid host name or IP address: it has an empty label (two dots "
       "in a row?)"},
      {".", "'.' is not a valid host name or IP address: it has no labels"},
      {long_label + ".com", "'" + long_label +
                                ".com' is not a valid host name or IP address: label '" +
                                long_label + "' is longer than 63 characters"},
      {"1.2.3.999", "'1.2.3.999' is not a valid IPv4 address"},
      {"10.1", "'10.1' is not a valid IPv4 address"},
      {"example.123",
       "'example.123' is not a valid host name or IP address: its last label '123' is all digits"},
      {"[2001:db8::1]",
       "'[2001:db8::1]' has brackets: write IPv6 addresses without them, as "
       "2001:db8::1"},
      {"[2001:db8::1]:443",
       "'[2001:db8::1]:443' has brackets: write IPv6 addresses without "
       "them, as 2001:db8::1, and list ports under 'ports'"},
      {"example.com:443", "'example.com:443' contains a port: list ports under 'ports'"},
      {"2001:db8::g", "'2001:db8::g' is not a valid IPv6 address"},
      {"fe80::1%eth0",
       "'fe80::1%eth0' has an IPv6 zone index, which is not supported; use a "
       "global address and set 'interface' if needed"},
      {"https://example.com",
       "'https://example.com' is a URL: give only the host name or IP address"},
      // Quoted values are escaped: bytes outside printable ASCII never reach a terminal raw.
      {"b\xc3\xbc"
       "cher.example",
       "'b\\xc3\\xbccher.example' is not a valid host name or IP address: label "
       "'b\\xc3\\xbccher' contains a non-ASCII character (write internationalized names in "
       "their xn-- form)"},
      {"\x1b[2Jevil.example",
       "'\\x1b[2Jevil.example' is not a valid host name or IP address: label '\\x1b[2Jevil' "
       "contains a control character '\\x1b'"},
      {"a\tb",
       "'a\\x09b' is not a valid host name or IP address: label 'a\\x09b' contains a "
       "control character '\\x09'"},
      {"2130706433", "'2130706433' is not a valid IPv4 address"},
  };
  for (const Case& c : cases) {
    HostCheck check = CheckHost(c.host);
    EXPECT_EQ(check.kind, std::nullopt) << c.host;
    EXPECT_EQ(check.problem, c.problem) << c.host;
  }
  const std::string label(63, 'a');
  const std::string too_long = label + "." + label + "." + label + "." + label;  // 255 characters
  EXPECT_EQ(CheckHost(too_long).problem,
            "'" + too_long +
                "' is not a valid host name or IP address: it is longer than 253 "
                "characters");
  EXPECT_EQ(CheckHost(too_long.substr(2)).kind, HostKind::kHostName);
}

TEST(ScalarsTest, ParsesPortsStrictly) {
  EXPECT_EQ(ParsePort("1"), 1);
  EXPECT_EQ(ParsePort("443"), 443);
  EXPECT_EQ(ParsePort("65535"), 65535);
  for (const char* bad : {"0", "65536", "-1", "+80", "0x50", " 80", "80 ", "", "8o", "99999999999"})
    EXPECT_EQ(ParsePort(bad), std::nullopt) << bad;
}

TEST(ScalarsTest, EscapesEverythingButPrintableAscii) {
  EXPECT_EQ(EscapeForDisplay("db-1.example.com:443"), "db-1.example.com:443");
  EXPECT_EQ(EscapeForDisplay("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(EscapeForDisplay(std::string("\0\n\r\x7f\x9b\xff", 6)),
            "\\x00\\x0a\\x0d\\x7f\\x9b\\xff");
  // A backslash is doubled, so an escaped control byte and the text "\x1b" differ.
  EXPECT_EQ(EscapeForDisplay("a\\x1b"), "a\\\\x1b");
}

TEST(ScalarsTest, HostIdentityComparesSpellingsOfTheSameHost) {
  EXPECT_EQ(HostIdentity("DB.Example.COM"), HostIdentity("db.example.com"));
  EXPECT_EQ(HostIdentity("db.example.com."), HostIdentity("db.example.com"));
  EXPECT_EQ(HostIdentity("2001:DB8:0::1"), HostIdentity("2001:db8::1"));
  EXPECT_NE(HostIdentity("db.example.com"), HostIdentity("db2.example.com"));
  EXPECT_NE(HostIdentity("192.0.2.1"), HostIdentity("::ffff:192.0.2.1"));
}

TEST(ScalarsTest, EditDistanceCountsTranspositionsAsOne) {
  EXPECT_EQ(EditDistance("timeout", "timeout"), 0);
  EXPECT_EQ(EditDistance("timout", "timeout"), 1);
  EXPECT_EQ(EditDistance("tiemout", "timeout"), 1);
  EXPECT_EQ(EditDistance("Timeout", "timeout"), 0);
  EXPECT_EQ(EditDistance("intreval", "interval"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
}

}  // namespace
}  // namespace portpath::config
