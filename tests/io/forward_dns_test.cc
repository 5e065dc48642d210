#include "probe/io/forward_dns.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>

namespace portpath::io {
namespace {

using packet::IpAddress;
using State = ForwardDnsAnswer::State;
using namespace std::chrono_literals;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// How long a test waits for something that should happen at once; reached
// only when the code under test is broken, so it bounds a hang, it does not
// time anything.
constexpr auto kHang = 5s;

// A scripted host resolver: names answer from a table, and any name can be
// held by closing its gate (the lookup then blocks on a condition variable
// until the test opens it). Held by shared_ptr and captured by value, so a
// worker the destructor detached can still use it after the test body ends.
// Thread-safe: one mutex, and the condition variable the test waits on too.
class FakeResolver {
 public:
  void SetAddress(const std::string& host, const IpAddress& address) {
    std::lock_guard lock(mu_);
    answers_[host] = address;
  }
  void SetFailure(const std::string& host, std::string error) {
    std::lock_guard lock(mu_);
    answers_.erase(host);
    errors_[host] = std::move(error);
  }
  void Hold(const std::string& host) {
    std::lock_guard lock(mu_);
    held_.insert(host);
  }
  void Release(const std::string& host) {
    {
      std::lock_guard lock(mu_);
      held_.erase(host);
    }
    cv_.notify_all();
  }
  /// Waits until at least n lookups of host have started; false after kHang.
  bool WaitStarted(const std::string& host, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kHang, [&] { return started_[host] >= n; });
  }
  int calls(const std::string& host) {
    std::lock_guard lock(mu_);
    return started_[host];
  }
  int total_calls() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [host, count] : started_) n += count;
    return n;
  }
  std::vector<FamilyFilter> families(const std::string& host) {
    std::lock_guard lock(mu_);
    return families_[host];
  }

  std::optional<IpAddress> Lookup(const std::string& host, FamilyFilter family,
                                  std::string& error) {
    std::unique_lock lock(mu_);
    ++started_[host];
    families_[host].push_back(family);
    cv_.notify_all();
    cv_.wait(lock, [&] { return held_.count(host) == 0; });
    auto it = answers_.find(host);
    if (it != answers_.end()) return it->second;
    auto e = errors_.find(host);
    error =
        e != errors_.end() ? e->second : "cannot resolve " + host + ": Name or service not known";
    return std::nullopt;
  }

  static ForwardDns::LookupFn Fn(const std::shared_ptr<FakeResolver>& fake) {
    return [fake](const std::string& host, FamilyFilter family, std::string& error) {
      return fake->Lookup(host, family, error);
    };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, IpAddress> answers_;
  std::map<std::string, std::string> errors_;
  std::set<std::string> held_;
  std::map<std::string, int> started_;
  std::map<std::string, std::vector<FamilyFilter>> families_;
};

// A steady clock the test moves by hand. Thread-safe (an atomic), since the
// workers read it when they store an answer.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms = std::make_shared<std::atomic<std::int64_t>>(0);
  void Advance(std::chrono::milliseconds d) { *ms += d.count(); }
  ForwardDns::Clock Fn() const {
    return [ms = ms] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms->load()));
    };
  }
};

constexpr auto kMaxAge = std::chrono::seconds(30);
constexpr auto kAny = FamilyFilter::kAny;

// Looks the name up until its lookup has answered (Wait), then once more.
ForwardDnsAnswer Answered(ForwardDns& dns, const std::string& host,
                          FamilyFilter family = FamilyFilter::kAny) {
  dns.Lookup(host, family, kMaxAge);
  EXPECT_TRUE(dns.Wait(host, family, std::chrono::duration_cast<std::chrono::milliseconds>(kHang)));
  return dns.Lookup(host, family, kMaxAge);
}

TEST(ForwardDnsTest, FirstLookupIsPendingThenTheAnswerIsCached) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("db.example", Ip("192.0.2.10"));
  FakeClock clock;
  ForwardDns dns({}, FakeResolver::Fn(fake), clock.Fn());

  fake->Hold("db.example");
  EXPECT_EQ(dns.Lookup("db.example", kAny, kMaxAge).state, State::kPending);
  ASSERT_TRUE(fake->WaitStarted("db.example", 1));
  fake->Release("db.example");
  ASSERT_TRUE(dns.Wait("db.example", kAny, 5000ms));

  ForwardDnsAnswer a = dns.Lookup("db.example", kAny, kMaxAge);
  EXPECT_EQ(a.state, State::kAddress);
  EXPECT_EQ(a.address, Ip("192.0.2.10"));
  EXPECT_FALSE(a.stale);
  EXPECT_EQ(fake->calls("db.example"), 1);
}

