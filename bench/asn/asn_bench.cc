// asn_bench DB [DB...]: load time, resident-memory increase and lookup rate of each ASN
// database spec (anything OpenAsnDatabase accepts), measured in this one process so that the
// figures compare like with like. Options: --lookups N (default 1000000), --seed S.
//
// Each database is measured in a forked child, so that one's freed heap does not hide the
// next one's growth. Resident memory is read from /proc/self/statm before and after the load,
// and again after the lookups (a MaxMind DB is memory-mapped: its pages count once touched).

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "probe/asn/asn_database.h"

namespace {

using portpath::asn::AsnDatabase;
using portpath::packet::IpAddress;
using Clock = std::chrono::steady_clock;

double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Uniform over the whole IPv4 space (about a third of it is not in any range), and over
// 2000::/4 for IPv6, where the global unicast allocations are; hit rates are printed.
std::vector<IpAddress> RandomAddresses(std::size_t n, bool v6, std::mt19937_64& rng) {
  std::vector<IpAddress> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!v6) {
      out.push_back(IpAddress::V4(static_cast<std::uint32_t>(rng())));
      continue;
    }
    std::array<std::uint8_t, 16> b{};
    const std::uint64_t hi = rng();
    const std::uint64_t lo = rng();
    for (int k = 0; k < 8; ++k) b[k] = static_cast<std::uint8_t>(hi >> (56 - 8 * k));
    for (int k = 0; k < 8; ++k) b[8 + k] = static_cast<std::uint8_t>(lo >> (56 - 8 * k));
    // Top 12 bits from the RIR blocks that hold most allocations (2000::/12 2400::/12
    // 2600::/12 2800::/12 2a00::/12 2c00::/12); the rest random. Only a few percent of such
    // addresses are in any range: the IPv6 figure is mostly the miss path.
    static constexpr std::uint16_t kBlocks[] = {0x200, 0x240, 0x260, 0x280, 0x2a0, 0x2c0};
    const std::uint16_t block = kBlocks[rng() % 6];
    b[0] = static_cast<std::uint8_t>(block >> 4);
    b[1] = static_cast<std::uint8_t>(((block & 0xf) << 4) | (b[1] & 0x0f));
    out.push_back(IpAddress::V6(b));
  }
  return out;
}

struct Rate {
  double per_second;
  double hit_rate;
};

Rate MeasureLookups(const AsnDatabase& db, const std::vector<IpAddress>& addresses,
                    std::uint64_t* checksum) {
  std::size_t hits = 0;
  const auto start = Clock::now();
  for (const IpAddress& a : addresses) {
    if (auto info = db.Lookup(a)) {
      ++hits;
      *checksum += info->asn + info->org.size();
    }
  }
  const double seconds = MsSince(start) / 1000.0;
  return {static_cast<double>(addresses.size()) / seconds,
          static_cast<double>(hits) / static_cast<double>(addresses.size())};
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t lookups = 1000000;
  std::uint64_t seed = 42;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--lookups") == 0 && i + 1 < argc) {
      lookups = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      specs.emplace_back(argv[i]);
    }
  }
  if (specs.empty()) {
    std::fprintf(stderr, "usage: %s [--lookups N] [--seed S] DB...\n", argv[0]);
    return 2;
  }
  std::mt19937_64 rng(seed);
  const std::vector<IpAddress> v4 = RandomAddresses(lookups, false, rng);
  const std::vector<IpAddress> v6 = RandomAddresses(lookups, true, rng);
  std::uint64_t checksum = 0;

  std::printf("%-18s %8s %8s %8s %9s %12s %6s %12s %6s  %s\n", "format", "ranges", "load_ms",
              "rss_MiB", "after_MiB", "v4_lookup/s", "v4_hit", "v6_lookup/s", "v6_hit", "db");
  std::fflush(stdout);
  for (const std::string& spec : specs) {
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      return 1;
    }
    if (child > 0) {
      int status = 0;
      waitpid(child, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
      continue;
    }
    const double rss_before = ResidentMiB();
    const auto start = Clock::now();
    std::unique_ptr<AsnDatabase> db;
    try {
      db = portpath::asn::OpenAsnDatabase(spec);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "asn_bench: %s\n", e.what());
      _exit(1);
    }
    const double load_ms = MsSince(start);
    const double rss_delta = ResidentMiB() - rss_before;
    const auto warm_up_end = v4.begin() + static_cast<std::ptrdiff_t>(v4.size() / 10);
    MeasureLookups(*db, std::vector<IpAddress>(v4.begin(), warm_up_end), &checksum);  // warm-up
    const Rate r4 = MeasureLookups(*db, v4, &checksum);
    const Rate r6 = MeasureLookups(*db, v6, &checksum);
    const double rss_after = ResidentMiB() - rss_before;
    std::printf("%-18.*s %8zu %8.0f %8.1f %9.1f %12.0f %5.0f%% %12.0f %5.0f%%  %s\n",
                static_cast<int>(db->format().size()), db->format().data(), db->size(), load_ms,
                rss_delta, rss_after, r4.per_second, 100 * r4.hit_rate, r6.per_second,
                100 * r6.hit_rate, spec.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(checksum));
    _exit(0);
  }
  return 0;
}
