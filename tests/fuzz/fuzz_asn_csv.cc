// libFuzzer harness: the @ip-location-db/asn CSV reader (ParseCsvAsnDatabase, the parser behind
// --asn-db and asn_db) on arbitrary text, then lookups at the edges of both address spaces and at
// addresses taken from the input, which walk the range table (overlaps, nesting, equal starts).
// A bad file must be reported as std::runtime_error "NAME:LINE: reason" and nothing else.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "probe/asn/asn_database.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using portpath::packet::IpAddress;

std::array<std::uint8_t, 16> Bytes16(const std::uint8_t* data, std::size_t size, std::size_t at) {
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < 16 && at + i < size; ++i) out[i] = data[at + i];
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<portpath::asn::AsnDatabase> db;
  try {
    db = portpath::asn::ParseCsvAsnDatabase(text, "fuzz.csv");
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(std::string_view(e.what()).rfind("fuzz.csv", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(db != nullptr);
  FUZZ_CHECK(db->size() > 0);
  FUZZ_CHECK(db->format() == "ip-location-db-csv");
  static const char* const kEdges[] = {"0.0.0.0",
                                       "255.255.255.255",
                                       "10.1.2.3",
                                       "192.0.2.1",
                                       "::",
                                       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                       "2001:db8::1",
                                       "::ffff:10.1.2.3",
                                       "::ffff:0.0.0.0"};
  for (const char* edge : kEdges) db->Lookup(*IpAddress::Parse(edge));
  const auto head = Bytes16(data, size, 0);
  const auto tail = Bytes16(data, size, size > 16 ? size - 16 : 0);
  for (const auto& b : {head, tail}) {
    db->Lookup(IpAddress::V6(b));
    db->Lookup(IpAddress::FromBytes(portpath::packet::Family::kIpv4, b.data()));
  }
  return 0;
}
