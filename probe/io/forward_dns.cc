#include "probe/io/forward_dns.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <tuple>

namespace portpath::io {

namespace {

using packet::IpAddress;
using SteadyTime = std::chrono::steady_clock::time_point;

struct Key {
  std::string host;
  FamilyFilter family = FamilyFilter::kAny;
  bool operator<(const Key& other) const {
    return std::tie(host, family) < std::tie(other.host, other.family);
  }
};

}  // namespace

// Everything the workers touch lives here, owned jointly by the ForwardDns and
// by every worker thread, so that a worker detached by the destructor while
// stuck in a lookup can still finish safely afterwards.
struct ForwardDns::State {
  struct Entry {
    // The last answer: an address, or the failure's message.
    std::optional<IpAddress> address;
    std::string error;
    SteadyTime answered_at;
    std::list<Key>::iterator lru;
  };

  ForwardDnsOptions options;
  LookupFn lookup;
  Clock clock;

  mutable std::mutex mu;
  std::condition_variable work_cv;  // queue not empty, or stopping
  std::condition_variable done_cv;  // an answer arrived, or a worker exited
  std::deque<Key> queue;
  std::map<Key, SteadyTime> pending;  // queued or in flight, since when
  std::map<Key, Entry> cache;
  std::list<Key> lru;        // most recently used first
  std::vector<bool> exited;  // per worker
  std::size_t running = 0;   // workers that have not exited
  bool stopping = false;

  // Requires mu. A hit counts as a use.
  Entry* Find(const Key& key) {
    auto it = cache.find(key);
    if (it == cache.end()) return nullptr;
    lru.splice(lru.begin(), lru, it->second.lru);
    return &it->second;
  }

  // Requires mu.
  void Store(const Key& key, std::optional<IpAddress> address, std::string error) {
    SteadyTime now = clock();
    auto it = cache.find(key);
    if (it != cache.end()) {
      it->second.address = address;
      it->second.error = std::move(error);
      it->second.answered_at = now;
      lru.splice(lru.begin(), lru, it->second.lru);
    } else {
      lru.push_front(key);
      cache.emplace(key, Entry{address, std::move(error), now, lru.begin()});
    }
    // Evict from the least recently used end, but never a name whose lookup is
    // pending (its answer would be lost to the callers waiting for it, who
    // would then queue it again), nor the answer just stored, for the same
    // reason.
    for (auto victim = std::prev(lru.end());
         cache.size() > options.cache_size && victim != lru.begin();) {
      auto before = std::prev(victim);
      if (pending.count(*victim) == 0) {
        cache.erase(*victim);
        lru.erase(victim);
      }
      victim = before;
    }
  }

  // Requires mu. False when the queue is full.
  bool Enqueue(const Key& key, SteadyTime now) {
    if (pending.count(key) != 0) return true;
    if (pending.size() >= options.max_pending) return false;
    pending.emplace(key, now);
    queue.push_back(key);
    work_cv.notify_one();
    return true;
  }

  static void Work(const std::shared_ptr<State>& s, std::size_t index) {
    std::unique_lock lock(s->mu);
    while (true) {
      s->work_cv.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
      if (s->stopping) break;
      Key key = s->queue.front();
      s->queue.pop_front();
      lock.unlock();
      std::optional<IpAddress> address;
      std::string error;
      try {
        address = s->lookup(key.host, key.family, error);
      } catch (const std::exception& e) {
        // A throwing lookup must not take the worker (and the process) down.
        address.reset();
        error = "cannot resolve " + key.host + ": " + e.what();
      } catch (...) {
        address.reset();
        error = "cannot resolve " + key.host + ": unknown error";
      }
      if (!address && error.empty()) error = "cannot resolve " + key.host;
      if (address) error.clear();
      lock.lock();
      s->pending.erase(key);
      s->Store(key, address, std::move(error));
      s->done_cv.notify_all();
    }
    s->exited[index] = true;
    --s->running;
    s->done_cv.notify_all();
  }
};

ForwardDns::ForwardDns(ForwardDnsOptions options, LookupFn lookup, Clock clock)
    : state_(std::make_shared<State>()) {
  if (options.max_in_flight == 0) options.max_in_flight = 1;
  // A name's answer must be cached at least until its caller reads it.
  if (options.cache_size == 0) options.cache_size = 1;
  state_->options = options;
  state_->lookup = lookup ? std::move(lookup) : LookupFn(&ResolveHost);
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

ForwardDns::~ForwardDns() {
  std::vector<bool> exited;
  {
    std::unique_lock lock(state_->mu);
    state_->stopping = true;
    for (const Key& key : state_->queue) state_->pending.erase(key);
    state_->queue.clear();
    state_->work_cv.notify_all();
    // Idle workers leave at once; a worker inside getaddrinfo leaves when it
    // returns, which is bounded only by resolv.conf (timeout x attempts x
    // servers), so wait no longer than our own timeout for it. A real wait,
    // hence the real clock.
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

ForwardDnsAnswer ForwardDns::Lookup(const std::string& host, FamilyFilter family,
                                    std::chrono::steady_clock::duration max_age) {
  Key key{host, family};
  ForwardDnsAnswer answer;
  std::lock_guard lock(state_->mu);
  SteadyTime now = state_->clock();
  const State::Entry* entry = state_->Find(key);
  bool fresh = entry != nullptr && now - entry->answered_at < max_age;
  bool queued = fresh || state_->Enqueue(key, now);
  if (entry != nullptr && entry->address) {
    // A known address is used even when stale: the refresh just queued serves
    // the next caller, and this one is not held up by DNS.
    answer.state = ForwardDnsAnswer::State::kAddress;
    answer.address = entry->address;
    answer.stale = !fresh;
    return answer;
  }
  if (fresh) {
    answer.state = ForwardDnsAnswer::State::kFailed;
    answer.error = entry->error;
    return answer;
  }
  if (!queued) {
    answer.state = ForwardDnsAnswer::State::kFailed;
    answer.error = "resolving " + host + ": too many names waiting for DNS";
    return answer;
  }
  if (now - state_->pending.at(key) >= state_->options.timeout) {
    answer.state = ForwardDnsAnswer::State::kTimedOut;
    answer.error = "resolving " + host + " timed out";
    return answer;
  }
  answer.state = ForwardDnsAnswer::State::kPending;
  return answer;
}

bool ForwardDns::Wait(const std::string& host, FamilyFilter family,
                      std::chrono::milliseconds timeout) {
  Key key{host, family};
  std::unique_lock lock(state_->mu);
  return state_->done_cv.wait_for(lock, timeout, [&] { return state_->pending.count(key) == 0; });
}

std::size_t ForwardDns::pending() const {
  std::lock_guard lock(state_->mu);
  return state_->pending.size();
}

std::size_t ForwardDns::cached() const {
  std::lock_guard lock(state_->mu);
  return state_->cache.size();
}

}  // namespace portpath::io
