#pragma once
/// Forward DNS (host name -> address) for a loop that must never wait for it:
/// lookups run on a fixed pool of worker threads, answers are cached, and a
/// caller only ever reads the cache. A stale answer is still returned (and one
/// refresh is queued), so a target keeps being traced while its name is looked
/// up again; a name with no usable answer is reported pending, and timed out
/// once it has been pending longer than a bound.
///
/// Thread-safety: ForwardDns is thread-safe (one mutex guards the cache and the
/// queue; it is never held during a lookup). ForwardDnsOptions and
/// ForwardDnsAnswer are plain values.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "probe/io/system.h"
#include "probe/packet/ip_address.h"

namespace portpath::io {

struct ForwardDnsOptions {
  /// A name with no usable answer that has been pending this long is reported
  /// timed out (its lookup carries on and fills the cache if it ever returns).
  /// Also how long the destructor waits for lookups still running.
  std::chrono::milliseconds timeout{5000};
  /// Worker threads, hence the most lookups running at once (0 counts as 1).
  std::size_t max_in_flight = 4;
  /// Most names queued or in flight. Beyond it a name is not queued: a stale
  /// answer is still returned, and a name with none fails as "too many names
  /// waiting". This bounds the queue when names stay slow or workers hang.
  std::size_t max_pending = 256;
  /// Most cached answers (addresses and failures); the least recently used go
  /// first, except names with a lookup pending (at most max_pending of them),
  /// whose answers would otherwise be lost to the callers waiting for them.
  /// 0 counts as 1.
  std::size_t cache_size = 4096;
};

/// What the cache knows about one name, as of one Lookup: a copy, so it stays
/// valid whatever the workers do next.
struct ForwardDnsAnswer {
  enum class State {
    kAddress,   ///< `address` is usable (see `stale`).
    kFailed,    ///< The last lookup failed, or the name could not be queued: `error`.
    kPending,   ///< No usable answer yet; a lookup is queued or running.
    kTimedOut,  ///< Pending for longer than ForwardDnsOptions::timeout: `error`.
  };
  State state = State::kPending;
  std::optional<packet::IpAddress> address;
  std::string error;
  /// kAddress only: the answer is older than the caller's max_age; a refresh
  /// was queued (unless one already was, or the queue is full).
  bool stale = false;
};

class ForwardDns {
 public:
  /// Blocking lookup of one name: the address, or nullopt with `error` set (the
  /// same contract as ResolveHost, the default). Called from worker threads,
  /// possibly several at once and possibly after this object is destroyed (see
  /// ~ForwardDns), so it must be thread-safe and own or share what it captures.
  /// Exceptions count as failures.
  using LookupFn = std::function<std::optional<packet::IpAddress>(
      const std::string& host, FamilyFilter family, std::string& error)>;
  /// Clock for answer ages and the pending timeout (tests pass a fake one).
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  /// An empty lookup means ResolveHost (getaddrinfo); an empty clock means
  /// std::chrono::steady_clock::now. Starts the worker threads.
  explicit ForwardDns(ForwardDnsOptions options = {}, LookupFn lookup = {}, Clock clock = {});
  /// Stops the workers. Waits at most options.timeout (real time) for lookups
  /// still running; those left are detached and finish against shared state
  /// that outlives this object (their answers are then discarded).
  ~ForwardDns();
  ForwardDns(const ForwardDns&) = delete;
  ForwardDns& operator=(const ForwardDns&) = delete;

  /// Non-blocking: the cached answer for (host, family). Queues a lookup when
  /// there is no answer or it is older than max_age, unless one is already
  /// queued or running for that name (many callers, one lookup). A fresh
  /// failure is returned as kFailed; a stale one is looked up again and
  /// reported kPending meanwhile, so every failure a caller sees is the answer
  /// of a lookup made after its previous one went stale.
  ForwardDnsAnswer Lookup(const std::string& host, FamilyFilter family,
                          std::chrono::steady_clock::duration max_age);

  /// Blocks until no lookup of (host, family) is queued or running, or until
  /// `timeout` (real time) passes; true when none is. For callers that may
  /// block (tests, one-shot tools), never for a loop that must not.
  bool Wait(const std::string& host, FamilyFilter family, std::chrono::milliseconds timeout);

  /// Names queued or in flight (for tests and diagnostics).
  std::size_t pending() const;
  /// Cached answers (for tests and diagnostics).
  std::size_t cached() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<std::thread> workers_;
};

}  // namespace portpath::io
