// MaxMind DB reader on top of libmaxminddb. The file is memory-mapped by the library; lookups
// only read the map, which libmaxminddb documents as safe from many threads at once.

#include <maxminddb.h>
#include <netinet/in.h>  // sockaddr_in/sockaddr_in6: MMDB_lookup_sockaddr takes a sockaddr
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "probe/asn/asn_database.h"

namespace portpath::asn {
namespace {

std::optional<std::uint32_t> NumberOf(const MMDB_entry_data_s& d) {
  switch (d.type) {
    case MMDB_DATA_TYPE_UINT16:
      return d.uint16;
    case MMDB_DATA_TYPE_UINT32:
      return d.uint32;
    case MMDB_DATA_TYPE_INT32:
      if (d.int32 >= 0) return static_cast<std::uint32_t>(d.int32);
      return std::nullopt;
    case MMDB_DATA_TYPE_UINT64:
      if (d.uint64 <= std::numeric_limits<std::uint32_t>::max()) {
        return static_cast<std::uint32_t>(d.uint64);
      }
      return std::nullopt;
    case MMDB_DATA_TYPE_UTF8_STRING: {
      // IPinfo-style databases store "AS15169".
      std::string_view s(d.utf8_string, d.data_size);
      if (s.size() > 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's')) {
        s.remove_prefix(2);
      }
      std::uint32_t v = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
      return v;
    }
    default:
      return std::nullopt;
  }
}

bool GetField(MMDB_entry_s entry, const char* field, MMDB_entry_data_s* out) {
  return MMDB_get_value(&entry, out, field, static_cast<const char*>(nullptr)) == MMDB_SUCCESS &&
         out->has_data;
}

class MmdbAsnDatabase final : public AsnDatabase {
 public:
  explicit MmdbAsnDatabase(const std::string& path) {
    const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb_);
    if (status != MMDB_SUCCESS) {
      std::string reason = MMDB_strerror(status);
      if (status == MMDB_IO_ERROR) reason += std::string(": ") + std::strerror(errno);
      throw std::runtime_error(path + ": " + reason);
    }
  }
  ~MmdbAsnDatabase() override { MMDB_close(&mmdb_); }
  MmdbAsnDatabase(const MmdbAsnDatabase&) = delete;
  MmdbAsnDatabase& operator=(const MmdbAsnDatabase&) = delete;

  std::optional<AsInfo> Lookup(const packet::IpAddress& address) const override {
    const auto& b = address.bytes();
    sockaddr_in sin{};
    sockaddr_in6 sin6{};
    const sockaddr* sa;
    bool mapped = address.is_v6();
    for (int i = 0; i < 10 && mapped; ++i) mapped = b[i] == 0;
    mapped = mapped && b[10] == 0xff && b[11] == 0xff;
    if (address.is_v4() || mapped) {
      sin.sin_family = AF_INET;
      std::memcpy(&sin.sin_addr, b.data() + (mapped ? 12 : 0), 4);
      sa = reinterpret_cast<const sockaddr*>(&sin);
    } else {
      sin6.sin6_family = AF_INET6;
      std::memcpy(&sin6.sin6_addr, b.data(), 16);
      sa = reinterpret_cast<const sockaddr*>(&sin6);
    }
    int mmdb_error = MMDB_SUCCESS;
    // An IPv6 address in an IPv4-only database comes back as an error: that is a miss.
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&mmdb_, sa, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;

    MMDB_entry_data_s d{};
    std::optional<std::uint32_t> asn;
    for (const char* field : {"autonomous_system_number", "asn"}) {
      if (GetField(result.entry, field, &d)) {
        asn = NumberOf(d);
        break;
      }
    }
    if (!asn) return std::nullopt;
    AsInfo info{*asn, {}};
    for (const char* field : {"autonomous_system_organization", "as_name", "organization"}) {
      if (GetField(result.entry, field, &d) && d.type == MMDB_DATA_TYPE_UTF8_STRING) {
        info.org.assign(d.utf8_string, d.data_size);
        break;
      }
    }
    return info;
  }

  std::size_t size() const override { return mmdb_.metadata.node_count; }
  std::string_view format() const override { return "mmdb"; }

 private:
  MMDB_s mmdb_{};
};

}  // namespace

std::unique_ptr<AsnDatabase> OpenMmdbAsnDatabase(const std::string& path) {
  return std::make_unique<MmdbAsnDatabase>(path);
}

}  // namespace portpath::asn
