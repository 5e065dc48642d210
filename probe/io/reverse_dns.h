#pragma once
/// Reverse DNS (PTR) names for hop addresses, as traceroute prints them:
/// looked up asynchronously by a fixed pool of worker threads, cached with a
/// positive and a negative TTL, and waited for only up to a timeout.
/// ReverseDns is thread-safe.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "probe/packet/ip_address.h"

namespace portpath::io {

struct ReverseDnsOptions {
  /// How long Resolve waits for answers, and how long the destructor waits for
  /// lookups still running before it leaves them to finish on their own.
  std::chrono::milliseconds timeout{2000};
  /// Worker threads, hence the most lookups running at once (0 counts as 1).
  std::size_t max_in_flight = 16;
  /// Most cached answers (names and failures); the least recently used go first.
  /// Also bounds the addresses queued or in flight: beyond it, new addresses are
  /// not looked up and resolve to nullopt.
  std::size_t cache_size = 4096;
  /// How long a name, and a failed lookup, stay cached.
  std::chrono::seconds positive_ttl{3600}, negative_ttl{300};
};

class ReverseDns {
 public:
  /// Blocking lookup of one address: the name, or nullopt when there is none or
  /// the lookup failed. Called from worker threads, possibly several at once and
  /// possibly after this object is destroyed (see ~ReverseDns), so it must own
  /// or share whatever it captures. Exceptions count as failures.
  using LookupFn = std::function<std::optional<std::string>(const packet::IpAddress&)>;
  /// Clock for the cache TTLs (tests pass a fake one). Resolve's timeout always
  /// uses the real steady clock, since it is a real wait.
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  /// An empty lookup means getnameinfo(NI_NAMEREQD); an empty clock means
  /// std::chrono::steady_clock::now. Starts the worker threads.
  explicit ReverseDns(ReverseDnsOptions options = {}, LookupFn lookup = {}, Clock clock = {});
  /// Stops the workers. Waits at most options.timeout for lookups still running;
  /// those left are detached and finish against shared state that outlives this
  /// object (their answers are then discarded).
  ~ReverseDns();
  ReverseDns(const ReverseDns&) = delete;
  ReverseDns& operator=(const ReverseDns&) = delete;

  /// Starts lookups for all addresses neither cached nor already queued or in
  /// flight (non-blocking).
  void Prefetch(const std::vector<packet::IpAddress>& addresses);
  /// Waits until every address has an answer or options.timeout passes; returns
  /// the name or nullopt per address, in order. Lookups still running carry on
  /// and fill the cache for later calls.
  std::vector<std::optional<std::string>> Resolve(const std::vector<packet::IpAddress>& addresses);
  /// Non-blocking: the cached name if known (nullopt if unknown, pending or failed).
  std::optional<std::string> Cached(const packet::IpAddress& address) const;

  /// getnameinfo with NI_NAMEREQD: the default LookupFn.
  static std::optional<std::string> SystemLookup(const packet::IpAddress& address);

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<std::thread> workers_;
};

}  // namespace portpath::io
