#pragma once
/// IP-to-ASN lookup for annotating hops ("AS9808 China Mobile").
///
/// Two on-disk formats are read:
///  - the CSV files of the npm package @ip-location-db/asn (`asn-ipv4.csv`, `asn-ipv6.csv`:
///    `first,last,asn,org` per line, inclusive ranges, org optionally double-quoted with `""`
///    escapes), loaded into compact sorted arrays;
///  - MaxMind DB files (GeoLite2-ASN, DB-IP ASN lite, @ip-location-db/asn-mmdb) through
///    libmaxminddb.
///
/// Loading throws (it happens at start-up or config load); lookups never throw and return
/// std::nullopt for an address no range covers.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/packet/ip_address.h"

namespace portpath::asn {

/// What a database says about one address. `asn` 0 is kept as the data gives it (some
/// sources use AS0 for "not routed").
struct AsInfo {
  std::uint32_t asn = 0;
  std::string org;

  bool operator==(const AsInfo&) const = default;
};

/// An IP-to-ASN database. Immutable after load; Lookup() is thread-safe (concurrent calls from
/// any number of threads need no locking).
class AsnDatabase {
 public:
  virtual ~AsnDatabase() = default;
  /// The AS that the range containing `address` belongs to, or nullopt when no range does.
  /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as the IPv4 address.
  virtual std::optional<AsInfo> Lookup(const packet::IpAddress& address) const = 0;
  /// Number of ranges (CSV) or search-tree nodes (MaxMind DB, from its metadata).
  virtual std::size_t size() const = 0;
  /// "ip-location-db-csv", "mmdb", or "mixed" for a chain of both.
  virtual std::string_view format() const = 0;
};

/// Opens an ASN database. `spec` is one of:
///  - a file, recognised by content: MaxMind DB when its last 128 KiB hold the metadata marker
///    "\xAB\xCD\xEFMaxMind.com", CSV otherwise;
///  - a directory: its asn-ipv4.csv and asn-ipv6.csv (whichever exist) and every *.mmdb in it
///    (in name order);
///  - a comma-separated list of the above (unless `spec` itself names an existing file).
/// All CSV files are merged into one table. When several databases result (CSV and MaxMind DB,
/// or several MaxMind DB files), lookups ask each in order (CSV first) and take the first hit.
/// Throws std::runtime_error "PATH: reason", or "PATH:LINE: reason" for a bad CSV line.
std::unique_ptr<AsnDatabase> OpenAsnDatabase(const std::string& spec);

/// Loads one or more CSV files (in the @ip-location-db/asn format) into one table, whatever
/// their content says. Errors as for OpenAsnDatabase().
std::unique_ptr<AsnDatabase> LoadCsvAsnDatabase(const std::vector<std::string>& paths);

/// Parses CSV text held in memory; `name` stands for the file name in error messages.
std::unique_ptr<AsnDatabase> ParseCsvAsnDatabase(std::string_view text, std::string_view name);

/// Opens a MaxMind DB file with libmaxminddb (memory-mapped). Records are read from
/// `autonomous_system_number` / `autonomous_system_organization` (GeoLite2-ASN, DB-IP ASN lite,
/// @ip-location-db/asn-mmdb), falling back to `asn` (number, or text "AS123") and `as_name`
/// / `organization` (IPinfo-style). Throws std::runtime_error "PATH: reason".
std::unique_ptr<AsnDatabase> OpenMmdbAsnDatabase(const std::string& path);

/// True when `path` is a MaxMind DB file (metadata marker in its last 128 KiB).
/// Throws std::runtime_error "PATH: reason" when it cannot be read.
bool IsMmdbFile(const std::string& path);

}  // namespace portpath::asn
