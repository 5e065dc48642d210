// MaxMind DB reading and OpenAsnDatabase's choice of format, directories and lists.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "probe/asn/asn_database.h"
#include "tests/asn/test_util.h"

namespace portpath::asn {
namespace {

using ::portpath::asn::testing::Fixture;
using ::portpath::asn::testing::Ip;
using ::portpath::asn::testing::ScratchDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::optional<std::uint32_t> AsnOf(const AsnDatabase& db, std::string_view address) {
  auto info = db.Lookup(Ip(address));
  if (!info) return std::nullopt;
  return info->asn;
}

std::string OpenError(const std::string& spec) {
  try {
    OpenAsnDatabase(spec);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << spec;
  return {};
}

TEST(MmdbAsnDatabaseTest, RecognisedByContentAndReadsGeoLite2Fields) {
  auto db = OpenAsnDatabase(Fixture("asn-test.mmdb"));
  EXPECT_EQ(db->format(), "mmdb");
  EXPECT_GT(db->size(), 0u);
  EXPECT_EQ(db->Lookup(Ip("192.0.2.7")), (AsInfo{64496, "Documentation Net One"}));
  EXPECT_EQ(db->Lookup(Ip("203.0.113.255")), (AsInfo{64500, "Example Transit, Inc."}));
  EXPECT_EQ(db->Lookup(Ip("198.51.100.0")), (AsInfo{64497, "LLC \"QUOTED\" Networks"}));
}

TEST(MmdbAsnDatabaseTest, BoundariesAndMisses) {
  auto db = OpenMmdbAsnDatabase(Fixture("asn-test.mmdb"));
  EXPECT_EQ(AsnOf(*db, "192.0.2.0"), 64496u);
  EXPECT_EQ(AsnOf(*db, "192.0.2.255"), 64496u);
  EXPECT_EQ(AsnOf(*db, "192.0.3.0"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "198.51.100.127"), 64497u);
  EXPECT_EQ(AsnOf(*db, "198.51.100.128"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "10.255.255.255"), 64512u);
  EXPECT_EQ(AsnOf(*db, "11.0.0.0"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "8.8.8.8"), std::nullopt);
}

TEST(MmdbAsnDatabaseTest, Ipv6AndIpv4Mapped) {
  auto db = OpenMmdbAsnDatabase(Fixture("asn-test.mmdb"));
  EXPECT_EQ(db->Lookup(Ip("2001:db8::1")), (AsInfo{64498, "Documentation Six"}));
  EXPECT_EQ(AsnOf(*db, "2001:db8:0:ffff:ffff:ffff:ffff:ffff"), 64498u);
  EXPECT_EQ(AsnOf(*db, "2001:db8:1::"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "2001:db8:1ff:ffff:ffff:ffff:ffff:ffff"), 64499u);
  EXPECT_EQ(AsnOf(*db, "2001:db8:200::"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "::ffff:192.0.2.1"), 64496u);
}

TEST(MmdbAsnDatabaseTest, IpinfoStyleFieldsAndIpv6InIpv4OnlyDatabase) {
  auto db = OpenAsnDatabase(Fixture("ipinfo-style-test.mmdb"));
  EXPECT_EQ(db->format(), "mmdb");
  EXPECT_EQ(db->Lookup(Ip("198.18.0.1")), (AsInfo{64510, "Benchmark Lab Networks"}));
  EXPECT_EQ(AsnOf(*db, "198.19.255.255"), 64510u);
  EXPECT_EQ(AsnOf(*db, "198.20.0.0"), std::nullopt);
  EXPECT_EQ(AsnOf(*db, "2001:db8::1"), std::nullopt);
}

TEST(MmdbAsnDatabaseTest, DetectionLooksAtContentNotName) {
  ScratchDir dir;
  const std::string mmdb_named_csv = dir.Copy("asn-test.mmdb", "looks-like.csv");
  const std::string csv_named_mmdb = dir.Copy("asn-ipv4.csv", "looks-like.mmdb");
  EXPECT_TRUE(IsMmdbFile(mmdb_named_csv));
  EXPECT_FALSE(IsMmdbFile(csv_named_mmdb));
  EXPECT_EQ(OpenAsnDatabase(mmdb_named_csv)->format(), "mmdb");
  EXPECT_EQ(OpenAsnDatabase(csv_named_mmdb)->format(), "ip-location-db-csv");
}

TEST(MmdbAsnDatabaseTest, CorruptMaxMindFileNamesThePath) {
  ScratchDir dir;
  const std::string bad =
      dir.Write("corrupt.mmdb", std::string(64, '\0') + "\xAB\xCD\xEFMaxMind.com" + "garbage");
  EXPECT_THAT(OpenError(bad), StartsWith(bad + ": "));
}

TEST(MmdbAsnDatabaseTest, BinaryGarbageWithoutMarkerIsReportedAsBadCsvLine) {
  ScratchDir dir;
  const std::string bad = dir.Write("garbage.bin", std::string("\x01\x02\x03,\x04\n", 5));
  EXPECT_THAT(OpenError(bad), StartsWith(bad + ":1: "));
}

TEST(OpenAsnDatabaseTest, CommaSeparatedListMergesCsvFiles) {
  auto db = OpenAsnDatabase(Fixture("asn-ipv4.csv") + ", " + Fixture("asn-ipv6.csv"));
  EXPECT_EQ(db->format(), "ip-location-db-csv");
  EXPECT_EQ(db->size(), 12u);
  EXPECT_EQ(AsnOf(*db, "192.0.2.1"), 64496u);
  EXPECT_EQ(AsnOf(*db, "2001:db8::1"), 64498u);
}

TEST(OpenAsnDatabaseTest, DirectoryWithTheTwoCsvFiles) {
  ScratchDir dir;
  dir.Copy("asn-ipv4.csv", "asn-ipv4.csv");
  dir.Copy("asn-ipv6.csv", "asn-ipv6.csv");
  dir.Write("asn-ipv4-num.csv", "not read\n");  // the package's numeric variant is ignored
  auto db = OpenAsnDatabase(dir.path());
  EXPECT_EQ(db->format(), "ip-location-db-csv");
  EXPECT_EQ(db->size(), 12u);
  EXPECT_EQ(AsnOf(*db, "2001:db8:100::1"), 64499u);
}

TEST(OpenAsnDatabaseTest, DirectoryWithOnlyOneFamily) {
  ScratchDir dir;
  dir.Copy("asn-ipv6.csv", "asn-ipv6.csv");
  auto db = OpenAsnDatabase(dir.path());
  EXPECT_EQ(db->size(), 4u);
  EXPECT_EQ(AsnOf(*db, "192.0.2.1"), std::nullopt);
}

TEST(OpenAsnDatabaseTest, FixtureDirectoryChainsCsvThenMaxMindFiles) {
  auto db = OpenAsnDatabase(std::string(PORTPATH_FIXTURES) + "/asn");
  EXPECT_EQ(db->format(), "mixed");
  EXPECT_GT(db->size(), 12u);
  EXPECT_EQ(AsnOf(*db, "10.1.0.1"), 64513u);              // CSV answers first
  EXPECT_EQ(AsnOf(*db, "255.255.255.255"), 4294967294u);  // CSV only
  EXPECT_EQ(db->Lookup(Ip("198.18.3.4")), (AsInfo{64510, "Benchmark Lab Networks"}));  // mmdb
  EXPECT_EQ(AsnOf(*db, "8.8.8.8"), std::nullopt);
}

TEST(OpenAsnDatabaseTest, TwoMaxMindFilesChainAsMmdb) {
  auto db = OpenAsnDatabase(Fixture("asn-test.mmdb") + "," + Fixture("ipinfo-style-test.mmdb"));
  EXPECT_EQ(db->format(), "mmdb");
  EXPECT_EQ(AsnOf(*db, "192.0.2.1"), 64496u);
  EXPECT_EQ(AsnOf(*db, "198.18.0.1"), 64510u);
}

TEST(OpenAsnDatabaseTest, Errors) {
  ScratchDir dir;
  EXPECT_EQ(OpenError(""), "empty ASN database path");
  EXPECT_EQ(OpenError(dir.path() + "/missing.csv"),
            dir.path() + "/missing.csv: No such file or directory");
  EXPECT_THAT(OpenError(Fixture("asn-ipv4.csv") + ",," + Fixture("asn-ipv6.csv")),
              HasSubstr(": empty path in the list"));
  EXPECT_EQ(OpenError(dir.path()),
            dir.path() + ": directory holds no asn-ipv4.csv, asn-ipv6.csv or *.mmdb");
  const std::string empty = dir.Write("empty.csv", "");
  EXPECT_EQ(OpenError(empty), empty + ": no address ranges");
  // An error in the second file of a list names that file.
  const std::string bad = Fixture("bad-first-after-last.csv");
  EXPECT_THAT(OpenError(Fixture("asn-ipv4.csv") + "," + bad), StartsWith(bad + ":3: "));
}

TEST(OpenAsnDatabaseTest, PathContainingACommaIsTakenWhole) {
  ScratchDir dir;
  const std::string odd = dir.Copy("asn-ipv4.csv", "a,b.csv");
  EXPECT_EQ(OpenAsnDatabase(odd)->size(), 8u);
}

}  // namespace
}  // namespace portpath::asn