TEST(ForwardDnsTest, CachedAnswerIsReturnedWithoutWaitingForTheResolver) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("db.example", Ip("192.0.2.10"));
  FakeClock clock;
  ForwardDns dns({}, FakeResolver::Fn(fake), clock.Fn());
  ASSERT_EQ(Answered(dns, "db.example").state, State::kAddress);

  // Were Lookup to call the resolver, it would now block until Release.
  fake->Hold("db.example");
  clock.Advance(29s);
  auto lookup = std::async(std::launch::async, [&] {
    std::vector<ForwardDnsAnswer> answers;
    answers.reserve(100);
    for (int i = 0; i < 100; ++i) answers.push_back(dns.Lookup("db.example", kAny, kMaxAge));
    return answers;
  });
  ASSERT_EQ(lookup.wait_for(kHang), std::future_status::ready);
  for (const ForwardDnsAnswer& a : lookup.get()) {
    EXPECT_EQ(a.state, State::kAddress);
    EXPECT_EQ(a.address, Ip("192.0.2.10"));
    EXPECT_FALSE(a.stale);
  }
  EXPECT_EQ(fake->calls("db.example"), 1);
  EXPECT_EQ(dns.pending(), 0u);
  fake->Release("db.example");
}

TEST(ForwardDnsTest, SlowNameDoesNotBlockOtherNames) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("slow.example", Ip("192.0.2.1"));
  fake->SetAddress("fast.example", Ip("192.0.2.2"));
  fake->SetAddress("db.example", Ip("2001:db8::10"));
  ForwardDns dns({}, FakeResolver::Fn(fake));
  ASSERT_EQ(Answered(dns, "db.example").state, State::kAddress);

  fake->Hold("slow.example");
  EXPECT_EQ(dns.Lookup("slow.example", kAny, kMaxAge).state, State::kPending);
  ASSERT_TRUE(fake->WaitStarted("slow.example", 1));

  // A new name is looked up by another worker, and a cached one is answered
  // from the cache, both while the slow lookup is still blocked.
  ForwardDnsAnswer fast = Answered(dns, "fast.example");
  EXPECT_EQ(fast.state, State::kAddress);
  EXPECT_EQ(fast.address, Ip("192.0.2.2"));
  EXPECT_EQ(dns.Lookup("db.example", kAny, kMaxAge).address, Ip("2001:db8::10"));
  EXPECT_EQ(dns.Lookup("slow.example", kAny, kMaxAge).state, State::kPending);

  fake->Release("slow.example");
  EXPECT_EQ(Answered(dns, "slow.example").address, Ip("192.0.2.1"));
  EXPECT_EQ(fake->calls("slow.example"), 1);
}

TEST(ForwardDnsTest, StaleAnswerIsUsedAndTriggersOneRefreshNotMany) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("db.example", Ip("192.0.2.10"));
  FakeClock clock;
  ForwardDns dns({}, FakeResolver::Fn(fake), clock.Fn());
  ASSERT_EQ(Answered(dns, "db.example").address, Ip("192.0.2.10"));

  fake->SetAddress("db.example", Ip("192.0.2.33"));
  fake->Hold("db.example");
  clock.Advance(30s);
  for (int i = 0; i < 50; ++i) {
    ForwardDnsAnswer a = dns.Lookup("db.example", kAny, kMaxAge);
    EXPECT_EQ(a.state, State::kAddress);
    EXPECT_EQ(a.address, Ip("192.0.2.10"));  // the last known address, at once
    EXPECT_TRUE(a.stale);
  }
  ASSERT_TRUE(fake->WaitStarted("db.example", 2));
  EXPECT_EQ(dns.pending(), 1u);

  // A stale answer never times out: it stays usable while the refresh hangs.
  clock.Advance(60s);
  EXPECT_EQ(dns.Lookup("db.example", kAny, kMaxAge).address, Ip("192.0.2.10"));

  fake->Release("db.example");
  ASSERT_TRUE(dns.Wait("db.example", kAny, 5000ms));
  ForwardDnsAnswer a = dns.Lookup("db.example", kAny, kMaxAge);
  EXPECT_EQ(a.address, Ip("192.0.2.33"));
  EXPECT_FALSE(a.stale);
  EXPECT_EQ(fake->calls("db.example"), 2);
}

TEST(ForwardDnsTest, MaxAgeIsTheCallersChoice) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("db.example", Ip("192.0.2.10"));
  FakeClock clock;
  ForwardDns dns({}, FakeResolver::Fn(fake), clock.Fn());
  ASSERT_EQ(Answered(dns, "db.example").state, State::kAddress);

  clock.Advance(999ms);
  EXPECT_FALSE(dns.Lookup("db.example", kAny, 1s).stale);
  EXPECT_EQ(dns.pending(), 0u);
  clock.Advance(1ms);
  EXPECT_TRUE(dns.Lookup("db.example", kAny, 1s).stale);
  ASSERT_TRUE(dns.Wait("db.example", kAny, 5000ms));
  EXPECT_EQ(fake->calls("db.example"), 2);
}

