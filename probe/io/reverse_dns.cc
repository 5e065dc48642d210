#include "probe/io/reverse_dns.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <set>

namespace portpath::io {

namespace {

using packet::IpAddress;
using SteadyTime = std::chrono::steady_clock::time_point;

// PTR records are whatever the address owner publishes, and the names end up in
// metric labels and the status page, so anything that is not a plain host name
// (letters, digits, '-', '_', '.', at most 253 characters plus a root dot) is
// treated as no name at all.
bool IsPlausibleHostName(const std::string& name) {
  if (name.empty() || name.size() > 254) return false;
  if (name.size() == 254 && name.back() != '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// Everything the workers touch lives here, owned jointly by the ReverseDns and
// by every worker thread, so that a worker detached by the destructor while
// stuck in a lookup can still finish safely afterwards.
struct ReverseDns::State {
  struct Entry {
    std::optional<std::string> name;
    SteadyTime expires;
    std::list<IpAddress>::iterator lru;
  };

  ReverseDnsOptions options;
  LookupFn lookup;
  Clock clock;

  std::mutex mu;
  std::condition_variable work_cv;  // queue not empty, or stopping
  std::condition_variable done_cv;  // an answer arrived, or a worker exited
  std::deque<IpAddress> queue;
  std::set<IpAddress> pending;  // queued or in flight
  std::map<IpAddress, Entry> cache;
  std::list<IpAddress> lru;  // most recently used first
  std::vector<bool> exited;  // per worker
  std::size_t running = 0;   // workers that have not exited
  bool stopping = false;

  // Requires mu. Drops an expired entry; a hit counts as a use.
  const Entry* FindFresh(const IpAddress& address) {
    auto it = cache.find(address);
    if (it == cache.end()) return nullptr;
    if (clock() >= it->second.expires) {
      lru.erase(it->second.lru);
      cache.erase(it);
      return nullptr;
    }
    lru.splice(lru.begin(), lru, it->second.lru);
    return &it->second;
  }

  // Requires mu.
  void Store(const IpAddress& address, std::optional<std::string> name) {
    if (options.cache_size == 0) return;
    SteadyTime expires = clock() + (name ? options.positive_ttl : options.negative_ttl);
    auto it = cache.find(address);
    if (it != cache.end()) {
      it->second.name = std::move(name);
      it->second.expires = expires;
      lru.splice(lru.begin(), lru, it->second.lru);
      return;
    }
    lru.push_front(address);
    cache.emplace(address, Entry{std::move(name), expires, lru.begin()});
    while (cache.size() > options.cache_size) {
      cache.erase(lru.back());
      lru.pop_back();
    }
  }

  // Requires mu.
  void EnqueueMissing(const std::vector<IpAddress>& addresses) {
    bool added = false;
    for (const IpAddress& address : addresses) {
      if (pending.count(address) != 0 || FindFresh(address) != nullptr) continue;
      if (pending.size() >= options.cache_size) break;
      pending.insert(address);
      queue.push_back(address);
      added = true;
    }
    if (added) work_cv.notify_all();
  }

  static void Work(const std::shared_ptr<State>& s, std::size_t index) {
    std::unique_lock lock(s->mu);
    while (true) {
      s->work_cv.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
      if (s->stopping) break;
      IpAddress address = s->queue.front();
      s->queue.pop_front();
      lock.unlock();
      std::optional<std::string> name;
      try {
        name = s->lookup(address);
      } catch (...) {
        // A throwing lookup must not take the worker (and the process) down.
        name.reset();
      }
      if (name && !IsPlausibleHostName(*name)) name.reset();
      lock.lock();
      s->pending.erase(address);
      s->Store(address, std::move(name));
      s->done_cv.notify_all();
    }
    s->exited[index] = true;
    --s->running;
    s->done_cv.notify_all();
  }
};

ReverseDns::ReverseDns(ReverseDnsOptions options, LookupFn lookup, Clock clock)
    : state_(std::make_shared<State>()) {
  if (options.max_in_flight == 0) options.max_in_flight = 1;
  state_->options = options;
  state_->lookup = lookup ? std::move(lookup) : LookupFn(&ReverseDns::SystemLookup);
  state_->clock = clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); });
  state_->exited.assign(options.max_in_flight, false);
  workers_.reserve(options.max_in_flight);
  try {
    for (std::size_t i = 0; i < options.max_in_flight; ++i) {
      {
        std::lock_guard lock(state_->mu);
        ++state_->running;
      }
      try {
        workers_.emplace_back([s = state_, i] { State::Work(s, i); });
      } catch (...) {
        std::lock_guard lock(state_->mu);
        --state_->running;
        state_->exited[i] = true;
        throw;
      }
    }
  } catch (...) {
    // No lookup has been queued yet, so the started workers exit at once.
    {
      std::lock_guard lock(state_->mu);
      state_->stopping = true;
    }
    state_->work_cv.notify_all();
    for (std::thread& t : workers_) t.join();
    throw;
  }
}

ReverseDns::~ReverseDns() {
  std::vector<bool> exited;
  {
    std::unique_lock lock(state_->mu);
    state_->stopping = true;
    for (const IpAddress& address : state_->queue) state_->pending.erase(address);
    state_->queue.clear();
    state_->work_cv.notify_all();
    // Idle workers leave at once; a worker inside a lookup leaves when it returns,
    // which for getnameinfo is bounded only by resolv.conf (timeout x attempts x
    // servers), so wait no longer than our own timeout for it.
    state_->done_cv.wait_for(lock, state_->options.timeout, [&] { return state_->running == 0; });
    exited = state_->exited;
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (exited[i]) {
      workers_[i].join();
    } else {
      workers_[i].detach();
    }
  }
}

void ReverseDns::Prefetch(const std::vector<packet::IpAddress>& addresses) {
  std::lock_guard lock(state_->mu);
  state_->EnqueueMissing(addresses);
}

std::vector<std::optional<std::string>> ReverseDns::Resolve(
    const std::vector<packet::IpAddress>& addresses) {
  // A real wait, so the real clock: the injected one only ages cache entries.
  auto deadline = std::chrono::steady_clock::now() + state_->options.timeout;
  std::unique_lock lock(state_->mu);
  state_->EnqueueMissing(addresses);
  state_->done_cv.wait_until(lock, deadline, [&] {
    for (const IpAddress& address : addresses)
      if (state_->pending.count(address) != 0) return false;
    return true;
  });
  std::vector<std::optional<std::string>> out;
  out.reserve(addresses.size());
  for (const IpAddress& address : addresses) {
    const State::Entry* entry = state_->FindFresh(address);
    out.push_back(entry != nullptr ? entry->name : std::nullopt);
  }
  return out;
}

std::optional<std::string> ReverseDns::Cached(const packet::IpAddress& address) const {
  std::lock_guard lock(state_->mu);
  const State::Entry* entry = state_->FindFresh(address);
  if (entry == nullptr) return std::nullopt;
  return entry->name;
}

std::optional<std::string> ReverseDns::SystemLookup(const packet::IpAddress& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (address.is_v4()) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    std::memcpy(&sa->sin_addr, address.bytes().data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    std::memcpy(&sa->sin6_addr, address.bytes().data(), 16);
    len = sizeof(sockaddr_in6);
  }
  char host[NI_MAXHOST];
  // NI_NAMEREQD: without it getnameinfo falls back to the numeric address,
  // which would look like a name.
  int rc = ::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                         NI_NAMEREQD);
  if (rc != 0) return std::nullopt;
  return std::string(host);
}

}  // namespace portpath::io
