// asn-lookup DB ADDR...: prints "ADDR ASN ORG" per address ("ADDR - -" when no range covers
// it). DB is anything OpenAsnDatabase accepts. A small tool for the real-data test and for
// checking a database by hand.

#include <chrono>
#include <cstdio>
#include <exception>

#include "probe/asn/asn_database.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DB ADDR...\n", argv[0]);
    return 2;
  }
  std::unique_ptr<portpath::asn::AsnDatabase> db;
  const auto start = std::chrono::steady_clock::now();
  try {
    db = portpath::asn::OpenAsnDatabase(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asn-lookup: %s\n", e.what());
    return 1;
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "asn-lookup: %zu ranges (%.*s) loaded in %.0f ms\n", db->size(),
               static_cast<int>(db->format().size()), db->format().data(), ms);
  int status = 0;
  for (int i = 2; i < argc; ++i) {
    auto address = portpath::packet::IpAddress::Parse(argv[i]);
    if (!address) {
      std::fprintf(stderr, "asn-lookup: not an IP address: %s\n", argv[i]);
      status = 2;
      continue;
    }
    if (auto info = db->Lookup(*address)) {
      std::printf("%s AS%u %s\n", argv[i], info->asn, info->org.c_str());
    } else {
      std::printf("%s - -\n", argv[i]);
    }
  }
  return status;
}