TEST(ForwardDnsTest, FailureIsReportedWithTheResolversReason) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetFailure("nowhere.invalid", "cannot resolve nowhere.invalid: Name or service not known");
  FakeClock clock;
  ForwardDns dns({}, FakeResolver::Fn(fake), clock.Fn());

  ForwardDnsAnswer a = Answered(dns, "nowhere.invalid");
  EXPECT_EQ(a.state, State::kFailed);
  EXPECT_EQ(a.error, "cannot resolve nowhere.invalid: Name or service not known");
  EXPECT_FALSE(a.address);
  // A fresh failure is not asked again...
  EXPECT_EQ(dns.Lookup("nowhere.invalid", kAny, kMaxAge).state, State::kFailed);
  EXPECT_EQ(fake->calls("nowhere.invalid"), 1);

  // ...a stale one is, and is pending (not the old failure) until it answers.
  fake->Hold("nowhere.invalid");
  clock.Advance(kMaxAge);
  EXPECT_EQ(dns.Lookup("nowhere.invalid", kAny, kMaxAge).state, State::kPending);
  fake->SetAddress("nowhere.invalid", Ip("192.0.2.7"));
  fake->Release("nowhere.invalid");
  ASSERT_TRUE(dns.Wait("nowhere.invalid", kAny, 5000ms));
  EXPECT_EQ(dns.Lookup("nowhere.invalid", kAny, kMaxAge).address, Ip("192.0.2.7"));
  EXPECT_EQ(fake->calls("nowhere.invalid"), 2);
}

TEST(ForwardDnsTest, AddressReplacedByAFailureIsReportedAsTheFailure) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("db.example", Ip("192.0.2.10"));
  FakeClock clock;
  ForwardDns dns({}, FakeResolver::Fn(fake), clock.Fn());
  ASSERT_EQ(Answered(dns, "db.example").state, State::kAddress);

  fake->SetFailure("db.example", "cannot resolve db.example: Name or service not known");
  clock.Advance(kMaxAge);
  EXPECT_TRUE(dns.Lookup("db.example", kAny, kMaxAge).stale);
  ASSERT_TRUE(dns.Wait("db.example", kAny, 5000ms));
  ForwardDnsAnswer a = dns.Lookup("db.example", kAny, kMaxAge);
  EXPECT_EQ(a.state, State::kFailed);
  EXPECT_EQ(a.error, "cannot resolve db.example: Name or service not known");
}

TEST(ForwardDnsTest, ThrowingLookupCountsAsFailure) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  ForwardDns dns(
      {}, [calls](const std::string&, FamilyFilter, std::string&) -> std::optional<IpAddress> {
        ++*calls;
        throw std::runtime_error("resolver exploded");
      });

  ForwardDnsAnswer a = Answered(dns, "db.example");
  EXPECT_EQ(a.state, State::kFailed);
  EXPECT_EQ(a.error, "cannot resolve db.example: resolver exploded");
  EXPECT_EQ(*calls, 1);
}

TEST(ForwardDnsTest, NameWithNoAnswerTimesOutButIsNotQueuedAgain) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("slow.example", Ip("192.0.2.1"));
  FakeClock clock;
  ForwardDnsOptions options;
  options.timeout = 5000ms;
  ForwardDns dns(options, FakeResolver::Fn(fake), clock.Fn());

  fake->Hold("slow.example");
  EXPECT_EQ(dns.Lookup("slow.example", kAny, kMaxAge).state, State::kPending);
  ASSERT_TRUE(fake->WaitStarted("slow.example", 1));
  clock.Advance(4999ms);
  EXPECT_EQ(dns.Lookup("slow.example", kAny, kMaxAge).state, State::kPending);
  clock.Advance(1ms);
  ForwardDnsAnswer a = dns.Lookup("slow.example", kAny, kMaxAge);
  EXPECT_EQ(a.state, State::kTimedOut);
  EXPECT_EQ(a.error, "resolving slow.example timed out");
  clock.Advance(60s);
  EXPECT_EQ(dns.Lookup("slow.example", kAny, kMaxAge).state, State::kTimedOut);
  EXPECT_EQ(fake->calls("slow.example"), 1);
  EXPECT_EQ(dns.pending(), 1u);

  // When the stuck lookup finally answers, the answer is used.
  fake->Release("slow.example");
  ASSERT_TRUE(dns.Wait("slow.example", kAny, 5000ms));
  EXPECT_EQ(dns.Lookup("slow.example", kAny, kMaxAge).address, Ip("192.0.2.1"));
}

