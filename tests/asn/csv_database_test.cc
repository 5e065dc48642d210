#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "probe/asn/asn_database.h"
#include "tests/asn/test_util.h"

namespace portpath::asn {
namespace {

using ::portpath::asn::testing::Fixture;
using ::portpath::asn::testing::Ip;
using ::portpath::asn::testing::ScratchDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<AsnDatabase> Fixtures() {
  return LoadCsvAsnDatabase({Fixture("asn-ipv4.csv"), Fixture("asn-ipv6.csv")});
}

std::optional<std::uint32_t> AsnOf(const AsnDatabase& db, std::string_view address) {
  auto info = db.Lookup(Ip(address));
  if (!info) return std::nullopt;
  return info->asn;
}

// The message of the std::runtime_error that parsing `text` throws.
std::string ParseError(std::string_view text) {
  try {
    ParseCsvAsnDatabase(text, "mem.csv");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text;
  return {};
}

TEST(CsvAsnDatabaseTest, LoadsBothFamilyFiles) {
  auto db = Fixtures();
  EXPECT_EQ(db->size(), 12u);
  EXPECT_EQ(db->format(), "ip-location-db-csv");
}

TEST(CsvAsnDatabaseTest, HitsFirstAndLastAddressOfARangeButNotOnePast) {
  auto db = Fixtures();
  EXPECT_EQ(db->Lookup(Ip("192.0.2.0")), (AsInfo{64496, "Documentation Net One"}));
  EXPECT_EQ(db->Lookup(Ip("192.0.2.77")), (AsInfo{64496, "Documentation Net One"}));
  EXPECT_EQ(db->Lookup(Ip("192.0.2.255")), (AsInfo{64496, "Documentation Net One"}));
  EXPECT_EQ(db->Lookup(Ip("192.0.3.0")), std::nullopt);
  EXPECT_EQ(db->Lookup(Ip("192.0.1.255")), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "198.51.100.127"), 64497u);
  EXPECT_EQ(AsnOf(*db, "198.51.100.128"), std::nullopt);
}

TEST(CsvAsnDatabaseTest, MissesBetweenAndOutsideRanges) {
  auto db = Fixtures();
  EXPECT_EQ(db->Lookup(Ip("8.8.8.8")), std::nullopt);
  EXPECT_EQ(db->Lookup(Ip("0.0.1.0")), std::nullopt);
  EXPECT_EQ(db->Lookup(Ip("255.255.254.255")), std::nullopt);
}

TEST(CsvAsnDatabaseTest, QuotedOrganisationKeepsCommaAndUnescapesDoubledQuotes) {
  auto db = Fixtures();
  EXPECT_EQ(db->Lookup(Ip("203.0.113.1")), (AsInfo{64500, "Example Transit, Inc."}));
  EXPECT_EQ(db->Lookup(Ip("203.0.113.128")), (AsInfo{64501, "Example Transit, Inc."}));
  EXPECT_EQ(db->Lookup(Ip("198.51.100.9")), (AsInfo{64497, "LLC \"QUOTED\" Networks"}));
}

TEST(CsvAsnDatabaseTest, EdgesOfTheIpv4SpaceAndExtremeAsNumbers) {
  auto db = Fixtures();
  EXPECT_EQ(db->Lookup(Ip("0.0.0.0")), (AsInfo{0, "Zero Net"}));
  EXPECT_EQ(db->Lookup(Ip("255.255.255.255")), (AsInfo{4294967294u, "Top Of Space"}));
  EXPECT_EQ(AsnOf(*db, "255.255.255.0"), 4294967294u);
}

TEST(CsvAsnDatabaseTest, UnsortedInputIsSortedAfterLoad) {
  // The fixture starts with 203.0.113.0; the same lines reversed must give the same answers.
  auto db = ParseCsvAsnDatabase(
      "198.51.100.0,198.51.100.255,3,C\n"
      "192.0.2.128,192.0.2.255,2,B\n"
      "192.0.2.0,192.0.2.127,1,A\n"
      "10.0.0.0,10.0.0.255,4,D\n",
      "mem.csv");
  EXPECT_EQ(AsnOf(*db, "10.0.0.0"), 4u);
  EXPECT_EQ(AsnOf(*db, "192.0.2.127"), 1u);
  EXPECT_EQ(AsnOf(*db, "192.0.2.128"), 2u);
  EXPECT_EQ(AsnOf(*db, "198.51.100.255"), 3u);
  EXPECT_EQ(AsnOf(*db, "192.0.3.0"), std::nullopt);
}

TEST(CsvAsnDatabaseTest, NestedRangeWinsInsideAndWiderRangeCoversAroundIt) {
  auto db = Fixtures();  // 10.0.0.0/8 AS64512 contains 10.1.0.0/16 AS64513
  EXPECT_EQ(AsnOf(*db, "10.0.0.1"), 64512u);
  EXPECT_EQ(AsnOf(*db, "10.0.255.255"), 64512u);
  EXPECT_EQ(AsnOf(*db, "10.1.0.0"), 64513u);
  EXPECT_EQ(AsnOf(*db, "10.1.255.255"), 64513u);
  EXPECT_EQ(AsnOf(*db, "10.2.0.0"), 64512u);
  EXPECT_EQ(AsnOf(*db, "10.255.255.255"), 64512u);
  EXPECT_EQ(AsnOf(*db, "11.0.0.0"), std::nullopt);
}

TEST(CsvAsnDatabaseTest, PartialOverlapPrefersTheLaterStart) {
  // The shape of the one overlap in the published data (214.95/215.0, AS749 and AS721).
  auto db = ParseCsvAsnDatabase(
      "214.95.0.0,215.0.255.255,749,United States Department of Defense (DoD)\n"
      "215.0.0.0,215.1.3.255,721,DoD Network Information Center\n",
      "mem.csv");
  EXPECT_EQ(AsnOf(*db, "214.95.0.0"), 749u);
  EXPECT_EQ(AsnOf(*db, "214.255.255.255"), 749u);
  EXPECT_EQ(AsnOf(*db, "215.0.0.0"), 721u);
  EXPECT_EQ(AsnOf(*db, "215.1.3.255"), 721u);
  EXPECT_EQ(AsnOf(*db, "215.1.4.0"), std::nullopt);
}

TEST(CsvAsnDatabaseTest, EqualStartsLaterLineWins) {
  auto db = ParseCsvAsnDatabase(
      "192.0.2.0,192.0.2.255,1,First\n"
      "192.0.2.0,192.0.2.15,2,Second\n",
      "mem.csv");
  EXPECT_EQ(AsnOf(*db, "192.0.2.3"), 2u);
  EXPECT_EQ(AsnOf(*db, "192.0.2.16"), 1u);  // past the later, shorter one: the first covers it
}

TEST(CsvAsnDatabaseTest, Ipv6HitsBoundariesAndMisses) {
  auto db = Fixtures();
  EXPECT_EQ(db->Lookup(Ip("2001:db8::")), (AsInfo{64498, "Documentation Six"}));
  EXPECT_EQ(AsnOf(*db, "2001:db8::1"), 64498u);
  EXPECT_EQ(AsnOf(*db, "2001:db8:0:ffff:ffff:ffff:ffff:ffff"), 64498u);
  EXPECT_EQ(AsnOf(*db, "2001:db8:1::"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "2001:db8:ff:ffff:ffff:ffff:ffff:ffff"), std::nullopt);
  EXPECT_EQ(db->Lookup(Ip("2001:db8:100::")), (AsInfo{64499, "Example Six, Ltd."}));
  EXPECT_EQ(AsnOf(*db, "2001:db8:1ff:ffff:ffff:ffff:ffff:ffff"), 64499u);
  EXPECT_EQ(AsnOf(*db, "2001:db8:200::"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "::"), 65000u);
  EXPECT_EQ(AsnOf(*db, "::ff"), 65000u);
  EXPECT_EQ(AsnOf(*db, "::100"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00"), 65001u);
  EXPECT_EQ(AsnOf(*db, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 65001u);
  EXPECT_EQ(AsnOf(*db, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:feff"), std::nullopt);
}

TEST(CsvAsnDatabaseTest, FamiliesDoNotMix) {
  // 192.0.2.0 is 0xC0000200: the IPv6 address with the same low bits must not hit it.
  auto db = Fixtures();
  EXPECT_EQ(AsnOf(*db, "::c000:201"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "0.0.0.1"), 0u);  // IPv4 0.0.0.1 is in Zero Net, not in IPv6 "::/120"
}

TEST(CsvAsnDatabaseTest, Ipv4MappedIpv6AddressUsesTheIpv4Table) {
  auto db = Fixtures();
  EXPECT_EQ(AsnOf(*db, "::ffff:192.0.2.1"), 64496u);
  EXPECT_EQ(AsnOf(*db, "::ffff:192.0.3.1"), std::nullopt);
}

TEST(CsvAsnDatabaseTest, ToleratesCrlfBomBlankLinesAndMissingOrganisation) {
  auto db = ParseCsvAsnDatabase(
      "\xEF\xBB\xBF"
      "192.0.2.0,192.0.2.255,64496,\"Doc, One\"\r\n"
      "\r\n"
      "198.51.100.0,198.51.100.255,64497\n"
      "203.0.113.0,203.0.113.255,64500,Unquoted, with comma\n",
      "mem.csv");
  EXPECT_EQ(db->size(), 3u);
  EXPECT_EQ(db->Lookup(Ip("192.0.2.1")), (AsInfo{64496, "Doc, One"}));
  EXPECT_EQ(db->Lookup(Ip("198.51.100.1")), (AsInfo{64497, ""}));
  EXPECT_EQ(db->Lookup(Ip("203.0.113.1")), (AsInfo{64500, "Unquoted, with comma"}));
}

TEST(CsvAsnDatabaseTest, ErrorsNameFileAndLine) {
  const std::string good = "192.0.2.0,192.0.2.255,64496,Doc\n";
  EXPECT_THAT(ParseError(good + "192.0.2.x,192.0.2.255,1,A\n"),
              StartsWith("mem.csv:2: unparsable first address '192.0.2.x'"));
  EXPECT_THAT(ParseError(good + good + "192.0.2.0,300.0.0.1,1,A\n"),
              StartsWith("mem.csv:3: unparsable last address '300.0.0.1'"));
  EXPECT_THAT(ParseError("192.0.2.0,2001:db8::1,1,A\n"),
              AllOf(StartsWith("mem.csv:1: "), HasSubstr("different families")));
  EXPECT_THAT(ParseError(good + "192.0.2.9,192.0.2.8,1,A\n"),
              AllOf(StartsWith("mem.csv:2: "), HasSubstr("'192.0.2.9' is after last address")));
  EXPECT_THAT(ParseError("2001:db8::2,2001:db8::1,1,A\n"),
              AllOf(StartsWith("mem.csv:1: "), HasSubstr("is after last address")));
  EXPECT_THAT(ParseError(good + "192.0.2.0,192.0.2.1,AS64496,A\n"),
              StartsWith("mem.csv:2: AS number 'AS64496' is not a number"));
  EXPECT_THAT(ParseError("192.0.2.0,192.0.2.1,4294967296,A\n"),
              StartsWith("mem.csv:1: AS number '4294967296' is not a number"));
  EXPECT_THAT(ParseError("192.0.2.0,192.0.2.1,-1,A\n"), StartsWith("mem.csv:1: AS number '-1'"));
  EXPECT_THAT(ParseError("192.0.2.0,192.0.2.1,,A\n"), StartsWith("mem.csv:1: AS number ''"));
  EXPECT_THAT(ParseError(good + "192.0.2.0,192.0.2.1\n"),
              StartsWith("mem.csv:2: expected first,last,asn,org"));
  EXPECT_THAT(ParseError("192.0.2.0,192.0.2.1,1,\"Open\n"),
              StartsWith("mem.csv:1: unterminated quoted organisation"));
  EXPECT_THAT(ParseError("192.0.2.0,192.0.2.1,1,\"Closed\" trailing\n"),
              StartsWith("mem.csv:1: text after the closing quote"));
  EXPECT_EQ(ParseError(""), "mem.csv: no address ranges");
  EXPECT_EQ(ParseError("\n\r\n"), "mem.csv: no address ranges");
}

TEST(CsvAsnDatabaseTest, ErrorsInFilesNameThePath) {
  const std::string backwards = Fixture("bad-first-after-last.csv");
  try {
    LoadCsvAsnDatabase({Fixture("asn-ipv4.csv"), backwards});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(backwards + ":3: first address '203.0.113.200'"));
  }
  const std::string mixed = Fixture("bad-mixed-families.csv");
  try {
    OpenAsnDatabase(mixed);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(mixed + ":2: "));
    EXPECT_THAT(e.what(), HasSubstr("different families"));
  }
}

TEST(CsvAsnDatabaseTest, MissingFileIsAnError) {
  ScratchDir dir;
  const std::string missing = dir.path() + "/nope.csv";
  try {
    LoadCsvAsnDatabase({missing});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": No such file or directory");
  }
}

TEST(CsvAsnDatabaseTest, ConcurrentLookupsAgreeWithSingleThreaded) {
  auto db = Fixtures();
  const std::vector<std::string> addresses = {
      "192.0.2.0",   "192.0.3.0", "10.1.2.3", "10.2.0.0",        "203.0.113.200",
      "2001:db8::1", "::ff",      "8.8.8.8",  "255.255.255.255", "2001:db8:1ff::"};
  std::vector<std::optional<AsInfo>> expected;
  expected.reserve(addresses.size());
  for (const auto& a : addresses) expected.push_back(db->Lookup(Ip(a)));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2000; ++round) {
        for (std::size_t i = 0; i < addresses.size(); ++i) {
          if (db->Lookup(*packet::IpAddress::Parse(addresses[i])) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace portpath::asn