TEST(ForwardDnsTest, QueueIsBoundedWhileNamesStaySlow) {
  auto fake = std::make_shared<FakeResolver>();
  ForwardDnsOptions options;
  options.max_in_flight = 2;
  options.max_pending = 4;
  ForwardDns dns(options, FakeResolver::Fn(fake));
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    names.push_back("slow" + std::to_string(i) + ".example");
    fake->SetAddress(names.back(), IpAddress::V4(0xC0000200u + i));  // 192.0.2.i
    fake->Hold(names.back());
  }

  // Every name asked for many times over, as rounds would while DNS hangs.
  std::vector<ForwardDnsAnswer> answers;
  for (int round = 0; round < 50; ++round)
    for (const std::string& name : names) answers.push_back(dns.Lookup(name, kAny, kMaxAge));
  ASSERT_TRUE(fake->WaitStarted(names[0], 1));
  ASSERT_TRUE(fake->WaitStarted(names[1], 1));

  EXPECT_EQ(dns.pending(), 4u);
  EXPECT_EQ(fake->total_calls(), 2);  // one per worker, each name once
  for (std::size_t i = 0; i < names.size(); ++i) {
    const ForwardDnsAnswer& a = answers[i];
    if (i < 4) {
      EXPECT_EQ(a.state, State::kPending) << names[i];
    } else {
      EXPECT_EQ(a.state, State::kFailed) << names[i];
      EXPECT_EQ(a.error, "resolving " + names[i] + ": too many names waiting for DNS");
    }
  }

  // Once the slow names answer, the queue drains and other names get their turn.
  for (const std::string& name : names) fake->Release(name);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(dns.Wait(names[i], kAny, 5000ms));
  EXPECT_EQ(dns.pending(), 0u);
  EXPECT_EQ(Answered(dns, names[10]).address, IpAddress::V4(0xC0000200u + 10));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(fake->calls(names[i]), 1) << names[i];
}

TEST(ForwardDnsTest, CacheEvictsTheLeastRecentlyUsed) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("a.example", Ip("192.0.2.1"));
  fake->SetAddress("b.example", Ip("192.0.2.2"));
  fake->SetAddress("c.example", Ip("192.0.2.3"));
  ForwardDnsOptions options;
  options.cache_size = 2;
  ForwardDns dns(options, FakeResolver::Fn(fake));

  Answered(dns, "a.example");
  Answered(dns, "b.example");
  dns.Lookup("a.example", kAny, kMaxAge);  // a is now the most recent
  Answered(dns, "c.example");

  EXPECT_EQ(dns.cached(), 2u);
  EXPECT_EQ(dns.Lookup("a.example", kAny, kMaxAge).address, Ip("192.0.2.1"));
  EXPECT_EQ(dns.Lookup("c.example", kAny, kMaxAge).address, Ip("192.0.2.3"));
  EXPECT_EQ(dns.Lookup("b.example", kAny, kMaxAge).state, State::kPending);  // evicted
  EXPECT_EQ(fake->calls("a.example"), 1);
}

TEST(ForwardDnsTest, EachFamilyIsItsOwnName) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("db.example", Ip("192.0.2.10"));
  ForwardDns dns({}, FakeResolver::Fn(fake));

  Answered(dns, "db.example", FamilyFilter::kIpv4);
  Answered(dns, "db.example", FamilyFilter::kIpv6);
  Answered(dns, "db.example", FamilyFilter::kIpv4);

  EXPECT_EQ(fake->families("db.example"),
            (std::vector<FamilyFilter>{FamilyFilter::kIpv4, FamilyFilter::kIpv6}));
}

TEST(ForwardDnsTest, DestructorReturnsPromptlyWhileALookupIsBlocked) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetAddress("hung.example", Ip("192.0.2.1"));
  fake->Hold("hung.example");
  ForwardDnsOptions options;
  options.timeout = 30ms;
  auto dns = std::make_unique<ForwardDns>(options, FakeResolver::Fn(fake));
  dns->Lookup("hung.example", kAny, kMaxAge);
  ASSERT_TRUE(fake->WaitStarted("hung.example", 1));

  auto destroyed = std::async(std::launch::async, [&] { dns.reset(); });
  EXPECT_EQ(destroyed.wait_for(kHang), std::future_status::ready);
  // The detached worker finishes against state that outlived the object.
  fake->Release("hung.example");
}

TEST(ForwardDnsTest, DefaultLookupIsResolveHost) {
  ForwardDns dns;
  ForwardDnsAnswer a = Answered(dns, "192.0.2.55", FamilyFilter::kIpv4);
  EXPECT_EQ(a.state, State::kAddress);
  EXPECT_EQ(a.address, Ip("192.0.2.55"));
  a = Answered(dns, "192.0.2.55", FamilyFilter::kIpv6);
  EXPECT_EQ(a.state, State::kFailed);
  EXPECT_EQ(a.error, "address 192.0.2.55 is not of the requested family");
}

}  // namespace
}  // namespace portpath::io
